"""Metadata in a sidecar file next to the content, for every filesystem without object metadata.

The sidecar of ``dir/x.csv`` is ``dir/.x.csv.octstore.json`` (format version 1)::

    {"octstore": 1, "id": "...", "timestamp": "2022-05-04T17:57:57.136739+00:00" | null,
     "labels": ["a", "b"], "tags": {"k": "v"}}

Local sidecars are written atomically (a temp file, then ``os.replace``) under a file lock;
on other filesystems (``memory://``, ``sftp://`` ...) the sidecar is written in one ``pipe``.

A local write replaces content and sidecar together even if the process dies between the
two renames: the new sidecar goes first into ``.<name>.octstore.json.pending`` with the
identity (inode, size, mtime) of the new content; then the content is renamed into place,
the sidecar written, and the pending file removed. Whoever next reads or writes the file
settles a pending file left by a crash: it becomes the sidecar if its content is in place,
and is dropped otherwise, so a reader sees old content with old metadata or new with new.

Files written by octue (a per-directory ``.octue`` file) are read when there is no sidecar.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Mapping
from stat import S_ISDIR
from typing import Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore import cache
from octstore.backends import Known, Listed, MetadataBackend, ObjectState, listing, locking, octue
from octstore.backends.locking import real_location
from octstore.backends.sidecar_files import (
    _PENDING_SUFFIX,
    _identity,
    _read_metadata_files,
    _remote_version_token,
    _sidecar_version,
    dump_sidecar,
    load_sidecar,
    read_metadata_file,
    sidecar_name,
)
from octstore.errors import (
    AccessDeniedError,
    ConflictError,
    NotFoundError,
    OctstoreError,
)
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata
from octstore.metadata.changes import MetadataUpdate, as_changes
from octstore.state import local_version_token


class SidecarBackend(MetadataBackend):
    """Metadata in ``.<name>.octstore.json`` beside the file, on any fsspec filesystem."""

    def _sidecar(self, location: Location) -> Location:
        return location.sibling(sidecar_name(location.name))

    def _read_metadata(self, location: Location) -> tuple[Metadata | None, str | None]:
        """The stored metadata, and the version of the sidecar it came from (None: none)."""
        sidecar = self._sidecar(location)
        data = read_metadata_file(sidecar)
        if data is not None:
            return load_sidecar(data, sidecar.url, location), _sidecar_version(data)
        octue_file = location.sibling(octue.DIRECTORY_FILE)
        data = read_metadata_file(octue_file)
        if data is None:
            return None, None
        return octue.from_directory_file(data, location, octue_file.url), None

    def list(
        self, location: Location, *, recursive: bool = True, known: Known | None = None
    ) -> list[Listed]:
        listed, infos = listing(location, recursive=recursive)
        if location.is_local and any(path.endswith(_PENDING_SUFFIX) for path in infos):
            for child, _ in listed:  # a write was interrupted: settle it, then list again
                if self._pending(child).fs_path in infos:
                    self._settle(child)
            listed, infos = listing(location, recursive=recursive)
        # A local file removed since the listing (a temp file renamed, a file deleted by
        # someone else) is left out, as if the listing had come a moment later.
        files, tokens, versions = [], {}, {}
        for child, info in listed:
            try:
                tokens[child.url] = self._token(child.url if child.is_local else None, info)
            except FileNotFoundError:
                continue
            files.append((child, info))
            versions[child.url] = self._listing_version(child, tokens[child.url], infos)
        fresh = {
            url: known[url][1]
            for url, version in versions.items()
            if known and url in known and known[url][0] == version
        }
        # One batch read (concurrent where the filesystem is) of the metadata files needed.
        stale = [(child, info) for child, info in files if child.url not in fresh]
        wanted = {
            metadata_file.fs_path: metadata_file
            for child, _ in stale
            for metadata_file in (self._sidecar(child), child.sibling(octue.DIRECTORY_FILE))
        }
        present = [wanted[path] for path in sorted(wanted) if path in infos]
        with translate_errors(location.url, "listing"):
            documents = _read_metadata_files(present, infos)
        return [
            (
                child,
                fresh.get(child.url)
                or self._listed_state(child, info, tokens[child.url], documents),
                versions[child.url],
            )
            for child, info in files
        ]

    def _listing_version(
        self, location: Location, token: str, infos: dict[str, dict[str, Any]]
    ) -> str:
        """The file's token and those of its metadata files: any change to either shows."""
        parts = [token]
        local = location.is_local
        # a local sibling's path is made without making a location: one per file adds up
        folder = location.url.rpartition(os.sep)[0] + os.sep if local else ""
        for name in (sidecar_name(location.name), octue.DIRECTORY_FILE):
            path = folder + name if local else location.sibling(name).fs_path
            listed = infos.get(path)
            try:
                parts.append(self._token(path if local else None, listed) if listed else "-")
            except FileNotFoundError:  # removed since the listing
                parts.append("-")
        return "|".join(parts)

    @staticmethod
    def _token(local_path: str | None, info: dict[str, Any]) -> str:
        """The version token of a listed file: a local one's (at ``local_path``) from a
        fresh ``stat``, a remote one's from its listed ``info``."""
        if local_path is not None:
            return local_version_token(os.stat(local_path))
        return _remote_version_token(info)

    def _listed_state(
        self, location: Location, info: dict[str, Any], token: str, documents: dict[str, bytes]
    ) -> ObjectState:
        size = int(info["size"])
        sidecar = self._sidecar(location)
        metadata, sidecar_version = None, None
        if sidecar.fs_path in documents:
            metadata = load_sidecar(documents[sidecar.fs_path], sidecar.url, location)
            sidecar_version = _sidecar_version(documents[sidecar.fs_path])
        else:
            octue_file = location.sibling(octue.DIRECTORY_FILE)
            if octue_file.fs_path in documents:
                metadata = octue.from_directory_file(
                    documents[octue_file.fs_path], location, octue_file.url
                )
        return ObjectState(size, token, metadata=metadata, details={"sidecar": sidecar_version})

    def stat(self, location: Location) -> ObjectState:
        location = real_location(location)
        with translate_errors(location.url, "reading"):
            if location.is_local:
                if os.path.exists(self._pending(location).url):
                    self._settle(location)
                try:
                    stat = os.stat(location.url)
                except FileNotFoundError:
                    raise NotFoundError(f"{location.url} does not exist: check the path") from None
                if S_ISDIR(stat.st_mode):  # this stat's answer: the path may be gone by now
                    raise OctstoreError(f"{location.url} is a directory, not a file")
                size, token = stat.st_size, local_version_token(stat)
            else:
                info = location.fs.info(location.fs_path)
                if info.get("type") == "directory":
                    raise NotFoundError(f"{location.url} is a directory, not a file")
                size, token = int(info["size"]), _remote_version_token(info)
            metadata, sidecar_version = self._read_metadata(location)
            return ObjectState(size, token, metadata=metadata, details={"sidecar": sidecar_version})

    def _check(
        self,
        location: Location,
        if_matches: ObjectState | None,
        if_absent: bool,
        kept: str | None,
        *,
        metadata_too: bool,
    ) -> ObjectState | None:
        """The current state, after checking the preconditions (``kept``: where the new
        content is, or None for a metadata update; ``metadata_too``: the stored metadata
        must not have changed either)."""
        try:
            current: ObjectState | None = self.stat(location)
        except NotFoundError:
            current = None
        if if_absent and current is not None:
            raise ConflictError.created_meanwhile(location.url, str(kept))
        if if_matches is not None and (
            current is None
            or current.version_token != if_matches.version_token
            # a state that knows its sidecar's version: its metadata must not have changed
            or (
                metadata_too
                and "sidecar" in if_matches.details
                and current.details.get("sidecar") != if_matches.details["sidecar"]
            )
        ):
            if kept is None:
                raise ConflictError.metadata_changed(location.url)
            raise ConflictError.content_changed(location.url, kept)
        return current

    def download(
        self,
        location: Location,
        state: ObjectState,
        target: str,
        callback: Callback = DEFAULT_CALLBACK,
    ) -> None:
        """A local file is copied in the kernel (:func:`octstore.cache.copy_file`), its bytes
        told to ``callback`` as they go; a file elsewhere as the base class does it."""
        if not location.is_local:
            super().download(location, state, target, callback)
            return
        with translate_errors(location.url, "downloading"):
            cache.copy_file(location.url, target, callback)

    def consumes_source(self, location: Location) -> bool:
        return location.is_local

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
        """Write content and sidecar under the file's lock (:mod:`octstore.backends.locking`),
        the metadata changes applied to the sidecar found under it. A local file reached
        through a symbolic link is written where the link points; the link stays. A local
        ``source`` is moved into place (no bytes for ``callback``); on other filesystems,
        its bytes are told to ``callback`` as fsspec's ``put_file`` sends them."""
        changes = as_changes(metadata)
        location = real_location(location)
        with translate_errors(location.url, "writing"), locking.held(location):
            if location.is_local:
                self._settle_locked(location)
            current = self._check(
                location, if_matches, if_absent, kept=source, metadata_too=changes.replaces
            )
            new = changes.apply(current.metadata if current is not None else None)
            # Made before anything is written: metadata too large to read back is refused here.
            document = dump_sidecar(new)
            if location.is_local:
                self._put_local(location, source, document)
                # what was just put in place, under the lock: no need to read it back
                placed = os.stat(location.url)
                size, token = placed.st_size, local_version_token(placed)
                details: Mapping[str, Any] = {"sidecar": _sidecar_version(document)}
            else:  # no conditional writes here: the lock keeps writers in turn
                location.fs.put_file(source, location.fs_path, callback=callback)
                location.fs.pipe_file(self._sidecar(location).fs_path, document)
                location.fs.invalidate_cache(location.parent)
                state = self.stat(location)
                size, token, details = state.size, state.version_token, state.details
            return ObjectState(size, token, crc32c, new, details)

    def _put_local(self, location: Location, source: str, document: bytes) -> None:
        """Move ``source`` into place with its sidecar ``document``, in the crash-safe order of
        the module's docstring; the lock is held."""
        os.makedirs(location.parent, exist_ok=True)
        if os.stat(source).st_dev != os.stat(location.parent).st_dev:
            # another filesystem: copy beside the target, so the swap is a rename
            staged = cache.temporary_path_beside(location.url)
            shutil.copyfile(source, staged)
            os.remove(source)
        else:
            staged = source
        pending = self._pending(location).url
        intent = {"content": _identity(staged), "sidecar": document.decode("utf-8")}
        cache.write_atomically(pending, json.dumps(intent).encode("utf-8"))
        os.replace(staged, location.url)
        cache.write_atomically(self._sidecar(location).url, document)
        os.remove(pending)

    def _pending(self, location: Location) -> Location:
        return location.sibling(f".{location.name}{_PENDING_SUFFIX}")

    def _settle(self, location: Location) -> None:
        """Settle a local write that a crash interrupted (see the module's docstring); in a
        folder octstore cannot write, there is nothing it could have left to settle."""
        with contextlib.suppress(AccessDeniedError), locking.held(location):
            self._settle_locked(location)

    def _settle_locked(self, location: Location) -> None:
        """:meth:`_settle`, with the file's lock held."""
        pending = self._pending(location).url
        try:
            with open(pending, "rb") as file:
                document = json.load(file)
            content, sidecar = document["content"], document["sidecar"]
        except FileNotFoundError:
            return
        except (ValueError, TypeError, KeyError):  # not ours, or unreadable: it cannot apply
            content = sidecar = None
        try:
            in_place = isinstance(sidecar, str) and _identity(location.url) == content
        except FileNotFoundError:
            in_place = False
        if in_place:
            cache.write_atomically(self._sidecar(location).url, sidecar.encode("utf-8"))
        os.remove(pending)

    def write_metadata(
        self, location: Location, metadata: MetadataUpdate, *, if_matches: ObjectState | None = None
    ) -> ObjectState:
        """Rewrite the sidecar under the file's lock, the changes applied to the sidecar found
        under it (whole metadata with ``if_matches``: only if the file did not change)."""
        changes = as_changes(metadata)
        location = real_location(location)
        with translate_errors(location.url, "writing metadata of"), locking.held(location):
            if location.is_local:
                self._settle_locked(location)
            current = self._check(
                location,
                if_matches if changes.replaces else None,
                False,
                kept=None,
                metadata_too=True,
            )
            if current is None:
                raise NotFoundError(f"{location.url} does not exist: write it before its metadata")
            new = changes.apply(current.metadata)
            document = dump_sidecar(new)
            if location.is_local:
                cache.write_atomically(self._sidecar(location).url, document)
            else:
                location.fs.pipe_file(self._sidecar(location).fs_path, document)
            details = {"sidecar": _sidecar_version(document)}
            return ObjectState(current.size, current.version_token, current.crc32c, new, details)

    def delete(self, location: Location) -> None:
        with translate_errors(location.url, "deleting"):
            self.stat(location)
            fs = location.fs
            fs.rm_file(location.fs_path)
            sidecar = self._sidecar(location)
            if fs.exists(sidecar.fs_path):
                fs.rm_file(sidecar.fs_path)
