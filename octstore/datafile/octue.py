"""The names octue's ``Datafile`` has that octstore spells otherwise, so that octue code runs
unchanged: each is a thin view of octstore's own (see the migration page)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from octstore import signing
from octstore.datafile import linked
from octstore.errors import InvalidArgumentError, NotFoundError, OctstoreError
from octstore.signing import DEFAULT_EXPIRATION

if TYPE_CHECKING:
    from octstore.datafile.datafile import Datafile

__all__ = ["OctueNames"]


class OctueNames:
    """octue's names on :class:`~octstore.Datafile`."""

    __slots__ = ()

    @property
    def size_bytes(self) -> int | None:
        """The content's size in bytes (octue's name for ``size``); None while there is no
        content yet."""
        try:
            return _datafile(self).size
        except NotFoundError:
            return None

    @property
    def posix_timestamp(self) -> float | None:
        """The timestamp in seconds since the epoch, or None."""
        timestamp = _datafile(self).timestamp
        return None if timestamp is None else timestamp.timestamp()

    @property
    def bucket_name(self) -> str | None:
        """The bucket (or container) of ``cloud_path``, or None if there is none."""
        return _bucket_and_key(_datafile(self).cloud_path)[0]

    @property
    def path_in_bucket(self) -> str | None:
        """The key of ``cloud_path`` in its bucket, or None if there is none."""
        return _bucket_and_key(_datafile(self).cloud_path)[1]

    @property
    def _last_modified(self) -> float | None:
        """When the content last changed, in seconds since the epoch, if known (octue's)."""
        datafile = _datafile(self)
        if datafile._location.is_local:
            try:
                return os.path.getmtime(datafile.path)
            except FileNotFoundError:
                return None
        state = datafile._state
        details = state.details if state else {}
        modified = details.get("LastModified") or details.get("updated")  # S3's, GCS's
        return datetime.fromisoformat(modified).timestamp() if modified else None

    @property
    def _local_path(self) -> str | None:
        """The local file with the content, without downloading: a local file's path, a
        remote file's local copy (``local_path=``), else None (octue's)."""
        datafile = _datafile(self)
        if datafile._location.is_local:
            return datafile.path
        return datafile._linked.location.url if datafile._linked else None

    @property
    def _open_attributes(self) -> dict[str, Any]:
        """The mode ``with datafile`` opens it in: the last ``open()``'s (octue's)."""
        return {"mode": _datafile(self)._mode}

    def update_cloud_metadata(self) -> None:
        """Store the metadata in the cloud object: ``update_metadata()`` of a remote file, or
        the changes made since the last upload, applied to what the cloud copy a local file
        was uploaded to (``cloud_path``) stores now.

        Raises:
            OctstoreError: For a local file with no ``cloud_path``.
        """
        if not linked.store_on_other_copy(_datafile(self), remote=True):
            raise OctstoreError(
                f"{_datafile(self).path} is a local file with no cloud_path to store its "
                "metadata at: upload(cloud_path) it first, or call update_metadata() to store "
                "it locally"
            )

    def update_local_metadata(self) -> None:
        """Store the metadata in the local sidecar file: ``update_metadata()`` of a local
        file, or the changes made since it was read, in the sidecar of the local copy a
        remote file was given (``local_path=``).

        Raises:
            OctstoreError: For a remote file with no local copy of its own.
        """
        if not linked.store_on_other_copy(_datafile(self), remote=False):
            raise OctstoreError(
                f"{_datafile(self).path} is a remote file with no local copy to store its metadata "
                "beside: set its local_path first, or call update_metadata() to store it in "
                "the cloud"
            )

    def generate_signed_url(
        self, expiration: timedelta | float = DEFAULT_EXPIRATION, *, credentials: Any = None
    ) -> str:
        """A URL that reads the content without credentials until ``expiration`` has passed:
        of a remote file, or of a local one's cloud copy (``cloud_path``). A ``Datafile`` made
        from it reads the content and metadata, and refuses writes.

        Args:
            expiration: How long the URL works: a ``timedelta``, or seconds (a week at most
                on S3).
            credentials: For GCS, ``google.auth`` credentials that can sign (a service
                account's), if the filesystem's own cannot.

        Raises:
            OctstoreError: For a local file with no cloud copy, or a filesystem (or
                credentials) that cannot sign.
        """
        datafile = _datafile(self)
        location = linked.remote_location(datafile)
        if location is None:
            raise OctstoreError(
                f"{datafile.path} is a local file with no cloud copy to sign: "
                "upload(cloud_path) it first"
            )
        return signing.sign(location, expiration, credentials)

    def __enter__(self) -> tuple[Datafile, Any]:
        """Open the datafile in the ``mode`` it was made with (``"r"`` by default): ``with
        Datafile(path, mode="w") as (datafile, f):``. On a clean exit the content and
        metadata are stored as ``open()``'s block stores them; if the block raises, nothing
        is."""
        datafile = _datafile(self)
        if datafile._opened is not None:
            raise OctstoreError(
                f"{datafile.path} is already open in a with block: close that block first"
            )
        opened = datafile.open(datafile._mode)
        file = opened.__enter__()
        datafile._opened = opened
        return datafile, file

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        datafile = _datafile(self)
        opened, datafile._opened = datafile._opened, None
        if opened is None:
            return None
        return opened.__exit__(kind, error, traceback)

    def __lt__(self, other: object) -> bool:
        """Datafiles order by ``path``."""
        if not isinstance(other, OctueNames):
            return NotImplemented
        return _datafile(self).path < _datafile(other).path

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, OctueNames):
            return NotImplemented
        return _datafile(self).path > _datafile(other).path


def _datafile(names: OctueNames) -> Datafile:
    return cast("Datafile", names)


def either(name: str, value: Any, default: Any, octue_name: str, octue_value: Any) -> Any:
    """The value of a keyword that octue spells ``octue_name``: the one given.

    Raises:
        InvalidArgumentError: If both are given, with different values.
    """
    if octue_value is None:
        return value
    if value != default and value != octue_value:
        raise InvalidArgumentError(
            f"{name}={value!r} and {octue_name}={octue_value!r} (octue's name for it) "
            f"disagree: give only {name}"
        )
    return octue_value


def _bucket_and_key(url: str | None) -> tuple[str | None, str | None]:
    if url is None:
        return None, None
    bucket, _, key = url.split("://", 1)[-1].partition("/")
    return bucket, key
