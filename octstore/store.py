"""``Store``: content-addressed attachments, stored once, garbage-collected, served over HTTP.

A store is a directory or cloud prefix holding each distinct content once, at the SHA-256
of its bytes::

    <root>/<h[0:2]>/<h[2:4]>/<h>         the content (h: its SHA-256, 64 hex digits)
    <root>/.claims/<h>.<ns>.<random>     a deletion in progress (see "gc" below)

Adding returns a handle, ``<h>/<file name>``, to keep in a database. The file name is the
user's, sanitised, and is what downloads are called; the object itself only knows its hash.
Each object's octstore metadata (see :mod:`octstore.backends`) records when it was first
stored (``timestamp``), when it was last added (tag ``added``) and the names it was added
under (tag ``names``, the last :data:`MAX_NAMES`).

Examples:
    >>> import tempfile
    >>> from octstore import Store
    >>> store = Store(tempfile.mkdtemp())
    >>> store.add("memo.txt", b"Feed the cats!")
    'c3d3062a433ef8bf0323fca1dab3e08cc3677431a8aa5c909330f4d88303f768/memo.txt'

gc and concurrent adds
----------------------
:meth:`Store.gc` deletes objects that no handle it is given names and that were last added
longer than ``grace`` ago. An ``add`` running at the same time, in any process on any
machine, never has its content deleted under it: ``add`` returns a handle only after

1. making the object present with ``added`` set to now (uploading it, or, when the content
   is already there, rewriting its metadata: a "touch", which transfers no content), then
2. finding no live deletion claim for the hash, then
3. finding the object still present;

and ``gc`` (and :meth:`Store.delete`) deletes an object only

a. while it holds a claim for the object's hash: a new, uniquely named, empty file under
   ``.claims/``, made before and removed after, and
b. after reading the object's metadata again, under the claim, and finding ``added`` older
   than ``grace``.

Suppose gc deleted an object after an add's check (3) found it present. gc's re-read (b)
then came before the add's touch (1): had it come after, it would have seen ``added``
within ``grace``. So gc's claim, made before (b), was still held from before (1) until
after the deletion, and so at the add's claim check (2), between them: the add would not
have returned. A deletion between (1) and (3) is seen by (3) (and the add, which keeps its
content until it returns, stores it again); one before (1) is undone by (1). Every step
needs only what every backend offers with strong consistency: writing a new file, listing
a directory, reading and deleting an object. None relies on a conditional delete, which S3
cannot make depend on a metadata change (a metadata update keeps the ETag).

The limits: claims are leases. A claim older than :data:`CLAIM_TIMEOUT` belongs to a gc
that died, and adds ignore it; a gc therefore gives up on an object (keeps it) once
``CLAIM_TIMEOUT / 2`` has passed since it made its claim. A gc process frozen for longer
than that between its last check and its DELETE reaching the server could still delete a
fresh object. Ages are compared across machines' clocks, so ``grace`` (default one hour)
must exceed their skew. :meth:`Store.delete` is claimed the same way without the age
check, so an add racing with it stores its content again rather than returning a handle
to deleted content.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import IO, TYPE_CHECKING, Any, Literal

from octstore import cache
from octstore.backends import MetadataBackend, ObjectState, backend_for
from octstore.datafile import Datafile
from octstore.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    BackendError,
    ConflictError,
    IntegrityError,
    InvalidHandleError,
    NotFoundError,
    OctstoreError,
)
from octstore.handles import sanitize_filename, split_handle
from octstore.hashing import CHUNK_SIZE, Crc32c
from octstore.location import Location, translate_errors
from octstore.metadata import Metadata, TagDict
from octstore.redaction import redact

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from octstore.config import Config

__all__ = [
    "CLAIM_TIMEOUT",
    "DEFAULT_GRACE",
    "GC_CONCURRENCY",
    "MAX_NAMES",
    "READ_AHEAD",
    "GcReport",
    "Store",
    "StoredObject",
]

#: How long ``gc`` keeps objects that were added recently, unless told otherwise.
DEFAULT_GRACE = timedelta(hours=1)
#: How long a deletion claim lives: adds ignore older claims (their gc died), and a gc
#: gives up on an object once half of it has passed since it claimed it.
CLAIM_TIMEOUT = timedelta(minutes=5)
#: How many of the names an object was added under its metadata keeps (the latest).
MAX_NAMES = 100
#: Bytes a remote read fetches at least, ahead of what is asked (s3fs's default is 50 MiB,
#: too much for a ranged request).
READ_AHEAD = 4 * 2**20
#: How many objects ``gc`` deletes at once.
GC_CONCURRENCY = 8

_OBJECT_PATH = re.compile(r"(?P<a>[0-9a-f]{2})/(?P<b>[0-9a-f]{2})/(?P<h>[0-9a-f]{64})")
_CLAIMS = ".claims"
_CLAIM_NAME = re.compile(r"[0-9a-f]{64}\.[0-9]+\.[^/]+")
#: What temporary files are named after (not the file's own name, which may be as long as
#: names can be).
_TEMPORARY_NAME = "octstore-attachment"
#: How many times an add re-reads an object whose metadata others keep changing.
_TOUCH_ATTEMPTS = 20

# --- what the store reports ---------------------------------------------------------------


@dataclass(frozen=True)
class StoredObject:
    """One stored content, as :meth:`Store.info` and :meth:`Store.list` describe it.

    Attributes:
        sha256: The content's SHA-256, in hex: its address.
        size: Its size in bytes.
        created: When it was first stored, or None if octstore did not store it.
        added: When it was last added (stored or found already there), or None.
        names: The names it was added under, oldest first (the last :data:`MAX_NAMES`).
        url: Where it is.
    """

    sha256: str
    size: int
    created: datetime | None
    added: datetime | None
    names: tuple[str, ...]
    url: str

    @property
    def handles(self) -> list[str]:
        """A handle for each name it was added under."""
        return [f"{self.sha256}/{name}" for name in self.names]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description."""
        return {
            "sha256": self.sha256,
            "size": self.size,
            "created": self.created.isoformat() if self.created else None,
            "added": self.added.isoformat() if self.added else None,
            "names": list(self.names),
            "url": redact(self.url, mask=None),
        }


@dataclass
class GcReport:
    """What :meth:`Store.gc` did (or, with ``dry_run``, would do).

    Attributes:
        grace: Objects added more recently than this were kept.
        dry_run: Whether nothing was deleted.
        deleted: The objects deleted (with ``dry_run``: that would be).
        kept_referenced: Objects a referenced handle names.
        kept_recent: Objects added within ``grace`` (some found so only when gc looked
            again, just before deleting).
        kept_unknown: Objects with no record of when they were added (not stored by
            octstore, or a store interrupted midway); add their content again to adopt them.
        kept_busy: Objects gc gave up on: another deletion had them, or it took too long.
        missing: Referenced handles whose content is not in the store.
    """

    grace: timedelta
    dry_run: bool = False
    deleted: list[StoredObject] = field(default_factory=list)
    kept_referenced: list[StoredObject] = field(default_factory=list)
    kept_recent: list[StoredObject] = field(default_factory=list)
    kept_unknown: list[StoredObject] = field(default_factory=list)
    kept_busy: list[StoredObject] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def deleted_bytes(self) -> int:
        """The bytes the deleted objects held."""
        return sum(item.size for item in self.deleted)

    @property
    def kept(self) -> int:
        """How many objects were kept, for any reason."""
        return (
            len(self.kept_referenced)
            + len(self.kept_recent)
            + len(self.kept_unknown)
            + len(self.kept_busy)
        )

    def __str__(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        reasons = [
            f"{len(self.kept_referenced)} referenced",
            f"{len(self.kept_recent)} added within {self.grace}",
        ]
        if self.kept_unknown:
            reasons.append(f"{len(self.kept_unknown)} of unknown age")
        if self.kept_busy:
            reasons.append(f"{len(self.kept_busy)} busy")
        text = (
            f"{verb} {_count(len(self.deleted), 'object')} ({self.deleted_bytes} bytes), "
            f"kept {self.kept} ({', '.join(reasons)})"
        )
        if self.missing:
            text += (
                f"; {_count(len(self.missing), 'referenced handle')} with no content in the store"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe description."""
        return {
            "grace_seconds": self.grace.total_seconds(),
            "dry_run": self.dry_run,
            "deleted": [item.to_dict() for item in self.deleted],
            "deleted_bytes": self.deleted_bytes,
            "kept_referenced": [item.sha256 for item in self.kept_referenced],
            "kept_recent": [item.sha256 for item in self.kept_recent],
            "kept_unknown": [item.sha256 for item in self.kept_unknown],
            "kept_busy": [item.sha256 for item in self.kept_busy],
            "missing": list(self.missing),
        }


# --- the store ----------------------------------------------------------------------------

_Outcome = Literal["deleted", "recent", "unknown", "busy", "gone"]
_Content = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]


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

    def __init__(self, url: str | os.PathLike[str], storage_options: dict[str, Any] | None = None):
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

    def add(self, name: str, content: _Content) -> str:
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
                :func:`octstore.handles.sanitize_filename`).
            content: ``bytes``, the path of a local file, or a binary file object (read to
                its end from its position).

        Returns:
            The handle, ``<sha256 hex>/<sanitised name>``.

        Raises:
            NotFoundError: If ``content`` is a path that does not exist.
            IntegrityError: If the object at the address has another size (it was not
                written by octstore, or is damaged); delete it and add again.
        """
        filename = sanitize_filename(name)
        staged, digest, crc32c, size = self._stage(content)
        try:
            self._store(staged, digest, crc32c, size, filename)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(staged)
        return f"{digest}/{filename}"

    def _stage(self, content: _Content) -> tuple[str, str, str, int]:
        """Copy ``content`` to a temporary file, hashing it on the way: the file's path, its
        SHA-256, CRC32C and size."""
        if self._root.is_local:  # beside the objects, so that storing it is a rename
            os.makedirs(self._root.url, exist_ok=True)
            staged = cache.temporary_path_beside(os.path.join(self._root.url, _TEMPORARY_NAME))
        else:
            staged = cache.staging_path(_TEMPORARY_NAME)
        sha256, crc32c, size = hashlib.sha256(), Crc32c(), 0
        try:
            with open(staged, "wb") as out, _chunks(content) as chunks:
                for chunk in chunks:
                    sha256.update(chunk)
                    crc32c.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.remove(staged)
            raise
        return staged, sha256.hexdigest(), crc32c.b64digest(), size

    def _store(self, staged: str, digest: str, crc32c: str, size: int, filename: str) -> None:
        """Make the object present and touched, then check that no deletion raced with it
        (see the module's documentation for why these steps in this order suffice)."""
        location = self._object(digest)
        while True:
            self._make_present(location, staged, crc32c, size, filename)
            if self._claimed(digest):
                self._wait_for_claims(digest)
                continue
            try:
                backend_for(location).stat(location)
            except NotFoundError:
                continue  # deleted before our check: store it again
            return

    def _make_present(
        self, location: Location, staged: str, crc32c: str, size: int, filename: str
    ) -> None:
        backend = backend_for(location)
        wrong_size: int | None = None
        for attempt in range(_TOUCH_ATTEMPTS):
            try:
                state: ObjectState | None = backend.stat(location)
            except NotFoundError:
                state = None
            now = _now()
            try:
                if state is None:
                    metadata = Metadata(
                        timestamp=now, tags={"names": [filename], "added": now.isoformat()}
                    )
                    with _source_for_put(staged, backend, location) as source:
                        backend.put(location, source, metadata, crc32c=crc32c, if_absent=True)
                    return
                if state.size != size:
                    # Being written by another add, on a filesystem whose writes are not
                    # atomic (memory://, sftp:// ...)? Look again before giving up.
                    wrong_size = state.size
                    time.sleep(0.01 * (attempt + 1))
                    continue
                touched = _touched(state.metadata, filename, now)
                backend.write_metadata(location, touched, if_matches=state)
                return
            except (ConflictError, NotFoundError):
                continue  # created, touched or deleted meanwhile: look again
        if wrong_size is not None:
            raise IntegrityError(
                f"{location.url} holds {wrong_size} bytes, but content with its SHA-256 has "
                f"{size}: it was not stored by octstore or is damaged; delete it and add the "
                "content again"
            )
        raise BackendError(
            f"{location.url} changed {_TOUCH_ATTEMPTS} times while it was being added: "
            "others are adding the same content very often; try again"
        )

    # --- deletion claims ------------------------------------------------------------------

    @property
    def _claims(self) -> Location:
        return self._inside(self._root.child(_CLAIMS))

    def _live_claims(self, digest: str | None = None, *, max_age: timedelta) -> list[str]:
        """The claims (of ``digest``, or all) younger than ``max_age``, by their file name."""
        paths = self._claim_files(digest)
        now = time.time_ns()
        live = []
        for path in paths:
            claimed_digest, _, rest = path.rstrip("/").rsplit("/", 1)[-1].partition(".")
            claimed_at = rest.partition(".")[0]
            if digest is not None and claimed_digest != digest:
                continue
            if not claimed_at.isdigit():
                continue
            if now - int(claimed_at) < _nanoseconds(max_age):
                live.append(path)
        return live

    def _claim_files(self, digest: str | None = None) -> list[str]:
        """The claim files (of ``digest``, or all), fresh: one listing of a prefix."""
        claims = self._claims
        fs = claims.fs
        prefix = f"{digest}." if digest else ""
        with translate_errors(claims.url, "listing"):
            fs.invalidate_cache(claims.fs_path)
            try:
                paths: list[str] = fs.find(claims.fs_path, prefix=prefix)
            except FileNotFoundError:
                return []
        return paths

    def _claimed(self, digest: str) -> bool:
        """Whether a deletion of ``digest`` is in progress (claims of dead gcs excepted)."""
        return bool(self._live_claims(digest, max_age=CLAIM_TIMEOUT))

    def _wait_for_claims(self, digest: str) -> None:
        delay = 0.01
        while self._claimed(digest):
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    @contextlib.contextmanager
    def _claim(self, digest: str) -> Iterator[float]:
        """Claim ``digest`` for deletion; yield the monotonic time just before the claim."""
        claimed_at = time.monotonic()
        claim = self._claims.child(f"{digest}.{time.time_ns()}.{uuid.uuid4().hex}")
        fs = claim.fs
        with translate_errors(claim.url, "writing"):
            try:
                fs.pipe_file(claim.fs_path, b"")
            except FileNotFoundError:
                fs.makedirs(self._claims.fs_path, exist_ok=True)
                fs.pipe_file(claim.fs_path, b"")
        try:
            yield claimed_at
        finally:
            with translate_errors(claim.url, "deleting"), contextlib.suppress(FileNotFoundError):
                fs.rm_file(claim.fs_path)
            fs.invalidate_cache(self._claims.fs_path)

    def _remove_stale_claims(self) -> None:
        """Remove claims left by gcs that died: those older than twice the claim timeout."""
        fs = self._claims.fs
        live = set(self._live_claims(max_age=2 * CLAIM_TIMEOUT))
        for path in self._claim_files():
            # Only claims: whatever else is there is not gc's to delete.
            if path not in live and _CLAIM_NAME.fullmatch(path.rstrip("/").rsplit("/", 1)[-1]):
                with translate_errors(path, "deleting"), contextlib.suppress(FileNotFoundError):
                    fs.rm_file(path)

    # --- reading --------------------------------------------------------------------------

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
        return _stored_object(location, state, digest)

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
        return file

    def datafile(self, handle: str) -> Datafile:
        """The content as a :class:`~octstore.Datafile` (named by its hash), read through the
        cache; one metadata request.

        Raises:
            InvalidHandleError: If ``handle`` is not a handle.
            NotFoundError: If its content is not in the store.
        """
        location, state, _, _ = self._stat(handle)
        return Datafile._assemble(location, state.metadata, state)

    def fetch(
        self,
        handle: str,
        download_path: str | os.PathLike[str] = ".",
        *,
        overwrite: bool = False,
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
            if _sha256_file(target) == digest:
                return target
            if not overwrite:
                raise AlreadyExistsError(
                    f"{target} exists with other content than {handle}: pass overwrite=True "
                    "to replace it, or fetch to another path"
                )
        location, state, _, _ = self._stat(handle)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        temporary = cache.temporary_path_beside(
            os.path.join(os.path.dirname(target), _TEMPORARY_NAME)
        )
        try:
            cache.copy_out(location, state, temporary, backend_for(location).download)
            actual = _sha256_file(temporary)
            if actual != digest:
                raise IntegrityError(
                    f"{location.url} does not hold the content of {handle} (its SHA-256 is "
                    f"{actual}): the object is damaged; delete it and add the content again"
                )
            os.replace(temporary, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)
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
                objects.append(_stored_object(location, state, match["h"]))
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
        with self._claim(digest):
            try:
                backend_for(location).delete(location)
            except NotFoundError as error:
                raise self._not_found(handle) from error
        _remove_empty_shards(location)

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
        if isinstance(referenced, str):
            raise InvalidHandleError(
                f"referenced={referenced!r} is one string: pass a set of handles"
            )
        keep: dict[str, str] = {}
        for handle in referenced:
            digest, _ = split_handle(handle)
            keep.setdefault(digest, handle)
        objects = self.list()
        stored = {item.sha256 for item in objects}
        report = GcReport(grace=grace, dry_run=dry_run)
        report.missing = sorted(handle for digest, handle in keep.items() if digest not in stored)
        now = _now()
        candidates = []
        for item in objects:
            if item.sha256 in keep:
                report.kept_referenced.append(item)
            elif item.added is None:
                report.kept_unknown.append(item)
            elif now - item.added <= grace:
                report.kept_recent.append(item)
            else:
                candidates.append(item)
        if dry_run:
            report.deleted = candidates
            return report
        self._remove_stale_claims()
        kept: dict[_Outcome, list[StoredObject]] = {
            "deleted": report.deleted,
            "recent": report.kept_recent,
            "unknown": report.kept_unknown,
            "busy": report.kept_busy,
            "gone": [],
        }
        with ThreadPoolExecutor(GC_CONCURRENCY, thread_name_prefix="octstore-gc") as pool:
            outcomes = pool.map(lambda item: self._collect(item, grace), candidates)
            for item, outcome in zip(candidates, outcomes, strict=True):
                kept[outcome].append(item)
        return report

    def _collect(self, item: StoredObject, grace: timedelta) -> _Outcome:
        """Delete one object under a claim if it is still older than ``grace``."""
        location = self._object(item.sha256)
        backend = backend_for(location)
        with self._claim(item.sha256) as claimed_at:
            try:
                state = backend.stat(location)
            except NotFoundError:
                return "gone"
            added = _added(state.metadata)
            if added is None:
                return "unknown"
            if _now() - added <= grace:
                return "recent"
            if time.monotonic() - claimed_at > CLAIM_TIMEOUT.total_seconds() / 2:
                return "busy"
            try:
                backend.delete(location)
            except NotFoundError:
                return "gone"
        _remove_empty_shards(location)
        return "deleted"

    # --- serving --------------------------------------------------------------------------

    def route(self, handle: str) -> WSGIApplication:
        """A WSGI application that serves ``handle``'s content at any path (see
        :func:`octstore.http.route`; needs the ``http`` extra)."""
        from octstore import http

        return http.route(self, handle)

    def __repr__(self) -> str:
        return redact(f"Store({self.url!r})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Store) and other._root == self._root

    def __hash__(self) -> int:
        return hash(self._root)


# --- helpers ------------------------------------------------------------------------------


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _nanoseconds(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1e9)


def _added(metadata: Metadata | None) -> datetime | None:
    """When the object was last added, from its metadata; None if it does not say."""
    value = metadata.tags.get("added") if metadata else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _names(metadata: Metadata | None) -> tuple[str, ...]:
    value = metadata.tags.get("names") if metadata else None
    if not isinstance(value, list):
        return ()
    return tuple(name for name in value if isinstance(name, str))


def _touched(metadata: Metadata | None, filename: str, now: datetime) -> Metadata:
    """``metadata`` recording an add of ``filename`` at ``now``."""
    base = metadata or Metadata(timestamp=now)
    names = list(_names(base))
    if filename not in names:
        names = [*names, filename][-MAX_NAMES:]
    tags = TagDict({**base.tags, "names": names, "added": now.isoformat()})
    return Metadata(id=base.id, timestamp=base.timestamp or now, labels=base.labels, tags=tags)


def _stored_object(location: Location, state: ObjectState, digest: str) -> StoredObject:
    return StoredObject(
        sha256=digest,
        size=state.size,
        created=state.metadata.timestamp if state.metadata else None,
        added=_added(state.metadata),
        names=_names(state.metadata),
        url=location.url,
    )


def _remove_empty_shards(location: Location) -> None:
    """Remove the directories of a deleted local object if they are empty now. (An add
    that made one and is about to store into it finds it gone, and looks again.)"""
    if not location.is_local:
        return
    shard = os.path.dirname(location.url)
    for directory in (shard, os.path.dirname(shard)):
        try:
            os.rmdir(directory)
        except OSError:  # not empty, or already gone
            return


@contextlib.contextmanager
def _source_for_put(staged: str, backend: MetadataBackend, location: Location) -> Iterator[str]:
    """A file with the staged content for ``backend.put``, which may consume it: the add
    keeps ``staged`` until it returns, since a racing delete may make it store it again."""
    if not backend.consumes_source(location):
        yield staged
        return
    source = cache.temporary_path_beside(staged)
    os.remove(source)
    try:
        os.link(staged, source)
    except OSError:
        shutil.copyfile(staged, source)
    try:
        yield source
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(source)


@contextlib.contextmanager
def _chunks(content: _Content) -> Iterator[Iterator[bytes]]:
    """``content`` (bytes, a local path or a binary file) as chunks of at most CHUNK_SIZE."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        view = memoryview(content).cast("B")
        yield (bytes(view[i : i + CHUNK_SIZE]) for i in range(0, len(view), CHUNK_SIZE))
        return
    if isinstance(content, (str, os.PathLike)):
        path = os.fspath(content)
        with translate_errors(path, "reading"):
            try:
                file = open(path, "rb")  # noqa: SIM115
            except FileNotFoundError:
                raise NotFoundError(
                    f"{path} does not exist: a str is taken as the path of the file to add; "
                    "pass bytes to add content itself"
                ) from None
        with file:
            yield _read_chunks(file.read, path)
        return
    read = getattr(content, "read", None)
    if not callable(read):
        raise OctstoreError(
            f"cannot add {type(content).__name__}: pass bytes, a local path or a binary file"
        )
    yield _read_chunks(read, repr(content))


def _read_chunks(read: Callable[[int], Any], where: str) -> Iterator[bytes]:
    while True:
        chunk = read(CHUNK_SIZE)
        if not chunk:
            return
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise OctstoreError(
                f"{where} gave {type(chunk).__name__}, not bytes: open it in binary mode ('rb')"
            )
        yield bytes(chunk)


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as file:
        while chunk := file.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()
