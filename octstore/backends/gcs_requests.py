"""What GCS requests and responses mean to octstore: buckets and keys, generation and
metageneration preconditions, an object resource read as a state, and the uploads and pinned
downloads gcsfs has no public call for (one multipart or resumable upload carrying the
metadata, a GET of one generation)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import quote

from fsspec.callbacks import Callback
from gcsfs.retry import HttpError, retry_request, validate_response

from octstore.backends import ObjectState, octue
from octstore.backends.object_metadata import decode, is_spilled, read_spilled, stores_id
from octstore.errors import ConflictError, IntegrityError, NotFoundError
from octstore.location import Location
from octstore.metadata import Metadata

#: GCS's limit on an object's custom metadata: UTF-8 bytes of every key and value.
METADATA_LIMIT = 8192


#: Files larger than this are uploaded in chunks (a resumable upload), never read whole.
RESUMABLE_THRESHOLD = 32 * 2**20


# Each chunk but the last must be a multiple of 256 KiB.
_CHUNK_SIZE = 8 * 2**20


#: Bytes read from a download's body at a time (gcsfs reads 128 KiB).
_DOWNLOAD_CHUNK = 2**17


def _bucket_and_key(location: Location) -> tuple[str, str]:
    bucket, key, _ = location.fs.split_path(location.fs_path)
    if not key:
        raise NotFoundError(f"{location.url} is a bucket, not an object: name an object in it")
    return str(bucket), str(key)


def _resource_if(
    location: Location, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    """The object's resource, read afresh, if it is ``wanted``; else None."""
    bucket, key = _bucket_and_key(location)
    location.fs.invalidate_cache(location.fs_path)
    try:
        found: dict[str, Any] = location.fs.call("GET", "b/{}/o/{}", bucket, key, json_out=True)
    except FileNotFoundError:
        return None
    return found if wanted(found) else None


def _holds(custom: Mapping[str, str], patch: Mapping[str, str | None]) -> bool:
    """Whether custom metadata ``custom`` is what applying ``patch`` makes it."""
    return all(custom.get(key) == value for key, value in patch.items())


def _may_have_spilled(previous: ObjectState | None) -> bool:
    """Whether the object in state ``previous`` (None: unknown) may have a sidecar object."""
    return previous is None or bool(previous.details.get("spilled", True))


def _preconditions(if_matches: ObjectState | None, if_absent: bool) -> dict[str, str]:
    """Create only (``if_absent``), else only if still at ``if_matches`` (if given)."""
    if if_absent:
        return {"ifGenerationMatch": "0"}
    if if_matches is not None:
        preconditions = {"ifGenerationMatch": str(if_matches.details["generation"])}
        # The generation alone misses a metadata-only change (a PATCH bumps only the
        # metageneration), which the new content's metadata would silently overwrite.
        metageneration = if_matches.details.get("metageneration")
        if metageneration not in (None, "None"):
            preconditions["ifMetagenerationMatch"] = str(metageneration)
        return preconditions
    return {}


def _listing_version(resource: Mapping[str, Any]) -> str:
    """What a listing shows of an object (its resource, or a state's details): its generation
    and metageneration, which every change of content or metadata moves."""
    return f"{resource['generation']}.{resource.get('metageneration')}"


def stored_metadata(
    location: Location, custom: Mapping[str, str | None] | None, *, read_sidecar: bool
) -> Metadata | None:
    """The metadata in an object's custom metadata: octstore's keys, else octue's; keys
    without an id (another tool's) only where neither holds one, under the id derived from
    ``location``. Metadata that spilled is read from the sidecar object if ``read_sidecar``.
    """
    present = {key: value for key, value in (custom or {}).items() if value is not None}
    metadata = None
    if stores_id(present) or not octue.stores_id(present):
        metadata = decode(present, location)
    if metadata is None:
        return octue.from_gcs_metadata(present, location)
    if read_sidecar and is_spilled(present):
        return read_spilled(location, metadata)
    return metadata


def _state(resource: Mapping[str, Any], metadata: Metadata | None) -> ObjectState:
    """The state an object resource describes, with ``metadata`` already read."""
    return ObjectState(
        size=int(resource.get("size") or 0),
        version_token=str(resource["generation"]),
        crc32c=resource.get("crc32c"),
        metadata=metadata,
        details={
            "generation": str(resource["generation"]),
            "metageneration": str(resource.get("metageneration")),
            "contentType": resource.get("contentType"),
            "updated": resource.get("updated"),
            "spilled": is_spilled(resource.get("metadata") or {}),
        },
    )


@contextmanager
def _upload_errors(location: Location, source: str, if_absent: bool) -> Iterator[None]:
    """Turn GCS's answers to a failed upload into octstore errors naming ``location``."""
    try:
        yield
    except FileExistsError:  # gcsfs's reading of 412 Precondition Failed
        if if_absent:
            raise ConflictError.created_meanwhile(location.url, source) from None
        raise ConflictError.content_changed(location.url, source) from None
    except (HttpError, ValueError) as error:
        if "crc32c" not in str(error).lower():
            raise
        # GCS refused content that does not have the CRC32C taken before
        raise IntegrityError.changed_while_uploaded(source, location.url) from error


class _OtherVersion(Exception):
    """GCS answered a pinned download with a version other than the one asked for."""


def _remove(path: str) -> None:
    with suppress(OSError):
        os.remove(path)


@retry_request(retries=6)  # type: ignore[untyped-decorator]  # as gcsfs's downloads
async def _download(
    fs: Any, url: str, version: tuple[str, str | None], target: str, callback: Any = None
) -> None:
    """GET ``url`` (pinned to the ``(generation, crc32c)`` of ``version``) on gcsfs's
    session; stream the body to ``target``, telling an fsspec ``callback`` each chunk."""
    generation, crc32c = version
    # gcsfs's public requests (``call``) read the whole body, so this streams on gcsfs's own
    # session, signed and billed as gcsfs's requests are. Private, and the one place that
    # needs them: ``_set_session`` opens the session (and returns it), ``_get_params`` adds
    # ``userProject`` for requester-pays buckets, ``_get_headers`` the credentials. If they
    # change, every GCS download fails (tests/test_backend_gcs.py, ``nox -s oldest``).
    session = await fs._set_session()
    async with session.get(
        url=url,
        params=fs._get_params({"generation": generation}),
        headers=fs._get_headers(None),
        timeout=fs.requests_timeout,
    ) as response:
        if response.status >= 400:
            validate_response(response.status, await response.read(), url)
        sent_generation = response.headers.get("x-goog-generation")
        if sent_generation is not None and sent_generation != generation:
            raise _OtherVersion(sent_generation)
        hashes = dict(
            part.strip().split("=", 1)
            for part in response.headers.get("x-goog-hash", "").split(",")
            if "=" in part
        )
        if crc32c is not None and hashes.get("crc32c", crc32c) != crc32c:
            raise _OtherVersion(hashes["crc32c"])
        with open(target, "wb") as file:
            while chunk := await response.content.read(_DOWNLOAD_CHUNK):
                file.write(chunk)
                if callback is not None:
                    callback.relative_update(len(chunk))


def _upload_url(fs: Any, bucket: str) -> str:
    """The JSON API's upload endpoint for ``bucket``, on the host of gcsfs's ``base`` (its
    ``.../storage/v1/``: Google's, the emulator's or ``endpoint_url``)."""
    root = fs.base.removesuffix("storage/v1/")
    return f"{root}upload/storage/v1/b/{quote(bucket, safe='')}/o"


def upload(
    fs: Any,
    bucket: str,
    resource: Mapping[str, Any],
    source: str,
    params: Mapping[str, str],
    callback: Callback,
) -> dict[str, Any]:
    """Upload the local file ``source`` as the object ``resource`` describes, with the
    preconditions ``params``: over :data:`RESUMABLE_THRESHOLD` bytes in chunks, each told to
    ``callback`` once GCS has it; else in one request."""
    if os.path.getsize(source) > RESUMABLE_THRESHOLD:
        return _resumable_upload(fs, bucket, resource, source, params, callback)
    return _multipart_upload(fs, bucket, resource, source, params)


def _multipart_upload(
    fs: Any, bucket: str, resource: Mapping[str, Any], source: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """Content and object resource in one ``multipart/related`` request."""
    boundary = f"octstore-{uuid.uuid4().hex}"
    with open(source, "rb") as file:
        content = file.read()
    # CRLF throughout (RFC 2046): the CRLF before a boundary belongs to the boundary, so
    # content that itself ends in "\r" or "\n" keeps it. (gcsfs's bare "\n" loses a final
    # "\r" to parsers that read "\r\n" as the delimiter's line break.)
    body = b"".join(
        [
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
            json.dumps(resource).encode(),
            f"\r\n--{boundary}\r\nContent-Type: {resource['contentType']}\r\n\r\n".encode(),
            content,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    uploaded: dict[str, Any] = fs.call(
        "POST",
        _upload_url(fs, bucket),
        uploadType="multipart",
        headers={"Content-Type": f'multipart/related; boundary="{boundary}"'},
        data=body,
        json_out=True,
        **params,
    )
    return uploaded


def _resumable_upload(
    fs: Any,
    bucket: str,
    resource: Mapping[str, Any],
    source: str,
    params: Mapping[str, str],
    callback: Callback,
) -> dict[str, Any]:
    """A resumable upload: the object resource first, then the content chunk by chunk."""
    size = os.path.getsize(source)
    headers, _ = fs.call(
        "POST",
        _upload_url(fs, bucket),
        uploadType="resumable",
        json=dict(resource),
        headers={"X-Upload-Content-Type": resource["contentType"]},
        **params,
    )
    session = headers["Location"]
    try:
        with open(source, "rb") as file:
            offset = 0
            while True:
                chunk = file.read(_CHUNK_SIZE)
                if not chunk and offset < size:
                    raise OSError(f"{source} shrank while it was uploaded: write it again")
                end = offset + len(chunk)
                headers, body = fs.call(
                    "POST",
                    session,
                    headers={
                        "Content-Range": f"bytes {offset}-{end - 1}/{size}",
                        "Content-Length": str(len(chunk)),
                        "Content-Type": resource["contentType"],
                    },
                    data=chunk,
                )
                if end >= size:
                    uploaded: dict[str, Any] = json.loads(body)
                    return uploaded
                # 308 Resume Incomplete: GCS says how much it kept; resend the rest.
                committed = headers.get("Range")
                offset = int(committed.rsplit("-", 1)[1]) + 1 if committed else 0
                callback.absolute_update(offset)
                file.seek(offset)
    except BaseException:
        with suppress(Exception):  # cancel the session so GCS forgets the partial content
            fs.call("DELETE", session)
        raise


def rewrite(
    source: Location,
    source_state: ObjectState,
    destination: Location,
    keys: Mapping[str, str],
    params: Mapping[str, str],
) -> dict[str, Any]:
    """Copy the version ``source_state`` of ``source`` to ``destination`` inside GCS (no
    content crosses the wire), with custom metadata ``keys``, in one conditional request
    (repeated with GCS's token for an object too large to copy in one): ``params`` are the
    destination's preconditions.

    Raises:
        ConflictError: If a precondition failed, or ``source`` is no longer at
            ``source_state``; nothing was written.
    """
    source_bucket, source_key = _bucket_and_key(source)
    bucket, key = _bucket_and_key(destination)
    body = {"metadata": dict(keys), "contentType": source_state.details.get("contentType")}
    query = {**params, "ifSourceGenerationMatch": str(source_state.details["generation"])}
    answer: dict[str, Any] = {}
    while not answer.get("done"):
        token = {"rewriteToken": answer["rewriteToken"]} if answer.get("rewriteToken") else {}
        try:
            answer = destination.fs.call(
                "POST",
                "b/{}/o/{}/rewriteTo/b/{}/o/{}",
                source_bucket,
                source_key,
                bucket,
                key,
                json_out=True,
                json=body,
                **query,
                **token,
            )
        except FileExistsError:  # gcsfs's reading of 412 Precondition Failed
            raise ConflictError(
                f"{destination.url} (or its source {source.url}) changed since it was read: "
                "nothing was copied; read them again and copy again",
                path=destination.url,
            ) from None
    resource: dict[str, Any] = answer["resource"]
    if (resource.get("metadata") or {}) != keys:  # a server that kept the source's metadata
        patch = dict.fromkeys(resource.get("metadata") or {}) | dict(keys)
        resource = destination.fs.call(
            "PATCH",
            "b/{}/o/{}",
            bucket,
            key,
            json_out=True,
            json={"metadata": patch},
            ifGenerationMatch=resource["generation"],
            ifMetagenerationMatch=resource["metageneration"],
        )
    destination.fs.invalidate_cache(destination.fs_path)
    return resource
