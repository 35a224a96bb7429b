"""Metadata in Azure Blob Storage's blob metadata, written with the content (``az://``,
``abfs://``, through adlfs).

A blob written by octstore carries the ``octstore-*`` keys of
:mod:`octstore.backends.object_metadata`, spelt as Azure takes them (metadata names must be
C# identifiers): ``octstore_id``, ``octstore_timestamp``, ``octstore_labels``,
``octstore_tags``, ``octstore_crc32c`` (the content's CRC32C, so that its hash is known
without a download: Azure's Content-MD5 is not one) and ``octstore_sidecar``. So:

- :meth:`AzureBackend.stat` is one ``HEAD`` of the blob (Get Blob Properties);
- :meth:`AzureBackend.list` is the listing alone: it carries every blob's metadata;
- :meth:`AzureBackend.put` is one upload carrying content and metadata, conditional on the
  ETag read (``If-Match``), or create-only (``If-None-Match: *``);
- :meth:`AzureBackend.write_metadata` is one Set Blob Metadata under ``If-Match``.

Azure's ETag moves with every change, of the content or of the metadata alone, so one
precondition sees any other writer: changes are applied to the metadata read, written under
its ETag and, if the blob changed meanwhile, applied again to what it holds then. A blob's
version token is its Content-MD5 (octstore gives one with each upload), which a metadata
update leaves as it is.

Metadata beyond Azure's 8 KB spills into the sidecar blob ``.<name>.octstore.json``, written
after the blob, which keeps its id, hash and ``octstore_sidecar: 1``.
"""

from __future__ import annotations

import os
from contextlib import suppress
from typing import Any

from fsspec.asyn import sync
from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore.backends import Known, Listed, MetadataBackend, ObjectState, listing
from octstore.backends import azure_requests as requests
from octstore.backends import azure_spill as spill
from octstore.backends import object_metadata as keys_codec
from octstore.backends.azure_listing import list_blobs
from octstore.backends.azure_pinned import pinned
from octstore.backends.azure_requests import (
    METADATA_LIMIT,
    blob_state,
    forget_listing,
    is_conflict,
    is_missing,
    same_content,
    sdk_errors,
    written_state,
)
from octstore.buckets import AZURE_CONTAINERS
from octstore.errors import ConflictError, IntegrityError, NotFoundError
from octstore.location import Location, content_type, translate_errors
from octstore.metadata import Metadata
from octstore.metadata.changes import MetadataUpdate, as_changes, attempts

__all__ = ["METADATA_LIMIT", "AzureBackend"]


class AzureBackend(MetadataBackend):
    """octstore metadata as Azure blob metadata, spilling into a sidecar blob beyond 8 KB."""

    atomic_metadata = True
    versioned_writes = True  # put returns the version of what it wrote, from the response
    reads_version_ranges = True  # a ranged GET under If-Match
    checks_sent_content = True  # Content-MD5 of one request; blocks hashed as sent
    async_downloads = True

    def metadata_location(self, location: Location, state: ObjectState) -> str:
        """The blob's own metadata (and its sidecar blob, if it spilled)."""
        if state.details.get("spilled"):
            return keys_codec.describe_location(location, state)
        return "blob metadata (octstore_* keys)"

    def stat(self, location: Location) -> ObjectState:
        """The blob's state from one ``HEAD`` (plus the sidecar blob, if it spilled);
        ``NotFoundError`` if it or its container does not exist."""
        return self._read(location, read_sidecar=True)

    def _read(self, location: Location, *, read_sidecar: bool) -> ObjectState:
        with translate_errors(location.url, "reading"), sdk_errors(location):
            found = sync(location.fs.loop, requests.properties, location)
            return blob_state(location, found, read_sidecar=read_sidecar)

    def _read_or_none(self, location: Location, *, read_sidecar: bool) -> ObjectState | None:
        try:
            return self._read(location, read_sidecar=read_sidecar)
        except NotFoundError:
            return None

    def list(
        self, location: Location, *, recursive: bool = True, known: Known | None = None
    ) -> list[Listed]:
        """Every blob under the prefix with its metadata, from the listing alone (one request
        per 5,000 blobs, plus a read per spilled sidecar not ``known``); the listing version
        is the ETag."""
        listed: list[Listed] = []
        with translate_errors(location.url, "listing"), sdk_errors(location):
            infos = sync(location.fs.loop, list_blobs, location, recursive=recursive)
            for child, info in listing(location, recursive=recursive, listed=infos)[0]:
                version = requests.quoted(str(info["etag"]))
                if known and child.url in known and known[child.url][0] == version:
                    listed.append((child, known[child.url][1], version))
                    continue
                listed.append((child, blob_state(child, info), version))
        return listed

    def listing_version(self, location: Location, state: ObjectState) -> str | None:
        """The ETag, which every state carries."""
        etag = state.details.get("etag")
        return str(etag) if etag else None

    def put(
        self,
        location: Location,
        source: str,
        metadata: MetadataUpdate,
        *,
        crc32c: str,
        if_matches: ObjectState | None = None,
        if_absent: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
    ) -> ObjectState:
        """Upload ``source`` (left in place) with its metadata in one request (in blocks,
        committed at once, if it is large), with its Content-MD5.

        The metadata is applied to that of the state read (``if_matches``, else read
        afresh) and written under its ETag; if the blob changed meanwhile, changes (or
        whole metadata without ``if_matches``) are applied again to what it holds now and
        the upload retried; with ``if_matches``, only if its content did not change.

        Raises:
            ConflictError: If ``if_absent`` and the blob exists, or ``if_matches`` and its
                content changed (with whole metadata: or its metadata); nothing was written
                and ``source`` keeps the content.
            NotFoundError: If the container does not exist.
        """
        changes = as_changes(metadata)
        retries = not if_absent and (if_matches is None or not changes.replaces)
        with translate_errors(location.url, "writing"):
            md5 = requests.file_md5(source, crc32c, location.url)
            basis = if_matches if if_matches is not None and "etag" in if_matches.details else None
            if basis is None and not if_absent:
                basis = self._read_or_none(location, read_sidecar=not changes.replaces)
                if if_matches is not None and not same_content(basis, if_matches):
                    raise ConflictError.content_changed(location.url, source)
            for attempt in attempts():
                stored = basis.metadata if basis is not None else None
                new = changes.apply(stored)
                try:
                    if not spill.needs_lease(basis, spill.spills(location, new, basis)):
                        return self._put(
                            location, source, new, crc32c, md5, basis, callback=callback
                        )
                    with spill.leased(location) as lease:
                        current = self._read(location, read_sidecar=not changes.replaces)
                        spill.check_leased(location, source, if_matches, current, changes.replaces)
                        new = changes.apply(current.metadata)
                        return self._put(
                            location, source, new, crc32c, md5, current, lease, callback
                        )
                except ConflictError:
                    if not retries or attempt.last:
                        raise
                except FileNotFoundError as error:  # deleted before its lease was taken: create it
                    if AZURE_CONTAINERS.says_missing(error) or (attempt.last and not if_matches):
                        raise
                    if if_matches is not None:
                        raise ConflictError.content_changed(location.url, source) from None
                fresh = self._read_or_none(location, read_sidecar=not changes.replaces)
                if if_matches is not None and not same_content(fresh, if_matches):
                    raise ConflictError.content_changed(location.url, source)
                basis = fresh
        raise AssertionError("unreachable")  # pragma: no cover

    def _put(
        self,
        location: Location,
        source: str,
        metadata: Metadata,
        crc32c: str,
        md5: bytes,
        basis: ObjectState | None,
        lease: Any = None,
        callback: Callback = DEFAULT_CALLBACK,
    ) -> ObjectState:
        """One upload of ``source`` with ``metadata``: if the blob is still at ``basis``
        (its ETag), or absent if ``basis`` is None; holding ``lease`` if given."""
        details = basis.details if basis is not None else {}
        foreign = dict(details.get("foreign_metadata", {}))
        keys, spilled = spill.blob_metadata(location, metadata, crc32c, foreign)
        document = keys_codec.spilled_document(metadata if spilled else None)
        mime = details.get("content_type") or content_type(location.name)
        settings = requests.content_settings(mime, md5)
        if basis is None:
            conflict = ConflictError.created_meanwhile(location.url, source)
        else:
            conflict = ConflictError.content_changed(location.url, source)
        size = os.path.getsize(source)
        etag = details.get("etag")
        try:
            with sdk_errors(location):
                try:
                    response = sync(
                        location.fs.loop,
                        requests.upload,
                        location,
                        source,
                        keys,
                        settings,
                        etag=etag,
                        create=basis is None,
                        lease=lease,
                        callback=callback,
                    )
                except Exception as error:
                    if is_conflict(error) or (basis is not None and is_missing(error)):
                        raise conflict from error
                    if requests.is_md5_mismatch(error):  # the file changed since it was hashed
                        raise IntegrityError.changed_while_uploaded(source, location.url) from error
                    raise
        except ConflictError:
            # An upload that the SDK retried after its response was lost fails its own
            # precondition if the first attempt went through: no conflict, if the blob
            # holds exactly what was being written.
            response = self._holding(location, size, requests.version_token(md5, ""), keys)
            if response is None:
                raise
        forget_listing(location)
        spill.write_sidecar(location, document, stale=spill.may_have_spilled(basis))
        token = requests.version_token(md5, "")
        new_details = {
            "content_type": mime,
            "foreign_metadata": foreign,
            "spilled": spilled,
        }
        return written_state(basis, response, size, token, metadata, crc32c, new_details)

    def _holding(
        self, location: Location, size: int, token: str, keys: dict[str, str]
    ) -> dict[str, Any] | None:
        """``{"etag": ...}`` of the blob if it holds ``size`` bytes of the content of
        version ``token`` with exactly the metadata ``keys``; else None."""
        try:
            with sdk_errors(location):
                found = sync(location.fs.loop, requests.properties, location)
        except FileNotFoundError:
            return None
        settings = found.content_settings
        if (
            int(found.size) != size
            or requests.version_token(settings.content_md5, "") != token
            or dict(found.metadata or {}) != keys
        ):
            return None
        return {"etag": found.etag}

    def write_metadata(
        self, location: Location, metadata: MetadataUpdate, *, if_matches: ObjectState | None = None
    ) -> ObjectState:
        """Change the blob's metadata with one Set Blob Metadata; content is untouched.

        The changes are applied to the metadata of ``if_matches`` (read afresh if None) and
        written under its ETag; if the blob changed meanwhile, they are applied again to
        what it holds now, and the write retried. Whole metadata keeps the stored id; with
        ``if_matches`` it is written only if the blob did not change since. Keys of other
        tools are kept.

        Raises:
            NotFoundError: If the blob does not exist.
            ConflictError: If whole metadata was given with ``if_matches`` and the blob
                changed since; or, for changes, if it kept changing through every retry.
        """
        changes = as_changes(metadata)
        retries = if_matches is None or not changes.replaces
        read_sidecar = not changes.replaces
        basis = if_matches
        if basis is None or "etag" not in basis.details:
            fresh = self._read(location, read_sidecar=read_sidecar)
            if basis is not None and changes.replaces and not same_content(fresh, basis):
                raise ConflictError.metadata_changed(location.url)
            basis = fresh
        for attempt in attempts():
            new = changes.apply(basis.metadata)
            try:
                if not spill.needs_lease(basis, spill.spills(location, new, basis)):
                    return self._set_metadata(location, new, basis, maybe_ours=changes.replaces)
                with spill.leased(location) as lease:
                    fresh = self._read(location, read_sidecar=read_sidecar)
                    if if_matches is not None and changes.replaces:
                        spill.check_leased(location, None, if_matches, fresh, replaces=True)
                    new = changes.apply(fresh.metadata)
                    return self._set_metadata(location, new, fresh, maybe_ours=False, lease=lease)
            except ConflictError:
                if not retries or attempt.last:
                    raise
            basis = self._read(location, read_sidecar=read_sidecar)
        raise AssertionError("unreachable")  # pragma: no cover

    def _set_metadata(
        self,
        location: Location,
        metadata: Metadata,
        basis: ObjectState,
        *,
        maybe_ours: bool,
        lease: Any = None,
    ) -> ObjectState:
        """One Set Blob Metadata to ``metadata``, if the blob is still at ``basis`` (holding
        ``lease``, if given).

        With ``maybe_ours``, a failed precondition is first checked for being this write's
        own first attempt (retried after its response was lost). Changes need no such check:
        the caller applies them again to what is there, which is the same if so.
        """
        foreign = dict(basis.details.get("foreign_metadata", {}))
        keys, spilled = spill.blob_metadata(location, metadata, basis.crc32c, foreign)
        document = keys_codec.spilled_document(metadata if spilled else None)
        with translate_errors(location.url, "writing metadata of"):
            try:
                with sdk_errors(location):
                    try:
                        response = sync(
                            location.fs.loop,
                            requests.set_metadata,
                            location,
                            keys,
                            basis.details["etag"],
                            lease,
                        )
                    except Exception as error:
                        if is_conflict(error):
                            raise ConflictError.metadata_changed(location.url) from error
                        raise
            except ConflictError:
                written = maybe_ours and self._holding(
                    location, basis.size, basis.version_token, keys
                )
                if not written:
                    raise
                response = written
            forget_listing(location)
            spill.write_sidecar(location, document, stale=spill.may_have_spilled(basis))
        details = {**basis.details, "spilled": spilled}
        return written_state(basis, response, basis.size, None, metadata, basis.crc32c, details)

    def download(
        self, location: Location, state: ObjectState, target: str, callback: Any = None
    ) -> None:
        """Stream the blob's content at exactly ``state`` to the file ``target``: one GET
        under ``If-Match`` (its ETag, or the ETag a metadata update since gave the same
        content), read in chunks told to ``callback``. ``target`` is removed on failure.

        Raises:
            IntegrityError: If the blob's content changed since ``state``, or it was deleted.
        """
        sync(location.fs.loop, self.download_async, location, state, target, callback)

    async def download_async(
        self, location: Location, state: ObjectState, target: str, callback: Any = None
    ) -> None:
        with translate_errors(location.url, "downloading"):
            try:
                await pinned(location, state, requests.download, target, callback)
            except BaseException:
                with suppress(OSError):
                    os.remove(target)
                raise

    def read_range(self, location: Location, state: ObjectState, start: int, end: int) -> bytes:
        """Bytes ``start`` up to ``end`` of the blob's content at exactly ``state``: one GET
        with a range under ``If-Match``.

        Raises:
            IntegrityError: If the blob's content changed since ``state``, or it was deleted.
        """
        return bytes(sync(location.fs.loop, self._read_range, location, state, start, end))

    async def _read_range(
        self, location: Location, state: ObjectState, start: int, end: int
    ) -> bytes:
        with translate_errors(location.url, "reading"):
            data: bytes = await pinned(location, state, requests.read, start, end)
            return data

    def read_bytes(self, location: Location) -> bytes:
        """One GET of the whole blob."""
        with sdk_errors(location):
            return bytes(sync(location.fs.loop, requests.read, location, None))

    def delete(self, location: Location) -> None:
        """Delete the blob, then its sidecar blob if it has one.

        Raises:
            NotFoundError: If the blob or its container does not exist.
        """
        with translate_errors(location.url, "deleting"), sdk_errors(location):
            sync(location.fs.loop, requests.delete, location)
            forget_listing(location)
            spill.write_sidecar(location, None, stale=True)
