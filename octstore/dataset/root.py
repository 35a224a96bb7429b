"""Where a dataset lives: its root folder or prefix, the names that say where that is
(octue's among them), the name the dataset takes from it, and writing the dataset's manifest
there on the side it is on."""

from __future__ import annotations

from octstore.errors import OctstoreError
from octstore.location import Location

__all__ = ["RootHolder"]


class RootHolder:
    """An object kept in a root folder or prefix, ``_location`` (None: it has none).

    Its name is the one it was given, or the last part of its root's path: a name taken
    from the path follows the object when it moves (``Dataset.upload``, ``download``).
    """

    _location: Location | None
    _name: str | None
    _name_given: bool

    def _name_from(self, name: str | None, stored: str | None = None) -> None:
        """Take ``name``, else the ``stored`` one unless it is just the root's, else the
        root's."""
        root_name = self._location.name if self._location else None
        self._name_given = name is not None or stored not in (None, root_name)
        self._name = name if name is not None else (stored or root_name)

    @property
    def name(self) -> str | None:
        """The name: the one given, or the last part of the root's path."""
        return self._name

    @name.setter
    def name(self, value: str | None) -> None:
        self._name, self._name_given = value, value is not None

    def _name_at(self, root: Location) -> str | None:
        """The name this would have at ``root``: its own, if given, else the root's."""
        return self._name if self._name_given else root.name

    @property
    def path(self) -> str | None:
        """The directory or prefix the dataset is at, if any."""
        return self._location.url if self._location else None

    @property
    def exists_in_cloud(self) -> bool:
        """Whether the root is remote (a prefix: no request is made, as a prefix exists
        whenever an object under it does)."""
        return self._location is not None and not self._location.is_local

    @property
    def exists_locally(self) -> bool:
        """Whether the root is a local directory (which may not have been made yet)."""
        return self._location is not None and self._location.is_local

    @property
    def cloud_path(self) -> str | None:
        """The root's URL if it is remote, else None."""
        return self.path if self.exists_in_cloud else None

    @property
    def bucket_name(self) -> str | None:
        """The bucket (the first part of a remote root's path), or None."""
        return self._bucket_and_path()[0]

    @property
    def path_in_bucket(self) -> str | None:
        """A remote root's path inside its bucket, or None."""
        return self._bucket_and_path()[1]

    def _bucket_and_path(self) -> tuple[str, str] | tuple[None, None]:
        if self._location is None or self._location.is_local:
            return None, None
        bucket, _, path = self._location.fs_path.strip("/").partition("/")
        return bucket, path

    def update_cloud_metadata(self) -> None:
        """Write the dataset's manifest (its own metadata, its files' states) into its
        remote root: octue's name, for a dataset in the cloud.

        Raises:
            OctstoreError: If the dataset has no root, or a local one.
        """
        self._save_manifest(self._root_on("cloud"))

    def update_local_metadata(self) -> None:
        """Write the dataset's manifest into its local root directory (made if missing):
        octue's name, for a local dataset.

        Raises:
            OctstoreError: If the dataset has no root, or a remote one.
        """
        self._save_manifest(self._root_on("local"))

    def _root_on(self, side: str) -> Location:
        """The root, if it is on ``side`` (``cloud`` or ``local``)."""
        if self._location is None:
            raise OctstoreError(
                f"the dataset {self.name!r} has no root directory or prefix to keep its "
                "metadata in: make it with Dataset(path), or upload() it"
            )
        if (side == "cloud") != self.exists_in_cloud:
            raise OctstoreError(
                f"the dataset {self.name!r} is at {self._location.url}, not {side}: use "
                "update_metadata(), which writes wherever the dataset is"
            )
        return self._location

    def _save_manifest(self, root: Location) -> None:
        raise NotImplementedError  # pragma: no cover  # Dataset writes its manifest
