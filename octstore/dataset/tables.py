"""A dataset as a table (``Dataset.to_pandas`` / ``Dataset.to_arrow``): one row per datafile,
from the metadata the dataset already holds, with no request and no content transfer.

The columns, in order:

========== =========================================== =====================================
column     pandas dtype                                pyarrow type
========== =========================================== =====================================
name       string                                      string
path       string                                      string
size       Int64 (<NA> where unknown)                  int64 (null where unknown)
timestamp  datetime64[us, UTC] (NaT where none)        timestamp('us', tz='UTC')
id         string                                      string
labels     object: a sorted list of strings            list<string>
tags.<n>   inferred from the values (<NA>/None where   inferred; JSON strings where the
           a file has no tag ``n``)                    values share no arrow type
========== =========================================== =====================================

Tag names are lowercase letters, digits and ``_``, never ``.``, so a ``tags.`` column never
clashes with a fixed one, whatever the tags are called (``tags.name`` is a tag, ``name`` the
file's name); the same names ``pandas.json_normalize`` gives ``to_dict()``'s nested tags.

The columns are built as lists in one pass over the files and handed to pandas or pyarrow
whole, never row by row: 100,000 datafiles take well under a second (``bench/bench_tables.py``).
"""

from __future__ import annotations

import contextlib
import copy
import gc
import importlib
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from octstore.datafile import Datafile, interface
from octstore.errors import BackendNotInstalledError
from octstore.hashing import canonical_json

if TYPE_CHECKING:
    from octstore.dataset.dataset import Dataset

__all__ = ["TAG_PREFIX", "Tables"]

#: What a tag's column name starts with: ``tags.site`` for the tag ``site``.
TAG_PREFIX = "tags."


class Columns:
    """A table's columns as Python lists, one entry per datafile, and its tags by name.

    Each column is one comprehension over the files (a loop of appends takes twice as long).
    """

    def __init__(self, files: Iterable[Datafile]) -> None:
        files = list(files)
        metadata = [interface.metadata_view(datafile) for datafile in files]
        states = [interface.known_state(datafile) for datafile in files]
        self.name = [datafile.name for datafile in files]
        self.path = [datafile.path for datafile in files]
        self.size = [state.size if state is not None else None for state in states]
        self.timestamp = [each.timestamp for each in metadata]
        self.id = [str(each.id) for each in metadata]
        self.labels = [sorted(each.labels) for each in metadata]
        self.tags: dict[str, list[Any]] = {}
        for row, each in enumerate(metadata):
            for tag, value in each.tags.items():
                column = self.tags.get(tag)
                if column is None:
                    column = self.tags[tag] = [None] * len(files)
                # A list or dict is the metadata's own: the table gets a copy to change.
                column[row] = copy.deepcopy(value) if isinstance(value, (list, dict)) else value

    def tag_columns(self) -> dict[str, list[Any]]:
        """A column per tag, ``tags.<name>``, in the order of the names."""
        return {TAG_PREFIX + tag: self.tags[tag] for tag in sorted(self.tags)}


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector while a table is built. The columns hold no cycles
    (refcounting frees what they leave), but their 100,000s of new lists set off a full
    collection, which walks every object of the process: with a loaded dataset's datafiles,
    that is most of a second, longer than the table itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _dataset(tables: Tables) -> Dataset:
    return cast("Dataset", tables)


def _module(name: str, method: str) -> ModuleType:
    """The optional module ``name`` that ``method`` needs.

    Raises:
        BackendNotInstalledError: If it is not installed, naming the extra that brings it.
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise BackendNotInstalledError(
            f"Dataset.{method}() needs {name}, which is not installed ({error}): pip install "
            f"'octstore[{name}]'"
        ) from error


class Tables:
    """The dataset as a pandas ``DataFrame`` or a pyarrow ``Table``."""

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with one row per datafile, in the dataset's order (by
        path): ``name``, ``path``, ``size``, ``timestamp``, ``id``, ``labels``, then a
        ``tags.<name>`` column per tag name any datafile has. No request is made and no
        content is read: ``size`` is the size the dataset listed (or a transfer recorded),
        missing (``<NA>``) where it knows none, such as a datafile made with ``from_dict``.

        ``path`` is each datafile's ``path`` as it is (a signed URL keeps its signature,
        which is what reads the file): unlike ``to_dict``, a table is not made to leave the
        process, so check what it holds before you share it.
        ``timestamp`` is ``datetime64[us, UTC]``, ``size`` nullable ``Int64``, ``labels``
        a sorted list of strings per row; a tag's column has the dtype pandas infers for its
        values (``Int64``, ``Float64``, ``boolean``, ``string`` or ``object``).

        Example:
            >>> import octstore
            >>> ds = octstore.Dataset(files=[octstore.Datafile.from_dict(
            ...     {"path": "memory://tables/a.csv", "labels": ["raw"], "tags": {"site": "x"}})])
            >>> table = ds.to_pandas()
            >>> table.loc[0, "name"], table.loc[0, "labels"], table.loc[0, "tags.site"]
            ('a.csv', ['raw'], 'x')

        Raises:
            BackendNotInstalledError: If pandas is not installed (the extra ``pandas``).
        """
        pandas = _module("pandas", "to_pandas")
        with _no_cycle_collection():
            return _pandas_frame(pandas, Columns(_dataset(self)))

    def to_arrow(self) -> Any:
        """A ``pyarrow.Table`` with the columns of :meth:`to_pandas`, also with no request:
        ``name``, ``path``, ``id`` strings, ``size`` int64, ``timestamp``
        ``timestamp('us', tz='UTC')``, ``labels`` ``list<string>``; each ``tags.<name>``
        column has the type pyarrow infers for its values (a ``struct`` for dicts, a
        ``list`` for lists), or is a column of JSON strings (``canonical`` JSON) where the
        values share none, such as a tag that is a number in one file and a string in
        another.

        Example: ``pyarrow.parquet.write_table(ds.to_arrow(), "index.parquet")``.

        Raises:
            BackendNotInstalledError: If pyarrow is not installed (the extra ``pyarrow``).
        """
        pa = _module("pyarrow", "to_arrow")
        with _no_cycle_collection():
            return _arrow_table(pa, Columns(_dataset(self)))


def _arrow_array(pa: ModuleType, values: list[Any]) -> Any:
    """``values`` as an arrow array of the type they share, else as JSON strings."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array(
            [None if value is None else canonical_json(value) for value in values],
            type=pa.string(),
        )


def _pandas_frame(pandas: ModuleType, columns: Columns) -> Any:
    """The ``DataFrame`` of ``columns`` (see :meth:`Tables.to_pandas`)."""
    data = {
        "name": pandas.array(columns.name, dtype="string"),
        "path": pandas.array(columns.path, dtype="string"),
        "size": pandas.array(columns.size, dtype="Int64"),
        "timestamp": pandas.array(
            columns.timestamp, dtype=pandas.DatetimeTZDtype(unit="us", tz="UTC")
        ),
        "id": pandas.array(columns.id, dtype="string"),
        "labels": columns.labels,
    }
    for name, values in columns.tag_columns().items():
        data[name] = pandas.array(values)
    return pandas.DataFrame(data, copy=False)


def _arrow_table(pa: ModuleType, columns: Columns) -> Any:
    """The pyarrow ``Table`` of ``columns`` (see :meth:`Tables.to_arrow`)."""
    arrays = {
        "name": pa.array(columns.name, type=pa.string()),
        "path": pa.array(columns.path, type=pa.string()),
        "size": pa.array(columns.size, type=pa.int64()),
        "timestamp": pa.array(columns.timestamp, type=pa.timestamp("us", tz="UTC")),
        "id": pa.array(columns.id, type=pa.string()),
        "labels": pa.array(columns.labels, type=pa.list_(pa.string())),
    }
    for name, values in columns.tag_columns().items():
        arrays[name] = _arrow_array(pa, values)
    return pa.table(arrays)
