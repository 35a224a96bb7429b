"""The :class:`Store` itself: adding content once, reading it back by handle, deleting it."""

from __future__ import annotations

import contextlib
import io
import os
import re
from datetime import timedelta
from typing import IO, TYPE_CHECKING, Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore.backends import ObjectState, backend_for
from octstore.datafile import Datafile, interface
from octstore.errors import (
    OVERWRITE,
    AccessDeniedError,
    AlreadyExistsError,
    InvalidHandleError,
    NotFoundError,
)
from octstore.location import Location, translate_errors
from octstore.path_objects import PathArgument
from octstore.redaction import redact
from octstore.store.claims import FOLDER, Claims
from octstore.store.content import (
    Content,
    download_verified,
    known_size,
    make_present,
    remove_empty_shards,
    sha256_file,
    stage,
)
from octstore.store.gc import DEFAULT_GRACE, collect
from octstore.store.handles import sanitize_filename, split_handle
from octstore.store.records import GcReport, StoredObject, stored_object

if TYPE_CHECKING:
    from collections.abc import Iterable

    from octstore.config import Config

#: Bytes a remote read fetches at least, ahead of what is asked (s3fs's default is 50 MiB,
#: too much for a ranged request).
READ_AHEAD = 4 * 2**20
_OBJECT_PATH = re.compile(r"(?P<a>[0-9a-f]{2})/(?P<b>[0-9a-f]{2})/(?P<h>[0-9a-f]{64})")

# --- what the store reports ---------------------------------------------------------------


class Store:
    """Attachments kept once per content under a local directory or any fsspec URL.

    Args:
        url: A local directory or a URL prefix (``s3://bucket/attachments``,
            ``gs://bucket/attachments``, ``memory://attachments`` ...).
        storage_options: Arguments for the fsspec filesystem (credentials, endpoint_url,
            ...). :meth:`from_config` fills them from the configuration.

    Examples:
        >>> import tempfile
        >>> store = Store(tempfile.mkdtemp())
        >>> handle = store.add("memo.txt", b"Feed the cats!")
        >>> with store.open(handle) as f:
        ...     f.read()
        b'Feed the cats!'
        >>> store.info(handle).names
        ('memo.txt',)
    """

    def __init__(self, url: PathArgument, storage_options: dict[str, Any] | None = None):
        self._root = Location(url, storage_options)

    @classmethod
    def from_config(cls, name: str | None = None, *, config: Config | None = None) -> Store:
        """The store configured under ``name`` (see :mod:`octstore.config`).

        Args:
            name: A configured store's name, or a URL (which gets the configured defaults
                of its protocol); by default the configured ``default_store``.
            config: The configuration; by default :func:`octstore.config.load` reads it
                from ``OCTSTORE_*`` variables and the TOML file.

        Raises:
            ConfigError: If there is no such store, or the configuration is invalid.
        """
        from octstore import config as config_module

        resolved = (config or config_module.load()).store(name)
        return cls(resolved.url, resolved.to_storage_options())

    @property
    def url(self) -> str:
        """The store's root: an absolute local path, or a URL."""
        return self._root.url

    # --- adding ---------------------------------------------------------------------------

    def add(self, name: str, content: Content, *, callback: Callback = DEFAULT_CALLBACK) -> str:
        """Store ``content`` under its SHA-256 unless it is already there; return its handle.

        The content is streamed to a local temporary file while its SHA-256 and CRC32C
        are computed, so memory stays constant for any size. New content is uploaded in one
        request that only creates (``If-None-Match: *`` on S3, ``ifGenerationMatch=0`` on
        GCS) or, locally, renamed into place, so concurrent adds never clobber each other
        and a partial upload never appears at the address (other filesystems, such as
        ``memory://``, write as they can). Content already there is not transferred again:
        only its metadata is rewritten, recording ``name`` and the time, which protects it
        from ``gc`` for ``grace`` from now.

        Args:
            name: The file's name (untrusted: it is sanitised, see
                :func:`octstore.store.handles.sanitize_filename`).
            content: ``bytes``, the path of a local file, or a binary file object (read to
                its end from its position).
            callback: An fsspec callback: told the content's size (a file object's once it
                is read), then the bytes as they are written to the store (all at once if
                the content was there already).

        Returns:
            The handle, ``<sha256 hex>/<sanitised name>``.

        Raises:
            NotFoundError: If ``content`` is a path that does not exist.
            IntegrityError: If the object at the address has another size (it was not
                written by octstore, or is damaged); delete it and add again.
        """
        filename = sanitize_filename(name)
        callback.set_size(known_size(content))
        # Locally, staging writes the content into the store, and storing it is a rename.
        staging = callback if self._root.is_local else DEFAULT_CALLBACK
        staged, digest, crc32c, size = stage(self._root, content, staging)
        callback.set_size(size)
        try:
            self._store(staged, digest, crc32c, size, filename, callback)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(staged)
        callback.absolute_update(size)
        return f"{digest}/{filename}"

    def _store(
        self, staged: str, digest: str, crc32c: str, size: int, filename: str, callback: Callback
    ) -> None:
        """Make the object present and touched, then check that no deletion raced with it
        (see the module's documentation for why these steps in this order suffice)."""
        location = self._object(digest)
        while True:
            make_present(location, staged, crc32c, size, filename, callback)
            if self.claims.held(digest):
                self.claims.wait(digest)
                continue
            try:
                backend_for(location).stat(location)
            except NotFoundError:
                continue  # deleted before our check: store it again
            return

    # --- reading --------------------------------------------------------------------------

    @property
    def claims(self) -> Claims:
        """The store's deletion claims (see :mod:`octstore.store.claims`)."""
        return Claims(self._inside(self._root.child(FOLDER)))

    def _object(self, digest: str) -> Location:
        return self._inside(self._root.child(f"{digest[:2]}/{digest[2:4]}/{digest}"))

    def _inside(self, location: Location) -> Location:
        """``location``, unless it is local and a symbolic link (of it, or of a directory on
        its way) takes it out of the store's root: the store never reads, writes or deletes
        outside its root.

        Raises:
            AccessDeniedError: If it leads out of the root.
        """
        if not self._root.is_local:
            return location
        real, root = os.path.realpath(location.url), os.path.realpath(self._root.url)
        if os.path.commonpath([real, root]) != root:
            raise AccessDeniedError(
                f"{location.url} leads out of the store {self.url} (to {real}, through a "
                "symbolic link): octstore does not follow it; remove the link (then add the "
                "content again)"
            )
        return location

    def _stat(self, handle: str) -> tuple[Location, ObjectState, str, str]:
        digest, name = split_handle(handle)
        location = self._object(digest)
        try:
            state = backend_for(location).stat(location)
        except NotFoundError as error:
            raise self._not_found(handle) from error
        return location, state, digest, name

    def _not_found(self, handle: str) -> NotFoundError:
        return NotFoundError(
            f"{handle} is not in the store {self.url}: it was never added here, or it was "
            "deleted (by gc, if no referenced handle named it); check the store and the handle"
        )

    def info(self, handle: str) -> StoredObject:
        """What the store knows about ``handle``'s content, in one metadata request.

        Raises:
            InvalidHandleError: If ``handle`` is not a handle.
            NotFoundError: If its content is not in the store.
        """
        location, state, digest, _ = self._stat(handle)
        return stored_object(location, state, digest)

    def __contains__(self, handle: object) -> bool:
        if not isinstance(handle, str):
            return False
        try:
            self._stat(handle)
        except (InvalidHandleError, NotFoundError, AccessDeniedError):
            return False
        return True

    def open(self, handle: str) -> IO[bytes]:
        """The content as a binary file, read lazily (ranges, not the whole object, when
        the caller seeks): use it in a ``with`` block.

        Raises:
            InvalidHandleError: If ``handle`` is not a handle.
            NotFoundError: If its content is not in the store.
        """
        digest, _ = split_handle(handle)
        location = self._object(digest)
        fs = location.fs
        try:
            with translate_errors(location.url, "opening"):
                file: IO[bytes] = fs.open(
                    location.fs_path, "rb", block_size=READ_AHEAD, cache_type="readahead"
                )
        except NotFoundError as error:
            raise self._not_found(handle) from error
        if location.protocol == "memory":
            # fsspec's memory filesystem gives every reader the one file object it keeps,
            # so readers would move each other's position: each gets its own.
            with file:
                return io.BytesIO(file.read())
        return file

    def datafile(self, handle: str) -> Datafile:
        """The content as a :class:`~octstore.Datafile` (named by its hash), read through the
        cache; one metadata request.

        Raises:
            InvalidHandleError: If ``handle`` is not a handle.
            NotFoundError: If its content is not in the store.
        """
        location, state, _, _ = self._stat(handle)
        return interface.assemble(location, state.metadata, state)

    def fetch(
        self,
        handle: str,
        download_path: str | os.PathLike[str] = ".",
        *,
        overwrite: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
    ) -> str:
        """Download the content to a local file named as the handle says; return its path.

        A file already there with the same content (same SHA-256) is left as it is: nothing
        is transferred and no duplicate made. Otherwise the content is copied from the
        cache if it is there, else downloaded, verified against its SHA-256, and moved into
        place in one step.

        Args:
            handle: The handle.
            download_path: A directory to put the file in (under the handle's name), or a
                file path.
            overwrite: Replace a file at the path that holds other content.
            callback: An fsspec callback: told the content's size, then the bytes as they
                are downloaded (all at once if they were already there or in the cache).

        Raises:
            InvalidHandleError: If ``handle`` is not a handle.
            NotFoundError: If its content is not in the store.
            AlreadyExistsError: If a file with other content is there and not
                ``overwrite``.
            IntegrityError: If the downloaded bytes do not have the handle's SHA-256.
        """
        digest, name = split_handle(handle)
        target = os.path.abspath(os.fspath(download_path))
        if os.path.isdir(target):
            target = os.path.join(target, name)
        if os.path.isfile(target):
            if sha256_file(target) == digest:
                callback.set_size(os.path.getsize(target))
                callback.absolute_update(callback.size)
                return target
            if not overwrite:
                raise AlreadyExistsError(
                    f"{target} exists with other content than {handle}: replace it (with "
                    f"{OVERWRITE}), or fetch to another path",
                    keywords=[OVERWRITE],
                )
        location, state, _, _ = self._stat(handle)
        callback.set_size(state.size)
        download_verified(location, state, target, digest, handle, callback)
        callback.absolute_update(state.size)
        return target

    def list(self) -> list[StoredObject]:
        """Every object in the store, by hash, with its metadata and no content.

        One listing (S3: plus a HEAD per object, concurrently; GCS listings carry metadata).
        """
        try:
            listed = backend_for(self._root).list(self._root, recursive=True)
        except NotFoundError:
            if self._root.is_local and not os.path.exists(self._root.url):
                return []
            raise
        objects = []
        for location, state, _ in listed:
            try:
                match = _OBJECT_PATH.fullmatch(location.relative_to(self._root))
            except ValueError:
                continue
            if match and match["a"] + match["b"] == match["h"][:4]:
                try:
                    self._inside(location)
                except AccessDeniedError:
                    continue  # a link out of the root: not the store's
                objects.append(stored_object(location, state, match["h"]))
        return sorted(objects, key=lambda item: item.sha256)

    # --- deleting -------------------------------------------------------------------------

    def delete(self, handle: str) -> None:
        """Delete ``handle``'s content (every handle to the same content stops working).

        An ``add`` of the same content racing with it stores the content again.

        Raises:
            InvalidHandleError: If ``handle`` is not a handle.
            NotFoundError: If its content is not in the store.
        """
        digest, _ = split_handle(handle)
        location = self._object(digest)
        with self.claims.claim(digest):
            try:
                backend_for(location).delete(location)
            except NotFoundError as error:
                raise self._not_found(handle) from error
        remove_empty_shards(location)

    def gc(
        self,
        referenced: Iterable[str],
        grace: timedelta = DEFAULT_GRACE,
        *,
        dry_run: bool = False,
    ) -> GcReport:
        """Delete every object that no handle in ``referenced`` names and that was last
        added longer than ``grace`` ago.

        Safe to run while other processes add: an object is re-read, under a deletion
        claim, just before it is deleted, and adds check for claims before returning (see
        the module's documentation for the argument, and its limits).

        Args:
            referenced: The handles still in use (every one is checked: a malformed handle
                raises rather than letting its object be deleted).
            grace: Keep objects added more recently than this. It must exceed the clock
                skew between the machines that add and the one that collects.
            dry_run: Report what would be deleted; delete nothing.

        Raises:
            InvalidHandleError: If ``referenced`` holds something that is not a handle.
        """
        return collect(self, referenced, grace, dry_run=dry_run)

    def __repr__(self) -> str:
        return redact(f"Store({self.url!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Store) and other._root == self._root

    def __hash__(self) -> int:
        return hash(self._root)
