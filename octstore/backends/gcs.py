"""Metadata in Google Cloud Storage's custom object metadata, written with the content.

An object's octstore metadata lives in its own custom ``metadata`` (the ``octstore-*`` keys
of :mod:`octstore.backends.object_metadata`, without ``octstore-crc32c``: GCS reports the
content's ``crc32c`` itself), so that:

- :meth:`GcsBackend.stat` is one GET of the object resource;
- :meth:`GcsBackend.put` is one upload carrying content, metadata and the CRC32C, which GCS
  verifies, conditional on the generation and metageneration read (``ifGenerationMatch``,
  ``ifMetagenerationMatch``; ``ifGenerationMatch=0`` to create), so that neither another
  writer's content nor their metadata-only change is lost;
- :meth:`GcsBackend.write_metadata` is one conditional metadata PATCH, no content moved;
- :meth:`GcsBackend.copy` is one conditional rewrite inside GCS, content and metadata;
- :meth:`GcsBackend.download` streams exactly the generation read (``generation=``).

Custom metadata beyond 8 KiB spills into the sidecar object ``.<name>.octstore.json``,
written after the object; ``octue__*`` keys read as octstore's."""

from __future__ import annotations

import os
from typing import Any

from fsspec.asyn import sync
from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore.backends import Known, Listed, MetadataBackend, ObjectState, listing
from octstore.backends.gcs_requests import (
    METADATA_LIMIT,
    RESUMABLE_THRESHOLD,
    _bucket_and_key,
    _download,
    _holds,
    _listing_version,
    _may_have_spilled,
    _OtherVersion,
    _preconditions,
    _remove,
    _resource_if,
    _state,
    _upload_errors,
    rewrite,
    stored_metadata,
    upload,
)
from octstore.backends.object_metadata import (
    describe_location,
    encode,
    encode_spilled,
    encoded_size,
    octstore_keys,
    spilled_document,
    write_spilled,
)
from octstore.errors import ConflictError, IntegrityError, NotFoundError
from octstore.location import Location, content_type, translate_errors
from octstore.metadata import Metadata
from octstore.metadata.changes import MetadataUpdate, as_changes, attempts

__all__ = ["METADATA_LIMIT", "RESUMABLE_THRESHOLD", "GcsBackend"]


class GcsBackend(MetadataBackend):
    """Metadata in the custom metadata of ``gs://`` objects; one request per operation."""

    atomic_metadata = True
    versioned_writes = True  # put returns the version of what it wrote, from the response
    reads_version_ranges = True  # a media GET with Range, pinned by generation=
    checks_sent_content = True  # the server checks the CRC32C
    async_downloads = True

    def metadata_location(self, location: Location, state: ObjectState) -> str:
        """The object's own custom metadata (and its sidecar object, if it spilled)."""
        return describe_location(location, state)

    def stat(self, location: Location) -> ObjectState:
        """The object's generation, size, CRC32C and metadata, from one GET of its resource
        (``NotFoundError`` if it or its bucket does not exist)."""
        return self._read(location, read_sidecar=True)

    def _read(self, location: Location, *, read_sidecar: bool) -> ObjectState:
        """:meth:`stat`; metadata that spilled is read from the sidecar object only if
        ``read_sidecar`` (whole metadata needs the stored id alone, kept in the object)."""
        with translate_errors(location.url, "reading"):
            bucket, key = _bucket_and_key(location)
            resource: dict[str, Any] = location.fs.call(
                "GET", "b/{}/o/{}", bucket, key, json_out=True
            )
            custom = resource.get("metadata")
            return _state(resource, stored_metadata(location, custom, read_sidecar=read_sidecar))

    def list(
        self, location: Location, *, recursive: bool = True, known: Known | None = None
    ) -> list[Listed]:
        """Every object under the prefix with its metadata, from the listing alone (plus a
        read per spilled sidecar not ``known``); versions: generation and metageneration."""
        listed: list[Listed] = []
        with translate_errors(location.url, "listing"):
            for child, info in listing(location, recursive=recursive)[0]:
                version = _listing_version(info)
                if known and child.url in known and known[child.url][0] == version:
                    listed.append((child, known[child.url][1], version))
                    continue
                metadata = stored_metadata(child, info.get("metadata"), read_sidecar=True)
                listed.append((child, _state(info, metadata), version))
            return listed

    def listing_version(self, location: Location, state: ObjectState) -> str | None:
        """The generation and metageneration, which every state carries."""
        return _listing_version(state.details) if "generation" in state.details else None

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
        """Upload ``source`` (left in place; in chunks over :data:`RESUMABLE_THRESHOLD` bytes)
        with its metadata in one request GCS verifies by ``crc32c``. The metadata is applied
        to that of the state read (``if_matches``, else read afresh: whole metadata keeps the
        stored id) and written under its generation and metageneration. If it changed, changes
        (or whole metadata without ``if_matches``) are applied again to what it holds now
        and the upload retried; with ``if_matches``, only if its content did not change.

        Raises:
            ConflictError: If ``if_absent`` and the object exists, or ``if_matches`` and its
                generation changed (with whole metadata: or its metageneration); nothing was
                written and ``source`` keeps the content.
            IntegrityError: If the content did not match ``crc32c``; nothing was written.
        """
        changes = as_changes(metadata)
        retries = not if_absent and (if_matches is None or not changes.replaces)
        basis = if_matches
        if basis is None and not if_absent:
            basis = self._read_or_none(location, read_sidecar=not changes.replaces)
        for attempt in attempts():
            stored = basis.metadata if basis is not None and not if_absent else None
            create = if_absent or basis is None
            try:
                new = changes.apply(stored)
                return self._put(location, source, new, crc32c, basis, create, callback)
            except ConflictError:
                if not retries or attempt.last:
                    raise
            fresh = self._read_or_none(location, read_sidecar=not changes.replaces)
            if if_matches is not None and (
                fresh is None or fresh.version_token != if_matches.version_token
            ):
                raise ConflictError.content_changed(location.url, source)
            basis = fresh
        raise AssertionError("unreachable")  # pragma: no cover

    def copy(
        self,
        source: Location,
        source_state: ObjectState,
        destination: Location,
        metadata: Metadata,
        *,
        if_matches: ObjectState | None = None,
        if_absent: bool = False,
    ) -> ObjectState | None:
        """A rewrite inside GCS: content and metadata in one conditional request (None if
        the metadata would spill, which is a second write)."""
        keys, params = encode(metadata), _preconditions(if_matches, if_absent)
        if encoded_size(keys) > METADATA_LIMIT:
            return None
        with translate_errors(destination.url, "copying to"):
            return _state(rewrite(source, source_state, destination, keys, params), metadata)

    def _read_or_none(self, location: Location, *, read_sidecar: bool) -> ObjectState | None:
        try:
            return self._read(location, read_sidecar=read_sidecar)
        except NotFoundError:
            return None

    def _put(
        self,
        location: Location,
        source: str,
        metadata: Metadata,
        crc32c: str,
        basis: ObjectState | None,
        create: bool,
        callback: Callback,
    ) -> ObjectState:
        """One upload of ``source`` with ``metadata``: if the object is absent (``create``),
        else if it is still at ``basis`` (its generation and metageneration), else
        unconditionally."""
        keys = encode(metadata)
        spills = encoded_size(keys) > METADATA_LIMIT
        document = spilled_document(metadata if spills else None)
        previous = basis.details if basis is not None else {}
        mime = previous.get("contentType") or content_type(location.name)
        with translate_errors(location.url, "writing"):
            bucket, key = _bucket_and_key(location)
            resource = {
                "name": key,
                "metadata": encode_spilled(metadata) if spills else keys,
                "contentType": mime,
                "crc32c": crc32c,
            }
            params = {"name": key, **_preconditions(basis, create)}
            size = os.path.getsize(source)
            try:
                with _upload_errors(location, source, create):
                    uploaded = upload(location.fs, bucket, resource, source, params, callback)
            except ConflictError:
                # An upload that gcsfs retried after its response was lost fails its own
                # precondition if the first attempt went through: no conflict, if the object
                # holds exactly what was being written.
                written = _resource_if(
                    location,
                    lambda found: (
                        int(found.get("size") or 0) == size
                        and found.get("crc32c") == crc32c
                        and (found.get("metadata") or {}) == resource["metadata"]
                    ),
                )
                if written is None:
                    raise
                uploaded = written
            location.fs.invalidate_cache(location.fs_path)
            stale = not spills and not create and _may_have_spilled(basis)
            write_spilled(location, document, stale=stale)
            return _state(uploaded, metadata)

    def write_metadata(
        self, location: Location, metadata: MetadataUpdate, *, if_matches: ObjectState | None = None
    ) -> ObjectState:
        """Change the object's octstore keys with one metadata PATCH; content is untouched.

        The changes are applied to the metadata of ``if_matches`` (read afresh if None) and
        patched under its generation and metageneration; if the object changed meanwhile,
        they are applied again to what it holds now, and the PATCH retried. Whole metadata
        keeps the stored id; with ``if_matches`` it is written only if the object did not
        change since (without, it is retried like changes). The
        generation stays the same and the metageneration goes up by one. Keys of other
        tools (octue's, say) are left alone.

        Raises:
            NotFoundError: If the object does not exist.
            ConflictError: If whole metadata was given with ``if_matches`` and the object's
                content or metadata changed since (its generation or metageneration
                differs); or, for changes, if it kept changing through every retry.
        """
        changes = as_changes(metadata)
        retries = if_matches is None or not changes.replaces
        read_sidecar = not changes.replaces
        basis = (
            if_matches
            if if_matches is not None
            else self._read(location, read_sidecar=read_sidecar)
        )
        for attempt in attempts():
            new = changes.apply(basis.metadata)
            try:
                return self._patch(location, new, basis, maybe_ours=changes.replaces)
            except ConflictError:
                if not retries or attempt.last:
                    raise
            basis = self._read(location, read_sidecar=read_sidecar)
        raise AssertionError("unreachable")  # pragma: no cover

    def _patch(
        self,
        location: Location,
        metadata: Metadata,
        basis: ObjectState,
        *,
        maybe_ours: bool,
    ) -> ObjectState:
        """One metadata PATCH to ``metadata``, if the object is still at ``basis``.

        With ``maybe_ours``, a failed precondition is first checked for being this PATCH's
        own first attempt (retried after its response was lost). Changes need no such
        check: the caller applies them again to what is there, which is the same if so;
        and spilled metadata could not tell (every writer's object keys are alike).
        """
        keys = encode(metadata)
        spills = encoded_size(keys) > METADATA_LIMIT
        document = spilled_document(metadata if spills else None)
        if spills:
            keys = encode_spilled(metadata)
        patch: dict[str, str | None] = {key: None for key in octstore_keys if key not in keys}
        patch.update(keys)
        params = {
            "ifGenerationMatch": str(basis.details["generation"]),
            "ifMetagenerationMatch": str(basis.details["metageneration"]),
        }
        with translate_errors(location.url, "writing metadata of"):
            bucket, key = _bucket_and_key(location)
            try:
                patched: dict[str, Any] = location.fs.call(
                    "PATCH",
                    "b/{}/o/{}",
                    bucket,
                    key,
                    json={"metadata": patch},
                    json_out=True,
                    **params,
                )
            except FileExistsError:  # gcsfs's reading of 412 Precondition Failed
                # A PATCH that gcsfs retried after its response was lost fails its own
                # precondition if the first attempt went through: no conflict, if the content
                # is the one read and the metadata exactly what was being written.
                written = maybe_ours and _resource_if(
                    location,
                    lambda found: (
                        str(found.get("generation")) == str(basis.details["generation"])
                        and _holds(found.get("metadata") or {}, patch)
                    ),
                )
                if not written:
                    raise ConflictError.metadata_changed(location.url) from None
                patched = written
            location.fs.invalidate_cache(location.fs_path)
            stale = not spills and _may_have_spilled(basis)
            write_spilled(location, document, stale=stale)
            return _state(patched, metadata)

    def download(
        self, location: Location, state: ObjectState, target: str, callback: Any = None
    ) -> None:
        """Stream the object's content at exactly ``state``'s generation to the file ``target``.

        One GET pinned by ``generation=``, read in chunks (told to ``callback``), after the
        generation and CRC32C GCS reports (``x-goog-generation``, ``x-goog-hash``) are
        checked against ``state``. ``target`` is removed if the download fails.

        Raises:
            IntegrityError: If that generation no longer exists (the object was overwritten
                or deleted since ``state``) or GCS sent another version.
        """
        sync(location.fs.loop, self.download_async, location, state, target, callback)

    async def download_async(
        self, location: Location, state: ObjectState, target: str, callback: Any = None
    ) -> None:
        generation = str(state.details.get("generation") or state.version_token)
        with translate_errors(location.url, "downloading"):
            url = location.fs.url(location.fs_path)
            try:
                await _download(location.fs, url, (generation, state.crc32c), target, callback)
            except (_OtherVersion, FileNotFoundError):
                # A 404 means the generation read is gone: without versioning GCS keeps only
                # the live one, so the object was overwritten or deleted meanwhile.
                _remove(target)
                raise IntegrityError(
                    f"{location.url} changed while it was downloaded (generation {generation} "
                    "is no longer there): try again"
                ) from None
            except BaseException:
                _remove(target)
                raise

    def read_range(self, location: Location, state: ObjectState, start: int, end: int) -> bytes:
        """Bytes ``start`` up to ``end`` of exactly ``state``'s generation: one GET with
        ``Range``, pinned by ``generation=`` (and ``x-goog-generation`` checked).

        Raises:
            IntegrityError: If that generation no longer exists (the object was overwritten
                or deleted since ``state``).
        """
        generation = str(state.details.get("generation") or state.version_token)
        fs = location.fs
        with translate_errors(location.url, "reading"):
            url = fs.url(location.fs_path)  # generation= below: url()'s own is recent
            span = {"Range": f"bytes={start}-{end - 1}"}
            try:
                headers, data = fs.call("GET", url, headers=span, generation=generation)
            except FileNotFoundError:  # without versioning GCS keeps only the live generation
                data, headers = None, {}
            if data is None or headers.get("x-goog-generation", generation) != generation:
                raise IntegrityError(
                    f"{location.url} changed while it was read (generation {generation} is no "
                    "longer there): open it again to read the new version"
                )
        if len(data) > end - start:  # a server that ignored the Range sent all of it
            data = data[start:end]
        return bytes(data)

    def delete(self, location: Location) -> None:
        """Delete the object, then its sidecar object if it has one.

        Raises:
            NotFoundError: If the object does not exist.
        """
        with translate_errors(location.url, "deleting"):
            bucket, key = _bucket_and_key(location)
            location.fs.call("DELETE", "b/{}/o/{}", bucket, key)
            location.fs.invalidate_cache(location.fs_path)
            write_spilled(location, None, stale=True)
