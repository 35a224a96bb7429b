"""Where a file lives: its canonical path or URL and the fsspec filesystem that reaches it.

A :class:`Location` is cheap and picklable: the filesystem is created on first use and is
never pickled, so a location sent to another process reconnects there with its own client.
Errors from fsspec and the cloud SDKs are turned into :mod:`octstore.errors` by
:func:`translate_errors`, with the URL and a way out in the message.
"""

from __future__ import annotations

import mimetypes
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import fsspec
from fsspec.core import split_protocol, url_to_fs

from octstore.chains import (
    CHAIN,
    chained_protocols,
    split_chain,
    strip_protocol,
    unchained_url_to_fs,
)
from octstore.errors import (
    AccessDeniedError,
    BackendError,
    BackendNotInstalledError,
    InvalidPathError,
    NotFoundError,
    OctstoreError,
)
from octstore.path_objects import PathArgument, read_path
from octstore.protocols import canonical, lookup, refuse_misspelt_url
from octstore.redaction import get_logger, redact, remember_secrets
from octstore.relative_paths import relative_path

__all__ = ["Location", "content_type", "relative_path", "translate_errors"]

# Exceptions of optional SDKs, recognised by name so that octstore never imports them itself.
_NO_CREDENTIALS = frozenset(
    {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError", "RefreshError"}
    | {"CredentialUnavailableError"}  # azure-identity's
)
_log = get_logger(__name__)
#: The chain of a URL without one (shared: one per location adds up in a large dataset).
_UNCHAINED = ("", "")


class Location:
    """A local path or fsspec URL, made canonical.

    Args:
        path: A local path (``data/x.csv``, ``~/x.csv``, ``file:///x.csv``, a
            ``pathlib.Path``), a URL (``s3://bucket/key``, ``memory://dir/x``, ...), a
            ``upath.UPath``, a ``cloudpathlib.CloudPath`` or an fsspec ``(filesystem, path)``
            pair (see :mod:`octstore.path_objects`).
        storage_options: Keyword arguments for the fsspec filesystem (credentials, endpoint),
            merged over the path object's own: a key given here wins.

    Attributes:
        url: An absolute local path for local files, else ``protocol://path``. A chained
            URL (``simplecache::s3://b/k``, ``zip://member::/a.zip``) keeps its chain, and
            resolves as fsspec resolves it; its first link is the file.
        protocol: ``file`` for local files, else the URL's (first link's) protocol, in its
            canonical spelling (``gcs`` reads as ``gs``; see :mod:`octstore.protocols`).
        storage_options: As given; never shown in ``repr`` since it may hold secrets.
    """

    __slots__ = ("_chain", "_fs", "_fs_path", "protocol", "storage_options", "url")

    url: str
    protocol: str
    storage_options: dict[str, Any]

    def __init__(self, path: PathArgument, storage_options: dict[str, Any] | None = None):
        raw, own_options, fs = read_path(path)
        before, link, after = split_chain(raw)
        protocol, rest = split_protocol(link)
        self.storage_options = {**own_options, **(storage_options or {})}
        remember_secrets(self.storage_options)  # hidden from any text that quotes them
        remember_secrets(raw)
        # A pair's filesystem is used as given, unless other options ask for another.
        keep = fs is not None and self.storage_options == own_options
        self._fs: Any = fs if keep else None
        self._fs_path: str | None = fs._strip_protocol(raw) if keep else None  # type: ignore[union-attr]
        self._chain = (before, after) if before or after else _UNCHAINED
        if lookup(protocol).local and not (before or after):
            refuse_misspelt_url(link)  # s3:/bucket/key is a typo, not a local path
            self.protocol = "file"
            self.url = os.path.abspath(os.path.expanduser(rest))
            return
        # A chain's filesystem is its first link's: ``simplecache`` in simplecache::s3://b/k.
        outer = before.partition(CHAIN)[0] if before else protocol
        self.protocol = canonical(outer or "file")
        # Fail now, naming the fix, if a protocol of the URL (of any link) is unusable.
        for link_protocol in {outer, protocol, *chained_protocols(before, after)} - {None}:
            _filesystem_class(canonical(link_protocol))
        if buckets := lookup(protocol).buckets:
            buckets.check(raw, rest)
        # The URL keeps everything after the protocol, a host included (ftp://host/dir/x):
        # the filesystem's own path for it (``fs_path``) may drop the host.
        self.url = f"{before}{canonical(protocol or 'file')}://{rest.lstrip('/')}{after}"

    @property
    def _link(self) -> str:
        """The link of the URL that names the file, without the filesystems it goes through:
        the first (``zip://member::/a.zip``) or, after bare protocols, the last
        (``simplecache::s3://b/k``)."""
        before, after = self._chain
        return self.url[len(before) : len(self.url) - len(after)]

    def _with_link(self, link: str) -> str:
        before, after = self._chain
        return f"{before}{link}{after}"

    @property
    def is_local(self) -> bool:
        """Whether this is a file on the local filesystem."""
        return self.protocol == "file"

    @property
    def is_read_only(self) -> bool:
        """Whether the filesystem cannot write (``http://``, archives, ...)."""
        return lookup(self.protocol).read_only

    @property
    def name(self) -> str:
        """The last part of the path."""
        if self.is_local:
            return os.path.basename(self.url)
        link = self._link.partition("?")[0] if self.protocol in _WEB else self._link
        return link.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> str:
        """The path or URL of the directory holding this file."""
        if self.is_local:
            return os.path.dirname(self.url)
        return self._with_link(self._link.rstrip("/").rsplit("/", 1)[0])

    def sibling(self, name: str) -> Location:
        """The location of ``name`` in the same directory, with the same storage options."""
        if self.is_local:
            return Location(os.path.join(self.parent, name), self.storage_options)
        folder = self._link.rstrip("/").rsplit("/", 1)[0]
        return Location(self._with_link(f"{folder}/{name}"), self.storage_options)

    def child(self, relative: str) -> Location:
        """The location of ``relative`` (``/``-separated) inside this directory or prefix."""
        if self.is_local:
            return Location(os.path.join(self.url, *relative.split("/")), self.storage_options)
        return Location(
            self._with_link(f"{self._link.rstrip('/')}/{relative}"), self.storage_options
        )

    def listed(self, path: str) -> Location:
        """The location of ``path``, a file this directory's filesystem listed under it, with
        the same storage options (shared): a local one made without parsing it again, since
        a dataset's listing makes one per file."""
        if not self.is_local:
            return Location(self.fs.unstrip_protocol(path), self.storage_options)
        location = Location.__new__(Location)
        # (a listing's local paths are absolute and normal already where ``/`` is the separator)
        location.url = path if os.sep == "/" and path.startswith("/") else os.path.abspath(path)
        location.protocol = "file"
        location.storage_options = self.storage_options
        location._chain = _UNCHAINED
        location._fs = self._fs
        location._fs_path = None
        return location

    def derived_id(self) -> uuid.UUID:
        """The id of a file or dataset here whose id is not stored yet: a UUID5 of the
        canonical URL (a local path resolved), so that every read of it agrees until a
        write stores one."""
        url = f"file://{os.path.realpath(self.url)}" if self.is_local else self.url
        return uuid.uuid5(uuid.NAMESPACE_URL, url)

    def relative_to(self, root: Location) -> str:
        """This location's path inside ``root``, ``/``-separated.

        Raises:
            ValueError: If it is not inside ``root``.
        """
        if self.is_local and root.is_local:
            relative = os.path.relpath(self.url, root.url)
            if relative == os.curdir or relative.startswith(os.pardir):
                raise ValueError(f"{self.url} is not inside {root.url}")
            return relative.replace(os.sep, "/")
        prefix = root._link.rstrip("/") + "/"
        same_filesystem = self.protocol == root.protocol and self._chain == root._chain
        if not same_filesystem or not self._link.startswith(prefix):
            raise ValueError(f"{self.url} is not inside {root.url}")
        return self._link[len(prefix) :]

    def filesystem_class(self) -> type[Any]:
        """The fsspec filesystem class for this protocol.

        Raises:
            BackendNotInstalledError: If it needs an optional extra that is not installed.
            OctstoreError: If fsspec does not know the protocol.
        """
        return _filesystem_class(self.protocol)

    @property
    def fs(self) -> Any:
        """The fsspec filesystem, created on first use by fsspec's own ``url_to_fs`` (which
        reuses equal instances, takes connection arguments from the URL, and resolves
        chains)."""
        if self._fs is None:
            self.filesystem_class()
            with translate_errors(self.url, "connecting to"):
                # (fsspec would split a name holding "::" as a chain)
                to_fs = url_to_fs if any(self._chain) else unchained_url_to_fs
                self._fs, self._fs_path = to_fs(self.url, **self.storage_options)
        return self._fs

    @property
    def fs_path(self) -> str:
        """The path as the filesystem wants it (no protocol)."""
        if self.is_local:
            return self.url
        if self._fs_path is None:
            if any(self._chain):
                self.fs  # noqa: B018  # the chain's path is known once it is resolved
            else:
                self._fs_path = strip_protocol(self.filesystem_class(), self.url)
        assert self._fs_path is not None
        return self._fs_path

    def __getstate__(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "protocol": self.protocol,
            "storage_options": self.storage_options,
            "chain": self._chain,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url = state["url"]
        self.protocol = state["protocol"]
        self.storage_options = state["storage_options"]
        self._chain = tuple(state.get("chain", _UNCHAINED))
        self._fs = None
        self._fs_path = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    def __repr__(self) -> str:
        return redact(f"Location({self.url!r})")

    def __str__(self) -> str:
        return self.url


#: Protocols whose URLs may end in a query (a signed URL's), which is not part of the name.
_WEB = ("http", "https")


def _filesystem_class(protocol: str) -> type[Any]:
    """fsspec's filesystem class for ``protocol``, or an octstore error naming the fix."""
    try:
        cls: type[Any] = fsspec.get_filesystem_class(protocol)
    except ImportError as error:
        extra = lookup(protocol).extra
        fix = f"pip install 'octstore[{extra}]'" if extra else str(error)
        raise BackendNotInstalledError(
            f"{protocol}:// needs a package that is not installed: {fix}"
        ) from error
    except ValueError as error:
        known = ", ".join(sorted(fsspec.available_protocols()))
        raise InvalidPathError(
            f"unknown protocol {protocol!r}: use a local path or one of {known}"
        ) from error
    return cls


@contextmanager
def translate_errors(url: str, action: str) -> Iterator[None]:
    """Re-raise errors of fsspec and the cloud SDKs as octstore errors naming ``url``.

    Args:
        url: The path or URL the operation concerned.
        action: What was being done, as a verb phrase: ``"reading"``, ``"writing"``, ...
    """
    _log.debug("%s %s", action, url)
    protocol = lookup(split_protocol(url)[0])
    try:
        yield
    except OctstoreError:
        raise
    except FileNotFoundError as error:
        if protocol.buckets and protocol.buckets.says_missing(error):
            raise protocol.buckets.missing(url) from error
        raise NotFoundError(
            f"{url} does not exist ({action} it failed: {_reason(error)}); check the path, "
            "the bucket name and the storage options"
        ) from error
    except PermissionError as error:
        hint, keywords = protocol.credentials_fix()
        message = (
            f"{action} {url} was refused ({_reason(error)}): {hint or 'check its permissions'}"
        )
        raise AccessDeniedError(message, keywords=keywords) from error
    except TypeError as error:
        if "unexpected keyword argument" not in str(error):
            raise
        raise OctstoreError(
            f"{action} {url} failed: the filesystem does not take a storage option given "
            f"({_reason(error)}); check the storage options"
        ) from error
    except Exception as error:
        if type(error).__name__ in _NO_CREDENTIALS:
            hint, keywords = protocol.credentials_fix()
            message = f"no credentials for {action} {url}: {hint}"
            raise AccessDeniedError(message, keywords=keywords) from error
        if not _is_backend_failure(error):
            raise
        if protocol.local:
            hint = "check the path, the disk and its permissions"
        else:
            hint = "check the network, the endpoint_url and the service's status, then try again"
        raise BackendError(
            f"{action} {url} failed ({type(error).__name__}: {_reason(error)}): {hint}"
        ) from error


#: The top-level packages of the SDKs and filesystems whose errors are the backend's failures.
_SDK_MODULES = frozenset(
    {"botocore", "aiobotocore", "aiohttp", "gcsfs", "s3fs", "google", "requests", "azure", "adlfs"}
)


def _is_backend_failure(error: BaseException) -> bool:
    """Whether ``error`` is an I/O, network or SDK failure (not a bug, not bad input)."""
    if isinstance(error, (OSError, TimeoutError)):
        return True
    module = type(error).__module__.split(".")[0]
    return module in _SDK_MODULES


def _reason(error: BaseException) -> str:
    """Why ``error`` happened, on one line; an OS error's reason without its file name (a temp
    file's, maybe: the message names the path concerned)."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        return error.strerror
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def content_type(name: str) -> str:
    """The type a browser should see for a file called ``name``; a compressed file
    (``x.csv.gz``) is not its content's type but ``application/octet-stream``."""
    guessed, encoding = mimetypes.guess_type(name, strict=False)
    return guessed if guessed and not encoding else "application/octet-stream"
