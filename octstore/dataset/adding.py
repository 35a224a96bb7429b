"""What a dataset can be given as its files, and copying a file into a dataset's folder
(``Dataset.add(datafile, path_in_dataset=...)``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from octstore.datafile import Datafile, interface, names
from octstore.dataset.transfer import copy_one_state
from octstore.errors import InvalidArgumentError, OctstoreError, UnsafePathError
from octstore.location import Location, relative_path
from octstore.path_objects import is_path

__all__ = ["DatafileLike", "copy_into", "datafile_of", "files_of"]

#: What a dataset takes as one of its files.
DatafileLike = Datafile | str | os.PathLike[str] | Mapping[str, Any]

_TAKES = "a Datafile, a path or URL (or path object), or a Datafile.to_dict() dict"


def files_of(files: Iterable[DatafileLike] | None) -> Iterable[DatafileLike]:
    """``files``, checked to be a collection of files rather than one (a path, a dict).

    Raises:
        InvalidArgumentError: If it is not an iterable, or is a ``str``, ``bytes``, path or
            mapping (which iterate characters or keys).
    """
    if files is None:
        return ()
    if isinstance(files, (str, bytes, os.PathLike, Mapping)) or not isinstance(files, Iterable):
        example = f"files=[{files!r}]" if isinstance(files, (str, os.PathLike)) else "files=[...]"
        raise InvalidArgumentError(
            f"files={files!r} is a {type(files).__name__}, not a list of files: give a list "
            f"(or other iterable) of which each is {_TAKES}, such as {example}"
        )
    return files


def datafile_of(file: object, storage_options: dict[str, Any]) -> Datafile:
    """The datafile ``file`` is or describes.

    Raises:
        InvalidArgumentError: If it is none of what a dataset takes.
    """
    if isinstance(file, Datafile):
        return file
    if isinstance(file, Mapping):
        return Datafile.from_dict(dict(file))
    if is_path(file):
        return Datafile(file, storage_options=storage_options)  # type: ignore[arg-type]
    raise InvalidArgumentError(
        f"a dataset cannot hold a {type(file).__name__} ({file!r}): give it {_TAKES}"
    )


def is_under(root: Location, datafile: Datafile) -> bool:
    """Whether ``datafile`` (or its other copy) is inside ``root``."""
    prefix = root.url.rstrip("/") + ("/" if not root.is_local else os.sep)
    places = (datafile.path, datafile.cloud_path, interface.local_copy_of(datafile))
    return any(place is not None and place.startswith(prefix) for place in places)


def copy_into(
    root: Location | None, datafile: Datafile, path_in_dataset: str, *, overwrite: bool
) -> Location:
    """Copy ``datafile``, content and metadata, to ``path_in_dataset`` under ``root``
    (writing only what differs), and move ``datafile`` there (see ``interface.moved_to``);
    return where the copy is.

    Raises:
        OctstoreError: If there is no ``root``.
        UnsafePathError: If ``path_in_dataset`` would leave ``root``; nothing was written.
        AlreadyExistsError: If other content is there and ``overwrite`` is False.
    """
    if root is None:
        raise OctstoreError(
            f"{datafile.path} cannot be copied into a dataset with no root directory or "
            "prefix: make the dataset with Dataset(path), or add the file without "
            "path_in_dataset"
        )
    try:
        relative = relative_path(os.fspath(path_in_dataset).replace(os.sep, "/"))
    except ValueError as error:
        raise UnsafePathError(
            f"path_in_dataset={path_in_dataset!r} would place {datafile.path} outside the "
            f"dataset at {root.url} ({str(error).split(': ', 1)[-1]}); nothing was written: "
            "give a path relative to the dataset's root, such as 'raw/a.csv'",
            key=os.fspath(path_in_dataset),
        ) from None
    destination = root.child(relative)
    names.check_writable(destination)  # not a name octstore keeps for its own files
    _, written = copy_one_state(datafile, destination, overwrite=overwrite)
    interface.moved_to(datafile, destination, written)
    return destination
