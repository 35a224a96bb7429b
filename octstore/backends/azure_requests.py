"""What Azure Blob Storage requests and responses mean to octstore: containers and blob names,
the ``octstore_*`` metadata keys Azure takes, blob properties as a state, SDK errors as
octstore's, and the conditional requests adlfs makes no public call for (uploads and metadata
updates under ``If-Match``, a download pinned to an ETag).

adlfs reaches Azure through the SDK's asynchronous ``BlobServiceClient`` on fsspec's event
loop (``fs.service_client``, public): every request here is made on that client, beside
adlfs's own, sharing its connections and credentials.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import posixpath
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fsspec.callbacks import Callback

from octstore.backends import ObjectState
from octstore.backends import object_metadata as keys_codec
from octstore.errors import IntegrityError, InvalidPathError, NotFoundError
from octstore.hashing import Crc32c
from octstore.location import Location
from octstore.metadata import Metadata

#: Azure's limit on a blob's metadata: bytes of every name and value.
METADATA_LIMIT = 8192

#: The ``octstore-*`` keys as Azure spells them: metadata names must be C# identifiers, so
#: ``octstore-labels`` is refused and ``octstore_labels`` taken (its case kept).
AZURE_KEYS = {key: key.replace("-", "_") for key in keys_codec.octstore_keys}
_OCTSTORE_KEYS = {azure: key for key, azure in AZURE_KEYS.items()}

#: Bytes read from a download's body at a time, and hashed at a time.
_CHUNK = 2**17
#: An upload larger than this goes in blocks of this size (a progress bar moves after each).
_BLOCK = 8 * 2**20
#: Blocks of one upload sent at once (at most this many blocks' bytes in memory).
_BLOCKS_AT_ONCE = 4


def blob_name(location: Location) -> tuple[str, str]:
    """The container and the blob name of ``location``.

    Raises:
        NotFoundError: If it names no blob (a container, or nothing).
        InvalidPathError: If adlfs or Azure would take it for another blob's name: adlfs
            drops a tab, CR or LF, a ``?`` or ``#`` that ends it, and a ``?`` just before a
            ``#`` (an empty query or fragment, as Python's URL parsing reads them); Azure
            reads a backslash as ``/``.
    """
    container, blob, _ = location.fs.split_path(location.fs_path)
    link = location.url.split("://", 1)[-1]
    in_account = "@" in link.split("/", 1)[0]  # abfs://container@account.dfs.core.windows.net/
    if "\\" in location.url or (not in_account and link != location.fs_path):
        raise InvalidPathError(
            f"{location.url!r} would name another blob, {location.fs_path!r} (adlfs drops a "
            "tab, CR or LF, a '?' or '#' that ends a name, and a '?' just before a '#'; "
            "Azure reads a backslash as '/'): rename it without them"
        )
    if not container:
        raise NotFoundError(f"{location.url} names no container: use az://CONTAINER/BLOB")
    if not blob:
        raise NotFoundError(f"{location.url} is a container, not a blob: name a blob in it")
    return str(container), str(blob)


def forget_listing(location: Location) -> None:
    """Drop what adlfs cached of ``location``'s folder (its ``info`` answers from a cached
    listing of the folder, which another writer may have changed since)."""
    location.fs.invalidate_cache(location.fs_path)
    location.fs.invalidate_cache(posixpath.dirname(location.fs_path))


def blob_client(location: Location) -> Any:
    """The SDK's asynchronous client of ``location``'s blob, on adlfs's connections."""
    container, blob = blob_name(location)
    return location.fs.service_client.get_blob_client(container, blob)


def quoted(etag: str) -> str:
    """An ETag as Azure's headers carry it (listings give it without the quotes)."""
    return f'"{etag.strip(chr(34))}"'


def version_token(md5: bytes | bytearray | None, etag: str) -> str:
    """A blob's content version: its Content-MD5, which a metadata update leaves as it is
    (the ETag moves with every change); the ETag for a blob without one (uploaded in
    blocks by a tool that gave none)."""
    if md5:
        return "md5:" + base64.b64encode(bytes(md5)).decode("ascii")
    return quoted(etag)


def file_md5(path: str, crc32c: str, url: str) -> bytes:
    """The MD5 digest of the local file ``path``, once the CRC32C taken in the same read is
    seen to be ``crc32c``, the caller's (else it changed since: ``IntegrityError``)."""
    digest, crc = hashlib.md5(usedforsecurity=False), Crc32c()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK * 8):
            digest.update(chunk)
            crc.update(chunk)
    if crc.b64digest() != crc32c:
        raise IntegrityError.changed_while_uploaded(path, url)
    return digest.digest()


def octstore_spelling(keys: Mapping[str, Any]) -> dict[str, Any]:
    """Blob metadata with octstore's keys as :mod:`octstore.backends.object_metadata` spells
    them (``octstore_labels`` -> ``octstore-labels``; Azure keeps a name's case, and
    HTTP headers lower-case it); other keys as they are."""
    return {_OCTSTORE_KEYS.get(key.lower(), key): value for key, value in keys.items()}


def to_azure(keys: Mapping[str, str]) -> dict[str, str]:
    """``octstore-*`` keys (and others' keys, as they are) spelt as Azure takes them."""
    return {AZURE_KEYS.get(key, key): value for key, value in keys.items()}


def blob_state(
    location: Location, properties: Mapping[str, Any], *, read_sidecar: bool = True
) -> ObjectState:
    """The state a blob's properties describe (the SDK's ``BlobProperties``, or adlfs's info
    of a listed blob), reading the sidecar blob if the metadata spilled and ``read_sidecar``.
    """
    stored: Mapping[str, str] = properties.get("metadata") or {}
    keys = octstore_spelling(stored)
    spilled = keys_codec.is_spilled(keys)
    metadata = keys_codec.decode(keys, location)
    if metadata is not None and spilled and read_sidecar:
        forget_listing(location)  # adlfs would answer from a listing it may have cached
        metadata = keys_codec.read_spilled(location, metadata)
    settings = properties.get("content_settings") or {}
    etag = quoted(str(properties["etag"]))
    return ObjectState(
        size=int(properties.get("size") or 0),
        version_token=version_token(settings.get("content_md5"), etag),
        crc32c=keys.get(keys_codec.CRC32C),
        metadata=metadata,
        details={
            "etag": etag,
            "content_type": settings.get("content_type"),
            "foreign_metadata": {
                key: value for key, value in stored.items() if key.lower() not in _OCTSTORE_KEYS
            },
            "spilled": spilled,
        },
    )


def written_state(
    previous: ObjectState | None,
    response: Mapping[str, Any],
    size: int,
    token: str | None,
    metadata: Metadata,
    crc32c: str | None,
    details: Mapping[str, Any],
) -> ObjectState:
    """The state a write's ``response`` leaves: its ETag, with ``token`` the content's
    version (None: unchanged from ``previous``, or the new ETag if that one had no MD5)."""
    etag = quoted(str(response["etag"]))
    if token is None:
        kept = previous.version_token if previous is not None else ""
        token = kept if kept.startswith("md5:") else etag
    return ObjectState(size, token, crc32c, metadata, {**details, "etag": etag})


# --- errors --------------------------------------------------------------------------------


def _status(error: BaseException) -> int | None:
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def error_code(error: BaseException) -> str:
    return str(getattr(error, "error_code", "") or "")


def is_md5_mismatch(error: BaseException) -> bool:
    """Whether Azure refused content whose MD5 is not the Content-MD5 given (Azure says
    ``Md5Mismatch``; Azurite 3.35, ``InvalidOperation`` with a message that says so)."""
    return error_code(error) == "Md5Mismatch" or "contentMD5 doesn't match" in str(error)


def is_conflict(error: BaseException) -> bool:
    """Whether ``error`` is a failed precondition: 412 (``If-Match``; a lease another writer
    holds), or 409 ``BlobAlreadyExists`` (a create-only write)."""
    return _status(error) == 412 or (
        _status(error) == 409 and "BlobAlreadyExists" in error_code(error)
    )


def is_missing(error: BaseException) -> bool:
    """Whether ``error`` is Azure's 404 (no such blob, or no such container)."""
    return _status(error) == 404


@contextmanager
def sdk_errors(location: Location) -> Iterator[None]:
    """Read the SDK's errors as the builtins that :func:`octstore.location.translate_errors`
    turns into octstore's: 404 as ``FileNotFoundError``, 401/403 (and adlfs's refusal to
    start without credentials) as ``PermissionError``.
    (adlfs reads every error as ``FileNotFoundError``, a refused key and a lost connection
    alike; octstore asks the SDK and tells them apart.) Preconditions are the callers'."""
    try:
        yield
    except (FileNotFoundError, PermissionError):
        raise
    except ValueError as error:  # adlfs, made without a connection string or an account
        if "credentials" not in str(error):
            raise
        raise PermissionError(f"no credentials: {str(error).splitlines()[0]}") from error
    except Exception as error:
        status = _status(error)
        if status == 404:
            what = "container" if "Container" in error_code(error) else "blob"
            raise FileNotFoundError(f"no such {what} ({error_code(error) or 404})") from error
        if status in (401, 403) or type(error).__name__ == "ClientAuthenticationError":
            raise PermissionError(
                f"Azure refused the request ({error_code(error) or status})"
            ) from error
        raise


def if_match(etag: str | None, *, missing: bool = False) -> dict[str, Any]:
    """The SDK's keywords for "only if the blob is still at ``etag``" (none for None), or
    with ``missing``, "only if there is no blob"."""
    if etag is None and not missing:
        return {}
    from azure.core import MatchConditions

    if missing:
        return {"match_condition": MatchConditions.IfMissing}
    return {"etag": etag, "match_condition": MatchConditions.IfNotModified}


def content_settings(content_type: str, md5: bytes | None) -> Any:
    from azure.storage.blob import ContentSettings

    return ContentSettings(content_type=content_type, content_md5=bytearray(md5) if md5 else None)


async def upload(
    location: Location,
    source: str,
    metadata: Mapping[str, str],
    settings: Any,
    *,
    etag: str | None,
    create: bool,
    lease: Any = None,
    callback: Any = None,
) -> dict[str, Any]:
    """One upload of ``source`` with ``metadata``: only if the blob is absent (``create``),
    else only if still at ``etag`` (if given), holding ``lease`` (the SDK's lease client) if
    given; bytes sent told to ``callback``.

    Up to ``_BLOCK`` bytes go in one request, whose Content-MD5 (in ``settings``) Azure
    checks; more go in blocks (the callback told after each), committed only if what was
    sent has that MD5, which Azure stores for a block list without checking it.

    Raises:
        IntegrityError: If ``source`` changed while it was sent; nothing was written.
    """
    client = blob_client(location)
    size = os.path.getsize(source)
    callback = callback or Callback()
    callback.set_size(size)
    options = {"metadata": dict(metadata), "content_settings": settings, "lease": lease}
    with open(source, "rb") as body:
        if size <= _BLOCK:
            response: dict[str, Any] = await client.upload_blob(
                body, length=size, overwrite=not create, **options, **if_match(etag)
            )
            callback.absolute_update(size)
            return response
        blocks = await _staged(location, client, body, settings, lease, callback)
    conditions = if_match(etag, missing=create)
    return dict(await client.commit_block_list(blocks, **options, **conditions))


async def _staged(
    location: Location, client: Any, body: Any, settings: Any, lease: Any, callback: Any
) -> list[Any]:
    """``body`` staged as blocks of ``client``'s blob under ids of this upload alone (another
    writer's blocks never mix in), :data:`_BLOCKS_AT_ONCE` at a time, each hashed as it is
    sent."""
    from azure.storage.blob import BlobBlock

    prefix, digest, sent = uuid.uuid4().hex, hashlib.md5(usedforsecurity=False), 0
    blocks: list[Any] = []
    sending: set[asyncio.Future[None]] = set()

    async def stage(block_id: str, chunk: bytes) -> None:
        nonlocal sent
        await client.stage_block(block_id, chunk, length=len(chunk), lease=lease)
        sent += len(chunk)
        callback.absolute_update(sent)

    try:
        while True:
            if len(sending) >= _BLOCKS_AT_ONCE:  # a slot first: no more blocks held than sent
                done, sending = await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    finished.result()  # a failed block fails the upload now
            if not (chunk := body.read(_BLOCK)):
                break
            block_id = base64.b64encode(f"{prefix}-{len(blocks):06d}".encode()).decode()
            digest.update(chunk)
            blocks.append(BlobBlock(block_id))
            sending.add(asyncio.ensure_future(stage(block_id, chunk)))
        await asyncio.gather(*sending)
    except BaseException:
        for unfinished in sending:
            unfinished.cancel()
        raise
    if settings.content_md5 and digest.digest() != bytes(settings.content_md5):
        raise IntegrityError.changed_while_uploaded(body.name, location.url)
    return blocks


async def set_metadata(
    location: Location, metadata: Mapping[str, str], etag: str, lease: Any = None
) -> dict[str, Any]:
    """Replace the blob's metadata, only if it is still at ``etag`` (holding ``lease``, the
    SDK's lease client, if given)."""
    response: dict[str, Any] = await blob_client(location).set_blob_metadata(
        dict(metadata), lease=lease, **if_match(etag)
    )
    return response


async def properties(location: Location) -> Any:
    """The blob's ``BlobProperties``: one ``HEAD``."""
    return await blob_client(location).get_blob_properties()


async def download(location: Location, etag: str, target: str, callback: Any = None) -> None:
    """The blob's content at exactly ``etag``, streamed to the file ``target``; an fsspec
    ``callback`` is told each chunk's bytes."""
    stream = await blob_client(location).download_blob(**if_match(etag))
    with open(target, "wb") as file:
        async for chunk in stream.chunks():
            file.write(chunk)
            if callback is not None:
                callback.relative_update(len(chunk))


async def read(
    location: Location, etag: str | None, start: int = 0, end: int | None = None
) -> bytes:
    """Bytes ``start`` up to ``end`` (None: the end) of the blob, at ``etag`` if given."""
    length = None if end is None else end - start
    if length == 0:
        return b""
    offset = start if start or length is not None else None
    stream = await blob_client(location).download_blob(
        offset=offset, length=length, **if_match(etag)
    )
    data: bytes = await stream.readall()
    return data


async def delete(location: Location) -> None:
    await blob_client(location).delete_blob()


def same_content(state: ObjectState | None, read: ObjectState) -> bool:
    """Whether ``state`` (None: the blob is gone) has the content of the state ``read``."""
    return state is not None and state.version_token == read.version_token
