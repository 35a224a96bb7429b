"""The names octue's ``Dataset`` has that octstore spells otherwise, so that octue code runs
unchanged: each is a thin view of octstore's own (see the migration page)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from octstore.dataset import conversions, signed
from octstore.hashing import canonical_json, crc32c_bytes
from octstore.redaction import redact
from octstore.signing import DEFAULT_EXPIRATION

if TYPE_CHECKING:
    from octstore.dataset.dataset import Dataset
    from octstore.dataset.transfer import TransferReport

__all__ = ["OctueNames"]


def _dataset(names: OctueNames) -> Dataset:
    return cast("Dataset", names)


class OctueNames:
    """octue's names on :class:`~octstore.Dataset`."""

    def __enter__(self) -> Dataset:
        """``with Dataset(path) as dataset:`` stores the metadata changed in the block
        (``update_metadata()``) when it ends cleanly, and nothing when it raises."""
        return _dataset(self)

    def __exit__(
        self, kind: type[BaseException] | None, error: object, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            _dataset(self).update_metadata()

    @property
    def all_files_are_in_cloud(self) -> bool:
        """Whether every file is remote or has a cloud copy (True for no files, as octue's);
        no request."""
        return all(datafile.cloud_path is not None for datafile in _dataset(self)._files.values())

    @property
    def metadata_hash_value(self) -> str:
        """The CRC32C (GCS encoding) of the dataset's own name, labels and tags, as octue's
        (its id and files left out): equal for datasets described alike."""
        dataset = _dataset(self)
        own = {"labels": sorted(dataset.labels), "name": dataset.name, "tags": dict(dataset.tags)}
        return crc32c_bytes(canonical_json(own).encode("utf-8"))

    @classmethod
    def from_cloud(cls, cloud_path: str, recursive: bool = True, **dataset: Any) -> Dataset:
        """octue's name for ``Dataset(cloud_path)``."""
        return cast("type[Dataset]", cls)(cloud_path, recursive=recursive, **dataset)

    @classmethod
    def from_local_directory(
        cls, path_to_directory: str | os.PathLike[str], recursive: bool = True, **dataset: Any
    ) -> Dataset:
        """octue's name for ``Dataset(path_to_directory)``."""
        return cast("type[Dataset]", cls)(path_to_directory, recursive=recursive, **dataset)

    def to_cloud(self, cloud_path: str | None = None) -> str:
        """octue's name for ``upload(cloud_path)``; returns where the dataset is now."""
        dataset = _dataset(self)
        dataset.upload(cloud_path)
        assert dataset.path is not None
        return dataset.path

    def download_all_files(
        self,
        local_directory: str | os.PathLike[str] | None = None,
        *,
        callback: Callback = DEFAULT_CALLBACK,
    ) -> TransferReport:
        """octue's name for ``download(local_dir)``."""
        return _dataset(self).download(local_directory, callback=callback)

    def generate_signed_url(
        self, expiration: timedelta | float = DEFAULT_EXPIRATION, *, credentials: Any = None
    ) -> str:
        """A URL from which ``Dataset(url)`` loads this dataset, its metadata and files, and
        reads every file, with no credentials, until ``expiration`` has passed: a document
        in the dataset's root (``.octstore-signed-<hex>.json``, left out of listings) names
        each file by a signed URL of its own.

        Args:
            expiration: How long the URLs work: a ``timedelta``, or seconds.
            credentials: For GCS, ``google.auth`` credentials that can sign.

        Raises:
            OctstoreError: If the dataset or one of its files is not in the cloud, or the
                filesystem (or credentials) cannot sign.
        """
        return signed.sign(_dataset(self), expiration, credentials)

    def to_primitive(self) -> dict[str, Any]:
        """octue's serialised form: the dataset's own metadata and its files' paths (no
        credentials), which ``deserialise`` (octstore's or octue's) reads back."""
        dataset = _dataset(self)
        paths = sorted(redact(datafile.path, mask=None) for datafile in dataset)
        return conversions.own_fields(dataset) | {"files": paths}

    @classmethod
    def deserialise(cls, serialised: Mapping[str, Any]) -> Dataset:
        """The dataset ``to_primitive`` (or octue's) described: its files read afresh from
        their paths, its own metadata as given."""
        return cast("type[Dataset]", cls).from_dict(serialised)
