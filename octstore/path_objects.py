"""The path objects users hold, read as a URL and the storage options that reach it.

octstore takes, wherever it takes a location:

- a ``str``: a local path or an fsspec URL, chained URLs included
  (``simplecache::s3://b/k``, ``zip://member::/a.zip``);
- an ``os.PathLike`` (``pathlib.Path``, ...): a local path;
- a ``upath.UPath``: its URL, with its protocol and storage options;
- a ``cloudpathlib.CloudPath``: its URL, with what its client's settings can be read as
  (see :func:`cloud_path_options`);
- an fsspec ``(filesystem, path)`` pair: that filesystem, and its storage options.

Anything else is refused with :class:`~octstore.errors.InvalidArgumentError` (also a
``TypeError``) naming its type: an object is never taken for a local path by its ``str()``.
universal_pathlib and cloudpathlib are never imported here: an object can only be one of
theirs if its package is imported already.
"""

from __future__ import annotations

import os
import reprlib
import sys
from typing import Any, NamedTuple, Union
from urllib.parse import urlsplit

from fsspec import AbstractFileSystem

from octstore.errors import InvalidArgumentError, OctstoreError

__all__ = ["PathArgument", "PathObject", "cloud_path_options", "is_path", "read_path"]

#: What a location may be given as (``UPath`` and ``CloudPath`` are ``os.PathLike`` to a type
#: checker; an fsspec filesystem is untyped).
PathArgument = Union[str, "os.PathLike[str]", "tuple[AbstractFileSystem, str]"]

_TAKEN = (
    "a str path or URL, an os.PathLike local path, a upath.UPath, a cloudpathlib.CloudPath "
    "or an fsspec (filesystem, path) pair"
)


class PathObject(NamedTuple):
    """A path object as octstore reads it.

    Attributes:
        url: A local path or an fsspec URL, not yet made canonical.
        storage_options: The object's own options for the fsspec filesystem (credentials,
            endpoint), empty for a ``str`` or a local path.
        fs: The filesystem the object came with (an fsspec pair's), or None.
    """

    url: str
    storage_options: dict[str, Any]
    fs: AbstractFileSystem | None = None


def read_path(path: object) -> PathObject:
    """Read ``path``, any object octstore takes as a location (see the module's docstring).

    Raises:
        InvalidArgumentError: If ``path`` is none of them; the message names its type.
        OctstoreError: If it is empty or holds a NUL character.
    """
    if isinstance(path, str):
        return PathObject(_text(path), {})
    if _is_a(path, "upath", "UPath"):
        url = _text(str(path))
        options = dict(path.storage_options)  # type: ignore[attr-defined]
        return PathObject(url, _chained(options) if "::" in url else options)
    if _is_a(path, "cloudpathlib", "CloudPath"):
        return PathObject(_text(str(path)), cloud_path_options(path))
    if isinstance(path, tuple) and len(path) == 2 and isinstance(path[0], AbstractFileSystem):
        fs, inner = path
        if not isinstance(inner, str):
            raise InvalidArgumentError(
                f"the path of an fsspec (filesystem, path) pair is a str, not "
                f"{type(inner).__name__}: pass ({type(fs).__name__}(...), '/dir/file')"
            )
        return PathObject(_text(fs.unstrip_protocol(inner)), dict(fs.storage_options), fs)
    if isinstance(path, os.PathLike):
        local = os.fspath(path)
        if isinstance(local, str):
            return PathObject(_text(local), {})
    kind = type(path)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    raise InvalidArgumentError(
        f"path {reprlib.repr(path)} is a {name}, which octstore does not take as a location "
        f"(it never guesses one from str()): pass {_TAKEN}"
    )


def is_path(path: object) -> bool:
    """Whether ``path`` is of a type :func:`read_path` takes (it may still be empty)."""
    try:
        read_path(path)
    except InvalidArgumentError:
        return False
    except OctstoreError:
        return True
    return True


def _is_a(path: object, package: str, name: str) -> bool:
    """Whether ``path`` is an instance of ``package.name``, without importing ``package``."""
    module = sys.modules.get(package)
    return module is not None and isinstance(path, getattr(module, name))


def _chained(options: dict[str, Any]) -> dict[str, Any]:
    """A chained UPath's storage options as fsspec's ``url_to_fs`` takes them: each inner
    link's options under its protocol's name, not nested in ``target_options``."""
    outer = dict(options)
    protocol, inner = outer.pop("target_protocol", None), outer.pop("target_options", None)
    while protocol:
        inner = dict(inner or {})
        outer[protocol] = inner
        protocol, inner = inner.pop("target_protocol", None), inner.pop("target_options", None)
    return outer


def _text(raw: str) -> str:
    if not raw.strip():
        raise OctstoreError("path '' is empty: pass a local path or a URL such as s3://b/k")
    if "\0" in raw:
        raise OctstoreError(f"path {raw!r} holds a NUL character, which no file name can")
    return raw


def cloud_path_options(path: Any) -> dict[str, Any]:
    """The fsspec storage options that reach what ``path``, a ``cloudpathlib.CloudPath``, names
    as its client does, where they can be read from the client.

    - ``S3Client``: the endpoint (unless it is AWS's own), the region, the addressing style,
      unsigned requests (``no_sign_request``, as ``anon``), the credentials it was given
      (``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``) and its
      profile. Credentials boto3 found by itself (environment, config files, instance roles)
      are not copied: s3fs finds them through the same chain, and keeps refreshing them.
    - ``GSClient``: the project, the credentials object (anonymous as ``token="anon"``) and
      the API endpoint (an emulator's, say) unless it is Google's own.
    - Other clients (Azure, HTTP): nothing; pass ``storage_options=``.

    Never carried over: cloudpathlib's own settings (its local cache and ``file_cache_mode``,
    ``content_type_method``), boto3's ``extra_args`` (server-side encryption, ACLs ...),
    transfer, retry, timeout and proxy configuration, and a custom ``requests``/``boto3``
    session's other settings. Give those to the filesystem with ``storage_options=``.

    Raises:
        InvalidArgumentError: For a path of cloudpathlib's local test clients, whose files are
            in a local folder and not where the URL says.
    """
    client = path.client
    kind = type(client).__name__
    if kind.startswith("Local"):
        raise InvalidArgumentError(
            f"{path} is a {type(path).__name__} of cloudpathlib's {kind}, whose files live in "
            f"a local folder, not at {path}: pass that folder's path instead"
        )
    if kind == "S3Client":
        return _s3_options(client)
    if kind == "GSClient":
        return _gs_options(client)
    return {}


def _s3_options(client: Any) -> dict[str, Any]:
    boto = client.client  # the boto3 S3 client cloudpathlib made
    options: dict[str, Any] = {}
    endpoint = boto.meta.endpoint_url
    if endpoint and not (urlsplit(endpoint).hostname or "").endswith(".amazonaws.com"):
        options["endpoint_url"] = endpoint
    if boto.meta.region_name:
        options["client_kwargs"] = {"region_name": boto.meta.region_name}
    if boto.meta.config.s3:
        options["config_kwargs"] = {"s3": dict(boto.meta.config.s3)}
    if str(boto.meta.config.signature_version) == "UNSIGNED":
        return {**options, "anon": True}
    credentials = client.sess.get_credentials()
    if credentials is not None and credentials.method == "explicit":
        frozen = credentials.get_frozen_credentials()
        options.update(key=frozen.access_key, secret=frozen.secret_key)
        if frozen.token:
            options["token"] = frozen.token
    elif client.sess.profile_name not in (None, "default"):
        options["profile"] = client.sess.profile_name
    return options


def _gs_options(client: Any) -> dict[str, Any]:
    storage = client.client  # the google.cloud.storage.Client cloudpathlib made
    options: dict[str, Any] = {}
    if storage.project and storage.project != "<none>":
        options["project"] = storage.project
    # The client has no public name for its credentials.
    credentials = storage._credentials
    anonymous = type(credentials).__name__ == "AnonymousCredentials"
    options["token"] = "anon" if anonymous else credentials
    endpoint = getattr(storage, "api_endpoint", None)
    if endpoint and urlsplit(endpoint).hostname != "storage.googleapis.com":
        options["endpoint_url"] = endpoint
    return options
