"""Datasets as tables: ``to_pandas()`` and ``to_arrow()`` from the metadata a dataset holds,
on every backend, with no request; and a folder octstore wrote read as data by pyarrow."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from octstore import BackendNotInstalledError, Datafile, Dataset
from octstore import cache as cache_module
from tests.conftest import Backend

on_cloud = pytest.mark.parametrize("backend", ["s3", "gcs", "az"], indirect=True)
on_local = pytest.mark.parametrize("backend", ["local"], indirect=True)
FIXED = ["name", "path", "size", "timestamp", "id", "labels"]
WHEN = datetime(2024, 5, 4, 17, 57, 57, 136739, tzinfo=timezone.utc)


def write(backend: Backend, name: str, data: bytes = b"x", **metadata: Any) -> Datafile:
    df = Datafile(backend.url(name), storage_options=backend.storage_options, **metadata)
    with df.open("wb") as f:
        f.write(data)
    return df


def load(backend: Backend) -> Dataset:
    return Dataset(backend.root, storage_options=backend.storage_options)


@pytest.fixture
def corpus(backend: Backend) -> Backend:
    write(backend, "a.csv", b"12345", labels=["raw", "wind"], tags={"site": "north", "h": 80})
    write(backend, "sub/b.csv", b"12", timestamp=WHEN, tags={"site": "south", "ok": True})
    backend.write("c.txt", b"no metadata")
    return backend


def test_to_pandas_has_a_row_per_datafile_with_its_metadata(corpus: Backend) -> None:
    ds = load(corpus)

    table = ds.to_pandas()

    assert list(table.columns) == [*FIXED, "tags.h", "tags.ok", "tags.site"]
    assert list(table["path"]) == [df.path for df in ds]  # the dataset's order
    assert list(table["name"]) == ["a.csv", "c.txt", "b.csv"]
    assert list(table["size"]) == [5, 11, 2]
    assert list(table["id"]) == [df.id for df in ds]
    assert list(table["labels"]) == [["raw", "wind"], [], []]
    assert table["timestamp"][2] == pd.Timestamp(WHEN)
    assert table["timestamp"][:2].isna().all()
    assert table["tags.site"].tolist() == ["north", pd.NA, "south"]
    assert table["tags.h"].tolist() == [80, pd.NA, pd.NA]


def test_to_pandas_column_types(corpus: Backend) -> None:
    dtypes = load(corpus).to_pandas().dtypes

    assert str(dtypes["timestamp"]) == "datetime64[us, UTC]"
    assert str(dtypes["size"]) == "Int64"
    assert str(dtypes["tags.h"]) == "Int64"
    assert str(dtypes["tags.ok"]) == "boolean"
    assert all(isinstance(dtypes[name], pd.StringDtype) for name in ("name", "path", "id"))


def test_to_arrow_has_the_same_rows_with_arrow_types(corpus: Backend) -> None:
    ds = load(corpus)

    table = ds.to_arrow()

    assert table.schema.names == list(ds.to_pandas().columns)
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("labels").type == pa.list_(pa.string())
    assert table.schema.field("size").type == pa.int64()
    assert table.schema.field("tags.h").type == pa.int64()
    assert table.column("size").to_pylist() == [5, 11, 2]
    assert table.column("labels").to_pylist() == [["raw", "wind"], [], []]
    assert table.column("timestamp").to_pylist() == [None, None, WHEN]
    assert table.column("tags.site").to_pylist() == ["north", None, "south"]
    assert table.column("id").to_pylist() == [df.id for df in ds]


@on_cloud
def test_tables_of_a_loaded_dataset_make_no_request(corpus: Backend) -> None:
    ds = load(corpus)

    with corpus.server.recording() as requests:
        pandas_table, arrow_table = ds.to_pandas(), ds.to_arrow()

    assert requests == []
    assert list(pandas_table["size"]) == arrow_table.column("size").to_pylist() == [5, 11, 2]


def test_tables_read_no_content(corpus: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = load(corpus)
    downloads: list[str] = []
    monkeypatch.setattr(
        cache_module.entries, "download", lambda *args: downloads.append(args[0].url)
    )

    ds.to_pandas()
    ds.to_arrow()

    assert downloads == []


def test_metadata_changed_in_memory_shows_in_the_table(corpus: Backend) -> None:
    ds = load(corpus)
    first = next(iter(ds))
    first.labels.add("checked")
    first.tags["site"] = "east"

    table = ds.to_arrow()

    assert table.column("labels")[0].as_py() == ["checked", "raw", "wind"]
    assert table.column("tags.site")[0].as_py() == "east"


def test_changing_a_table_leaves_the_datafiles_unchanged(backend: Backend) -> None:
    write(backend, "a.csv", labels=["raw"], tags={"calibration": {"gain": [1, 2]}})
    ds = load(backend)
    before = [df.to_dict() for df in ds]

    table = ds.to_pandas()
    table["labels"][0].append("not-in-the-dataset")
    table["tags.calibration"][0]["gain"].append(3)

    assert [df.to_dict() for df in ds] == before
    assert load(backend).files.one().tags["calibration"] == {"gain": [1, 2]}


def test_tag_columns_never_clash_with_the_fixed_columns() -> None:
    ds = Dataset(
        files=[Datafile.from_dict({"path": "memory://tables/a.csv", "tags": {"name": "tag"}})]
    )

    table = ds.to_pandas()

    assert (table["name"][0], table["tags.name"][0]) == ("a.csv", "tag")


def test_a_datafile_the_dataset_knows_no_size_of_has_a_missing_size() -> None:
    ds = Dataset(files=[Datafile.from_dict({"path": "memory://tables/a.csv"})])

    assert ds.to_pandas()["size"].isna().all()
    assert ds.to_arrow().column("size").to_pylist() == [None]


def test_tag_values_sharing_no_arrow_type_become_json_strings() -> None:
    ds = Dataset(
        files=[
            Datafile.from_dict({"path": f"memory://tables/{i}.csv", "tags": {"v": value}})
            for i, value in enumerate([1, "one", {"b": [1, 2], "a": None}, None])
        ]
    )

    assert ds.to_arrow().column("tags.v").to_pylist() == [
        "1",
        '"one"',
        '{"a":null,"b":[1,2]}',
        None,
    ]
    assert ds.to_pandas()["tags.v"].tolist() == [1, "one", {"a": None, "b": [1, 2]}, None]


def test_an_empty_dataset_is_a_table_of_the_fixed_columns() -> None:
    ds = Dataset(files=[])

    assert list(ds.to_pandas().columns) == FIXED
    assert len(ds.to_pandas()) == 0
    assert ds.to_arrow().schema.names == FIXED
    assert ds.to_arrow().num_rows == 0


@pytest.mark.parametrize(("method", "module"), [("to_pandas", "pandas"), ("to_arrow", "pyarrow")])
def test_a_missing_table_library_names_the_extra_that_brings_it(
    method: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import fails, as when not installed
    ds = Dataset(files=[Datafile.from_dict({"path": "memory://tables/a.csv"})])

    with pytest.raises(BackendNotInstalledError, match=rf"pip install 'octstore\[{module}\]'"):
        getattr(ds, method)()


# --- a folder octstore wrote, read as data -------------------------------------------------


@pytest.fixture
def parquet_folder(backend: Backend) -> Backend:
    """Parquet files with octstore metadata (sidecars where the backend keeps them) and a
    manifest, in a folder and a subfolder."""
    for name, rows in [("part-0.parquet", [1, 2]), ("more/part-1.parquet", [3])]:
        df = Datafile(
            backend.url(name), labels=["raw"], tags={"rows": len(rows)},
            storage_options=backend.storage_options,
        )  # fmt: skip
        with df.open("wb") as f:
            pq.write_table(pa.table({"x": rows}), f)
    ds = load(backend)
    ds.labels.add("tables")
    ds.update_metadata()  # writes .octstore-dataset.json
    return backend


def test_pyarrow_dataset_reads_a_folder_octstore_wrote_skipping_its_hidden_files(
    parquet_folder: Backend,
) -> None:
    backend = parquet_folder
    hidden = [p for p in backend.fs.find(backend.root) if p.rsplit("/", 1)[-1].startswith(".")]
    assert any(p.endswith(".octstore-dataset.json") for p in hidden)
    if backend.name in ("local", "memory"):
        assert any(p.endswith(".part-0.parquet.octstore.json") for p in hidden)

    if backend.name == "local":
        data = pads.dataset(backend.root, format="parquet")
    else:  # through the fsspec filesystem, which pyarrow wraps itself
        _, path = fsspec.core.url_to_fs(backend.root, **backend.storage_options)
        data = pads.dataset(path, filesystem=backend.fs)

    assert sorted(data.to_table().column("x").to_pylist()) == [1, 2, 3]
    assert len(data.files) == 2
