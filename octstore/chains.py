"""Chained URLs (``simplecache::s3://b/k``, ``zip://member::/a.zip``), read as fsspec reads
them, and names that only look like one.

``::`` joins links only where the filesystem before it reads through another: an archive
(``zip``, ``tar``), a cache (``simplecache``, ``blockcache``), ``dir``, ``reference``,
``async_wrapper``... Its constructor takes the next link as ``fo`` or ``target_protocol``.
Anywhere else ``::`` is part of a name: ``s3://b/v1::v2/x.csv`` is one key,
``/data/a::b.csv`` one local file. (A relative name that starts with a protocol and ``:``,
``data::v2.csv`` say, is read as fsspec reads it, a ``data:`` URL: write ``./data::v2.csv``.)
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

import fsspec
import fsspec.core
from fsspec.core import split_protocol

__all__ = ["CHAIN", "chained_protocols", "split_chain", "strip_protocol", "unchained_url_to_fs"]

#: What separates the links of a chained URL (``simplecache::s3://b/k``).
CHAIN = "::"
#: The constructor arguments of a filesystem that reads through another.
_TARGET_ARGUMENTS = frozenset({"fo", "target_protocol"})
#: A link fsspec takes for a bare protocol: one word of lower-case letters.
_BARE_PROTOCOL = re.compile("[a-z]+")
#: Stands for ``::`` while a filesystem strips a URL's protocol: some (memory) leave a path
#: holding ``::`` as it is, taking it for a chain. A name cannot hold NUL.
_STAND_IN = "\0"


def split_chain(url: str) -> tuple[str, str, str]:
    """``url`` as (the links before the one naming the file, that link, the links after),
    as fsspec reads chains: ``zip://member::/a.zip`` names ``member`` in its first link,
    ``simplecache::s3://b/k`` names ``b/k`` in its last, after bare protocols. A URL whose
    first link reads through nothing is one link, ``::`` and all."""
    links = url.split(CHAIN)
    if len(links) == 1:
        return "", url, ""
    if "://" not in links[0]:  # bare protocols first: a known one, or a lone word of a-z
        bare = links[0] in fsspec.available_protocols() or _BARE_PROTOCOL.fullmatch(links[0])
        if not (bare and _reads_through(links[0])):
            return "", url, ""
        return CHAIN.join(links[:-1]) + CHAIN, links[-1], ""
    protocol = split_protocol(links[0])[0]
    if protocol is None or not _reads_through(protocol):
        return "", url, ""
    return "", links[0], CHAIN + CHAIN.join(links[1:])


def chained_protocols(before: str, after: str) -> list[str | None]:
    """The protocols of a chain's other links: the bare ones before the link naming the file
    (``simplecache``), and those of the URLs after it (``s3`` in ``zip://m::s3://b/a.zip``;
    None for a local path)."""
    bare = [link for link in before.split(CHAIN) if link]
    return [*bare, *(split_protocol(link)[0] for link in after.split(CHAIN) if link)]


def unchained_url_to_fs(url: str, **options: Any) -> tuple[Any, str]:
    """fsspec's ``url_to_fs`` (its options, per-protocol ones included) for a URL of one
    link, whose name may hold ``::``."""
    fs, path = fsspec.core.url_to_fs(url.replace(CHAIN, _STAND_IN), **options)
    return fs, str(path).replace(_STAND_IN, CHAIN)


def strip_protocol(cls: Any, url: str) -> str:
    """The path the filesystem class ``cls`` uses for ``url``, a URL of one link whose name
    may hold ``::``."""
    path: str = cls._strip_protocol(url.replace(CHAIN, _STAND_IN))
    return path.replace(_STAND_IN, CHAIN)


@functools.cache
def _reads_through(protocol: str) -> bool:
    """Whether ``protocol``'s filesystem reads through another. True for a protocol fsspec
    cannot load, so that the chain's own check names the fix."""
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError):
        return True
    return any(
        _TARGET_ARGUMENTS & inspect.signature(base.__init__).parameters.keys()
        for base in cls.__mro__
        if "__init__" in vars(base)
    )
