"""Hostile input gets a clear error and changes nothing; garbage on disk is read as absent.

Each input below is tried where a user (or a file written by something else) can give it:
malformed URLs and unknown protocols, invalid labels and tags (look-alike letters, control
characters, NaN, values JSON cannot hold, values nested without end), invalid timestamps,
metadata beyond a backend's limits, header injection through metadata, paths that climb out
of a dataset, unknown storage options; and truncated or garbage manifests, sidecars, object
metadata, octue files and cache records. Refused input raises an ``OctstoreError`` (no other
exception, no traceback from deep inside a library), and the storage and the cache are as
they were. Garbage metadata is ignored with a warning and never stops a dataset loading.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from octstore import (
    Datafile,
    Dataset,
    InvalidLabelError,
    InvalidMetadataError,
    InvalidTagError,
    LabelSet,
    Metadata,
    OctstoreError,
    TagDict,
    TransferError,
    UnsafePathError,
    cache,
)
from octstore.location import Location
from tests.conftest import Backend
from tests.reliability.checks import Stored, stored
from tests.reliability.figures import FIGURES


def snapshot(*roots: Any) -> dict[str, bytes]:
    """Every file under the given backends' roots, and in the cache, with its bytes."""
    files: dict[str, bytes] = {}
    for root in roots:
        root.fs.invalidate_cache()
        with contextlib.suppress(FileNotFoundError):
            for path in root.fs.find(root.root):
                files[path] = root.fs.cat_file(path)
    for path in sorted(cache.cache_root().rglob("*")):
        if path.is_file() and path.parent.name != "locks":
            files[str(path)] = path.read_bytes()
    return files


@contextlib.contextmanager
def refused(
    category: str, error: type[OctstoreError] = OctstoreError, *roots: Any
) -> Iterator[None]:
    """The block must raise ``error`` (an OctstoreError) and change nothing under ``roots``
    or in the cache (but keep the content of a write that failed where the error says)."""
    before = snapshot(*roots)
    with pytest.raises(error) as raised:
        yield
    assert isinstance(raised.value, OctstoreError)
    assert str(raised.value).strip()
    after = snapshot(*roots)
    kept = getattr(raised.value, "kept_at", None)
    if kept is not None:  # the content a write could not write, kept where the error says
        assert after.pop(kept) is not None
    assert after == before
    FIGURES.add("hostile_inputs", category)


@contextlib.contextmanager
def ignored_with_a_warning(category: str, match: str) -> Iterator[None]:
    with pytest.warns(UserWarning, match=match):
        yield
    FIGURES.add("hostile_inputs", category)


def make(backend: Backend, name: str = "data.csv", **kwargs: Any) -> Datafile:
    return Datafile(backend.url(name), storage_options=backend.storage_options, **kwargs)


def written(backend: Backend, name: str = "data.csv", data: bytes = b"x", **kwargs: Any) -> None:
    with make(backend, name, **kwargs).open("wb") as f:
        f.write(data)


# --- paths and URLs -----------------------------------------------------------------------

MALFORMED = [
    "s3://",
    "s3:///key.csv",
    "s3://octstore-test",
    "gs://",
    "gs:///key.csv",
    "gs://octstore-test",
    "memory://",
    "data\x00.csv",
    "s3://octstore-test/a\x00b.csv",
    "a" * 5000,
    "http://[::1",
]
UNKNOWN = ["nosuch://bucket/x.csv", "s4://bucket/x.csv", "S3://bucket/x.csv"]


@pytest.fixture
def servers(s3fs_fs: Any, gcs_fs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """URL-only code reaches the test servers; the working directory is empty."""
    monkeypatch.chdir(tmp_path)


def _named(url: str) -> str:
    """What an error about ``url`` must name: its canonical form, or its protocol."""
    if url in UNKNOWN:
        return url.split("://")[0]
    try:
        return Location(url).url[:20]
    except OctstoreError:
        return repr(url)[1:20]


def _use(url: str, action: str) -> None:
    df = Datafile(url)
    if action == "read":
        with df.open("rb") as f:
            f.read()
    elif action == "write":
        with df.open("wb") as f:
            f.write(b"x")
    else:
        df.labels.add("x")
        df.update_metadata()


@pytest.mark.parametrize(
    "url", MALFORMED + UNKNOWN, ids=[repr(url)[:24] for url in MALFORMED + UNKNOWN]
)
def test_a_malformed_url_or_unknown_protocol_is_a_clear_error(
    servers: None, url: str, tmp_path: Path, s3fs_fs: Any, gcs_fs: Any
) -> None:
    def state() -> tuple[list[str], list[str], list[str]]:
        s3fs_fs.invalidate_cache()
        gcs_fs.invalidate_cache()
        return (
            sorted(os.listdir(tmp_path)),
            s3fs_fs.find("octstore-test"),
            gcs_fs.find("octstore-test"),
        )

    before = state()
    for action in ("read", "write", "update metadata"):
        with pytest.raises(OctstoreError) as raised:
            _use(url, action)

        message = str(raised.value)
        assert _named(url) in message, message
        kept = getattr(raised.value, "kept_at", None)
        assert kept is None or Path(kept).read_bytes() == b"x"  # the content, said where
        assert state() == before
        FIGURES.add("hostile_inputs", "unknown protocols" if url in UNKNOWN else "malformed URLs")


def test_a_local_path_the_system_refuses_points_at_the_path_not_the_network(
    tmp_path: Path,
) -> None:
    with pytest.raises(OctstoreError) as raised:
        Datafile(str(tmp_path / ("a" * 5000)))  # longer than any file name may be

    assert "check the path" in str(raised.value)
    assert "network" not in str(raised.value)
    assert os.listdir(tmp_path) == []
    FIGURES.add("hostile_inputs", "malformed URLs")


def test_an_unknown_storage_option_is_a_clear_error(s3fs_fs: Any) -> None:
    options = {"no_such_option": 1}
    with refused("unknown storage options"):
        Datafile("s3://octstore-test/x.csv", storage_options=options).exists_in_cloud  # noqa: B018


# --- labels, tags, timestamps -------------------------------------------------------------

BAD_LABELS = [
    "Raw",
    "r\u0430w",  # Cyrillic a
    "\uff52\uff41\uff57",  # full-width "raw"
    "raw\u200b",  # zero-width space
    "ra\u0301w",  # combining accent
    "a\x00b",
    "a\nb",
    "a\x1bb",
    "a_b",
    "-raw",
    "raw-",
    "",
    "   ",
    "raw/../..",
]
BAD_TAG_NAMES = ["Site", "s\u0456te", "site-name", "_site", "site_", "", "a\x00", "a\r\nb", "a b"]


def _self_holding() -> list[Any]:
    holder: list[Any] = []
    holder.append(holder)
    return holder


def _deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


BAD_TAG_VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    [1.0, math.nan],
    {"x": {"y": math.inf}},
    {1: "x"},
    {("a",): 1},
    {"a", "b"},
    b"bytes",
    Decimal("1.5"),
    1 + 2j,
    datetime(2024, 1, 1),
    object(),
    _self_holding(),
    _deep(10_000),
]
BAD_TIMESTAMPS = ["not a date", "2024-13-01", "2024-02-30T00:00:00", math.nan, math.inf, 1e20, ""]


def _label_ways(df: Datafile, label: str) -> list[Callable[[], object]]:
    return [
        lambda: df.labels.add(label),
        lambda: df.labels.update([label]),
        lambda: setattr(df, "labels", [label]),
        lambda: Datafile(df.path, labels=[label]),
        lambda: Dataset(files=[], labels=[label]),
        lambda: LabelSet([label]),
    ]


@pytest.mark.parametrize("label", BAD_LABELS, ids=repr)
def test_an_invalid_label_is_refused_every_way_in(tmp_path: Path, label: str) -> None:
    df = Datafile(str(tmp_path / "data.csv"), labels=["ok"])
    with df.open("w") as f:
        f.write("x")
    root = _LocalRoot(tmp_path)

    for way in _label_ways(df, label):
        with refused("invalid labels", InvalidLabelError, root):
            way()

    assert df.labels == {"ok"}
    assert Datafile(df.path).labels == {"ok"}


def _tag_ways(df: Datafile, name: str, value: Any) -> list[Callable[[], object]]:
    return [
        lambda: df.tags.__setitem__(name, value),
        lambda: df.tags.update({name: value}),
        lambda: df.tags.setdefault(name, value),
        lambda: setattr(df, "tags", {name: value}),
        lambda: Datafile(df.path, tags={name: value}),
        lambda: Dataset(files=[], tags={name: value}),
        lambda: TagDict({name: value}),
    ]


@pytest.mark.parametrize("name", BAD_TAG_NAMES, ids=repr)
def test_an_invalid_tag_name_is_refused_every_way_in(tmp_path: Path, name: str) -> None:
    df = Datafile(str(tmp_path / "data.csv"), tags={"ok": 1})
    with df.open("w") as f:
        f.write("x")

    for way in _tag_ways(df, name, 1):
        with refused("invalid tag names", InvalidTagError, _LocalRoot(tmp_path)):
            way()

    assert Datafile(df.path).tags == {"ok": 1}


@pytest.mark.parametrize(
    "value", BAD_TAG_VALUES, ids=[f"{type(v).__name__}-{i}" for i, v in enumerate(BAD_TAG_VALUES)]
)
def test_a_tag_value_json_cannot_hold_is_refused_every_way_in(tmp_path: Path, value: Any) -> None:
    df = Datafile(str(tmp_path / "data.csv"), tags={"ok": 1})
    with df.open("w") as f:
        f.write("x")

    for way in _tag_ways(df, "k", value):
        with refused("tag values JSON cannot hold", InvalidTagError, _LocalRoot(tmp_path)):
            way()

    assert df.tags == {"ok": 1}
    assert Datafile(df.path).tags == {"ok": 1}


@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS, ids=repr)
def test_an_invalid_timestamp_is_refused(tmp_path: Path, timestamp: Any) -> None:
    df = Datafile(str(tmp_path / "data.csv"))
    for way in (
        lambda: setattr(df, "timestamp", timestamp),
        lambda: Datafile(df.path, timestamp=timestamp),
        lambda: Metadata(timestamp=timestamp),
    ):
        with refused("invalid timestamps", InvalidMetadataError, _LocalRoot(tmp_path)):
            way()


class _LocalRoot:
    """A local directory as ``snapshot`` takes a backend."""

    def __init__(self, root: Path) -> None:
        import fsspec

        self.fs = fsspec.filesystem("file")
        self.root = str(root)


# --- metadata at and beyond a backend's limits ----------------------------------------------


def test_very_long_and_many_labels_and_huge_tags_round_trip(backend: Backend) -> None:
    labels = [f"{i}-" + "x" * 200 for i in range(60)] + ["y" * 20_000]
    tags = {"big": "v" * 100_000, "nested": _deep(60), "names": ["é\u0000\r\n"] * 100}
    written(backend, labels=labels, tags=tags)

    assert stored(backend.name, backend.fs, backend.url("data.csv")) == Stored.of(
        b"x", labels, tags
    )
    df = make(backend)
    assert (set(df.labels), dict(df.tags)) == (set(labels), tags)
    if backend.is_cloud:
        limit = {"s3": 2048, "gcs": 8192, "az": 8192}[backend.name]
        assert _object_metadata_size(backend, "data.csv") <= limit
    FIGURES.add("hostile_inputs", "metadata beyond backend limits")


def _object_metadata(backend: Backend, name: str) -> dict[str, str]:
    bucket, key = backend.url(name).split("://", 1)[1].split("/", 1)
    if backend.name == "s3":
        head = backend.fs.call_s3("head_object", Bucket=bucket, Key=key)
        return {k.lower(): v for k, v in head.get("Metadata", {}).items()}
    if backend.name == "az":
        return dict(backend.fs.info(f"{bucket}/{key}", refresh=True)["metadata"] or {})
    resource = backend.fs.call("GET", "b/{}/o/{}", bucket, key, json_out=True)
    return dict(resource.get("metadata") or {})


def _object_metadata_size(backend: Backend, name: str) -> int:
    return sum(
        len(k.encode()) + len(v.encode()) for k, v in _object_metadata(backend, name).items()
    )


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_other_tools_metadata_that_leaves_no_room_is_a_clear_error(backend: Backend) -> None:
    bucket, key = backend.url("data.csv").split("://", 1)[1].split("/", 1)
    backend.fs.call_s3(
        "put_object", Bucket=bucket, Key=key, Body=b"x", Metadata={"other-tool": "z" * 2000}
    )
    df = make(backend)
    df.labels.add("raw")

    with refused("metadata beyond backend limits", InvalidMetadataError, backend):
        df.update_metadata()
    with refused("metadata beyond backend limits", OctstoreError, backend), df.open("wb") as f:
        f.write(b"y")


@pytest.mark.parametrize("backend", ["s3", "gcs"], indirect=True)
def test_metadata_cannot_inject_headers_or_keys(backend: Backend) -> None:
    evil = "x\r\nX-Amz-Meta-Evil: 1\r\nx-goog-meta-evil: 1\n\x00"
    written(backend, tags={"note": evil})

    keys = _object_metadata(backend, "data.csv")

    assert not any("evil" in key for key in keys)
    assert make(backend).tags == {"note": evil}
    FIGURES.add("hostile_inputs", "header injection through metadata")


# --- paths that climb out of a dataset -----------------------------------------------------

CLIMBING_KEYS = ["../escaped.csv", "sub/../../escaped.csv", "..", "sub/../../../etc/passwd"]


@pytest.mark.parametrize("key", CLIMBING_KEYS)
@pytest.mark.parametrize("backend", ["s3"], indirect=True)  # the GCS emulator refuses ".."
def test_a_remote_key_climbing_out_of_a_dataset_is_refused_and_nothing_is_written_for_it(
    backend: Backend, tmp_path: Path, key: str
) -> None:
    backend.write("inside.csv", b"1")
    backend.fs.pipe(f"{backend.root}/{key}", b"2")
    ds = Dataset(backend.root, storage_options=backend.storage_options)
    ds.add(Datafile(f"{backend.root}/{key}", storage_options=backend.storage_options))
    before = snapshot(_LocalRoot(tmp_path))

    # The other files still download (issue 16): only the climbing key is refused.
    with pytest.raises(TransferError) as raised:
        ds.download(str(tmp_path / "copy"))

    assert [type(e) for e in raised.value.failures.values()] == [UnsafePathError]
    added = sorted(set(snapshot(_LocalRoot(tmp_path))) - set(before))
    assert [os.path.relpath(p, tmp_path) for p in added if p.startswith(str(tmp_path))] == [
        "copy/.inside.csv.octstore.json",
        "copy/.octstore-dataset.json",
        "copy/inside.csv",
    ]
    FIGURES.add("hostile_inputs", "paths climbing out of a dataset")


BAD_MANIFEST_PATHS = ["../x.csv", "/etc/passwd", "a/../../x.csv", "a\\..\\..\\x.csv", "..", "."]


@pytest.mark.parametrize("path", BAD_MANIFEST_PATHS)
def test_a_manifest_entry_climbing_out_of_its_dataset_makes_the_manifest_ignored(
    backend: Backend, path: str
) -> None:
    written(backend, "data.csv", labels=["real"])
    Dataset(backend.root, storage_options=backend.storage_options).update_metadata()
    manifest = json.loads(backend.read(".octstore-dataset.json"))
    manifest["files"][0]["path"] = path
    manifest["files"][0]["metadata"]["labels"] = ["forged"]
    backend.write(".octstore-dataset.json", json.dumps(manifest).encode())

    with ignored_with_a_warning("paths climbing out of a dataset", "unreadable dataset manifest"):
        loaded = Dataset(backend.root, storage_options=backend.storage_options)

    assert [(d.name, set(d.labels)) for d in loaded] == [("data.csv", {"real"})]


# --- garbage where metadata should be -------------------------------------------------------

GARBAGE_DOCUMENTS = [
    b"",
    b"{",
    b'{"octstore": 1, "labels": ["a"',  # truncated
    b"\xff\xfe\x00garbage",
    b"null",
    b"[]",
    b'"text"',
    b"1e999",
    b"[" * 100_000,
    b'{"octstore": 1, "id": "not-a-uuid"}',
    b'{"octstore": 1, "labels": ["Bad Label"]}',
    b'{"octstore": 1, "labels": [["raw"]]}',
    b'{"octstore": 1, "tags": {"Bad": 1}}',
    b'{"octstore": 1, "tags": {"x": NaN}}',
    b'{"octstore": 1, "timestamp": "yesterday"}',
    b'{"octstore": "1"}',
]


@pytest.mark.parametrize("backend", ["local", "memory"], indirect=True)
def test_a_garbage_sidecar_is_ignored_with_a_warning(backend: Backend) -> None:
    for i, document in enumerate(GARBAGE_DOCUMENTS):
        written(backend, f"{i}/a.csv", labels=["kept"])
        written(backend, f"{i}/b.csv", labels=["lost"])
        backend.write(f"{i}/.b.csv.octstore.json", document)

        with ignored_with_a_warning("garbage sidecars", "octstore sidecar"):
            loaded = Dataset(backend.url(str(i)), storage_options=backend.storage_options)
        with ignored_with_a_warning("garbage sidecars", "octstore sidecar"):
            alone = make(backend, f"{i}/b.csv")

        assert {d.name: set(d.labels) for d in loaded} == {"a.csv": {"kept"}, "b.csv": set()}
        assert alone.labels == set()
        alone.labels.add("fixed")  # and it can be written again
        with pytest.warns(UserWarning, match="octstore sidecar"):  # it is read again
            alone.update_metadata()
        assert make(backend, f"{i}/b.csv").labels == {"fixed"}


@pytest.mark.parametrize("backend", ["s3", "gcs"], indirect=True)
def test_a_garbage_spilled_sidecar_object_is_ignored_with_a_warning(backend: Backend) -> None:
    for i, document in enumerate(GARBAGE_DOCUMENTS):
        labels = [f"l{j}-" + "x" * 100 for j in range(100)]  # too many for the object: spilled
        written(backend, f"{i}/b.csv", labels=labels)
        backend.write(f"{i}/.b.csv.octstore.json", document)

        with ignored_with_a_warning("garbage sidecars", "octstore sidecar"):
            loaded = Dataset(backend.url(str(i)), storage_options=backend.storage_options)

        assert [(d.name, set(d.labels)) for d in loaded] == [("b.csv", set())]


GARBAGE_KEYS = [
    {"octstore-labels": "not json"},
    {"octstore-labels": '["Bad Label"]'},
    {"octstore-labels": "[1, 2]"},
    {"octstore-tags": '{"x": NaN}'},
    {"octstore-tags": "[" * 2000},
    {"octstore-tags": '{"Bad": 1}'},
    {"octstore-timestamp": "yesterday"},
    {"octstore-id": "not-a-uuid"},
]
#: octue's keys are read where octue wrote them: on GCS.
OCTUE_GARBAGE_KEYS = {
    "octue__labels": "not json",
    "octue__id": '"00000000-0000-0000-0000-000000000001"',
}


@pytest.mark.parametrize("backend", ["s3", "gcs"], indirect=True)
def test_garbage_object_metadata_is_ignored_with_a_warning(backend: Backend) -> None:
    garbage = GARBAGE_KEYS + ([OCTUE_GARBAGE_KEYS] if backend.name == "gcs" else [])
    for i, keys in enumerate(garbage):
        written(backend, f"{i}/a.csv", labels=["kept"])
        written(backend, f"{i}/b.csv", labels=["lost"])
        bucket, key = backend.url(f"{i}/b.csv").split("://", 1)[1].split("/", 1)
        metadata: dict[str, str | None] = {**_object_metadata(backend, f"{i}/b.csv"), **keys}
        if keys is OCTUE_GARBAGE_KEYS:
            metadata = dict.fromkeys(metadata) | keys
        if backend.name == "s3":
            backend.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=b"x", Metadata=metadata)
        else:
            backend.fs.call(
                "PATCH", "b/{}/o/{}", bucket, key, json={"metadata": metadata}, json_out=True
            )
        backend.fs.invalidate_cache()

        with ignored_with_a_warning("garbage object metadata", "invalid o"):
            loaded = Dataset(backend.url(str(i)), storage_options=backend.storage_options)

        assert {d.name: set(d.labels) for d in loaded} == {"a.csv": {"kept"}, "b.csv": set()}


def test_a_garbage_manifest_is_ignored_with_a_warning(backend: Backend) -> None:
    for i, document in enumerate(GARBAGE_DOCUMENTS):
        written(backend, f"{i}/a.csv", labels=["kept"])
        backend.write(f"{i}/.octstore-dataset.json", document)

        with ignored_with_a_warning("garbage manifests", "unreadable dataset manifest"):
            loaded = Dataset(backend.url(str(i)), storage_options=backend.storage_options)

        assert [(d.name, set(d.labels)) for d in loaded] == [("a.csv", {"kept"})]


OCTUE_GARBAGE = [
    b"{",
    b"[]",
    b'{"datafiles": []}',
    b'{"datafiles": {"b.csv": []}}',
    b'{"datafiles": {"b.csv": {"id": "nope"}}}',
    b'{"datafiles": {"b.csv": {"labels": {"_type": "set", "items": ["Bad"]}}}}',
    b'{"datafiles": {"b.csv": {"timestamp": {"_type": "datetime", "value": "never"}}}}',
]


@pytest.mark.parametrize("document", OCTUE_GARBAGE, ids=lambda d: repr(d[:24]))
@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_garbage_octue_file_is_ignored_with_a_warning(backend: Backend, document: bytes) -> None:
    backend.write("b.csv", b"x")
    backend.write(".octue", document)

    with warnings.catch_warnings(record=True):  # some garbage is merely "no entry"
        warnings.simplefilter("always")
        loaded = Dataset(backend.root)
        alone = make(backend, "b.csv")

    assert [(d.name, set(d.labels)) for d in loaded] == [("b.csv", set())]
    assert alone.labels == set()
    FIGURES.add("hostile_inputs", "garbage octue files")


CACHE_GARBAGE = [b"", b"[]", b"{}", b'{"url": 1}', b"[" * 100_000, b'"x"']


@pytest.mark.parametrize("document", CACHE_GARBAGE, ids=lambda d: repr(d[:24]))
@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_garbage_cache_records_are_never_trusted(backend: Backend, document: bytes) -> None:
    written(backend, "a.csv", b"the content")
    make(backend, "a.csv").download()
    for record in cache.cache_root().rglob("entry.json"):
        record.write_bytes(document)
    for index in (cache.cache_root() / "urls").rglob("*.json"):
        index.write_bytes(document)

    with make(backend, "a.csv").open("rb") as f:
        assert f.read() == b"the content"
    cache.prune()
    cache.clear()
    for index in (cache.cache_root() / "urls").rglob("*.json"):
        index.write_bytes(document)
    with refused("garbage cache records", OctstoreError):
        make(backend, "a.csv", offline=True).open("rb").__enter__()
