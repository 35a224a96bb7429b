"""Metadata without an id: labels, tags and a timestamp that another tool stored without an
id (in octstore's keys or sidecar, or in octue's) are read, under the id derived from the
file's location until a write stores it; a read stores nothing.

The foreign metadata is written behind octstore's back: GCS custom metadata, S3 user
metadata, Azure blob metadata (``octstore_*``), an octstore sidecar file or octue's ``.octue``
file.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import pytest

from octstore import Datafile, Dataset, OctstoreWarning
from octstore.location import Location
from tests.conftest import BACKENDS, Backend

WHEN = datetime(2022, 5, 4, 17, 57, 57, 136739, tzinfo=timezone.utc)
LABELS = {"raw", "wind-speed"}
TAGS = {"site": "dunfell", "height": 40}
#: Where octue never kept object metadata.
NO_OCTUE = frozenset({("s3", "octue"), ("az", "octue")})
#: Requests that change something on the server (reads are GET and HEAD).
WRITES = frozenset({"PUT", "POST", "PATCH", "DELETE"})


def _octstore_keys(**extra: str) -> dict[str, str]:
    return {
        "octstore-labels": json.dumps(sorted(LABELS)),
        "octstore-tags": json.dumps(TAGS, sort_keys=True),
        "octstore-timestamp": WHEN.isoformat(),
        **extra,
    }


def _octue_keys(**extra: str) -> dict[str, str]:
    return {
        "octue__labels": json.dumps({"_type": "set", "items": sorted(LABELS)}),
        "octue__tags": json.dumps(TAGS),
        "octue__timestamp": json.dumps({"_type": "datetime", "value": WHEN.isoformat()}),
        **extra,
    }


def _put_object(backend: Backend, name: str, keys: dict[str, str]) -> None:
    """An object at ``name`` with custom/user metadata ``keys``, written by another tool."""
    bucket, key = backend.url(name).split("://", 1)[1].split("/", 1)
    if backend.name == "s3":
        backend.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=b"a,b\n", Metadata=keys)
    else:
        backend.fs.pipe(backend.url(name), b"a,b\n")
        backend.fs.setxattrs(backend.url(name), **keys)
    backend.fs.invalidate_cache()


def foreign(backend: Backend, name: str, style: str, **extra_fields: Any) -> str:
    """A file at ``name`` whose labels, tags and timestamp another tool stored in ``style``
    (``octstore`` or ``octue``), without an id (unless ``extra_fields`` has one)."""
    assert (backend.name, style) not in NO_OCTUE, "octue keeps object metadata on GCS only"
    if backend.is_cloud:
        prefix = "octstore-" if style == "octstore" else "octue__"
        extra = {prefix + field: value for field, value in extra_fields.items()}
        keys = (_octstore_keys if style == "octstore" else _octue_keys)(**extra)
        if backend.name == "az":  # Azure's metadata names are C# identifiers
            keys = {key.replace("octstore-", "octstore_"): value for key, value in keys.items()}
        _put_object(backend, name, keys)
        return backend.url(name)
    backend.write(name, b"a,b\n")
    if style == "octstore":
        document = {
            "octstore": 1,
            "labels": sorted(LABELS),
            "tags": TAGS,
            "timestamp": WHEN.isoformat(),
            **extra_fields,
        }
        backend.write(f".{name}.octstore.json", json.dumps(document).encode())
    else:
        entry = {
            "labels": {"_type": "set", "items": sorted(LABELS)},
            "tags": TAGS,
            "timestamp": {"_type": "datetime", "value": WHEN.isoformat()},
            **extra_fields,
        }
        backend.write(".octue", json.dumps({"datafiles": {name: entry}}).encode())
    return backend.url(name)


def read(backend: Backend, url: str, **kwargs: Any) -> Datafile:
    return Datafile(url, storage_options=backend.storage_options, **kwargs)


def derived_id(backend: Backend, url: str) -> str:
    return str(Location(url, backend.storage_options).derived_id())


def stored_id(backend: Backend, name: str) -> str | None:
    """The id stored in octstore's own format for ``name``, read behind octstore's back."""
    backend.fs.invalidate_cache()
    if not backend.is_cloud:
        sidecar = backend.url(f".{name}.octstore.json")
        if not backend.fs.exists(sidecar):
            return None
        stored = json.loads(backend.read(f".{name}.octstore.json")).get("id")
        return None if stored is None else str(stored)
    bucket, key = backend.url(name).split("://", 1)[1].split("/", 1)
    if backend.name == "s3":
        keys = backend.fs.call_s3("head_object", Bucket=bucket, Key=key)["Metadata"]
    elif backend.name == "az":
        keys = backend.fs.info(backend.url(name), refresh=True)["metadata"] or {}
        return keys.get("octstore_id")  # type: ignore[no-any-return]
    else:
        keys = backend.fs.call("GET", "b/{}/o/{}", bucket, key, json_out=True)["metadata"]
    return {k.lower(): v for k, v in keys.items()}.get("octstore-id")


def snapshot(backend: Backend) -> dict[str, Any]:
    """Every file under the test's root: its content and what its filesystem says of it
    (GCS generation, metageneration and metadata; S3 ETag, LastModified and metadata;
    local inode and mtime; a memory file's creation), so that any write shows."""
    backend.fs.invalidate_cache()
    found: dict[str, Any] = {}
    for path, info in backend.fs.find(backend.root, detail=True).items():
        found[path] = (backend.fs.cat_file(path), info)
        if backend.name == "s3":
            bucket, key = path.split("/", 1)
            head = backend.fs.call_s3("head_object", Bucket=bucket, Key=key)
            found[path] += (head["ETag"], head["LastModified"], head["Metadata"])
    return found


@contextmanager
def writing_nothing(backend: Backend) -> Iterator[None]:
    """Check that the block stores nothing: no file changes, no write request is made."""
    before = snapshot(backend)
    if backend.server is None:
        yield
    else:
        with backend.server.recording() as requests:
            yield
        assert [r for r in requests if r["method"] in WRITES] == []
    assert snapshot(backend) == before


#: Each backend with each format another tool may have written: octue keeps object
#: metadata on GCS only (and sidecars locally), never on S3 or Azure.
styles = pytest.mark.parametrize(
    ("backend", "style"),
    [
        (backend, style)
        for backend in BACKENDS
        for style in ("octstore", "octue")
        if (backend, style) not in NO_OCTUE
    ],
    indirect=["backend"],
)


@styles
def test_labels_tags_and_timestamp_stored_without_an_id_are_read(
    backend: Backend, style: str
) -> None:
    url = foreign(backend, "readings.csv", style)

    datafile = read(backend, url)

    assert (datafile.labels, datafile.tags, datafile.timestamp) == (LABELS, TAGS, WHEN)


@styles
def test_a_file_without_a_stored_id_has_its_derived_id_on_every_read(
    backend: Backend, style: str
) -> None:
    url = foreign(backend, "readings.csv", style)

    first, second = read(backend, url), read(backend, url)

    assert first.id == second.id == derived_id(backend, url)
    assert first.metadata().id == uuid.UUID(derived_id(backend, url))


@styles
def test_reading_metadata_without_an_id_writes_nothing(backend: Backend, style: str) -> None:
    url = foreign(backend, "readings.csv", style)

    with writing_nothing(backend):
        datafile = read(backend, url)
        assert datafile.labels == LABELS
        datafile.metadata()
        listed = Dataset(backend.root, storage_options=backend.storage_options)
        assert listed.files.one(name="readings.csv").labels == LABELS

    assert stored_id(backend, "readings.csv") is None


@styles
def test_a_dataset_lists_files_without_a_stored_id_with_their_metadata_and_derived_id(
    backend: Backend, style: str
) -> None:
    url = foreign(backend, "readings.csv", style)

    loads = [Dataset(backend.root, storage_options=backend.storage_options) for _ in range(2)]

    listed = [dataset.files.one(labels__contains="raw") for dataset in loads]
    assert [(d.name, d.tags, d.timestamp) for d in listed] == [("readings.csv", TAGS, WHEN)] * 2
    assert listed[0].id == listed[1].id == derived_id(backend, url)


@styles
def test_update_metadata_stores_the_derived_id(backend: Backend, style: str) -> None:
    url = foreign(backend, "readings.csv", style)
    datafile = read(backend, url)

    datafile.update_metadata()

    assert stored_id(backend, "readings.csv") == datafile.id == derived_id(backend, url)
    again = read(backend, url)
    assert (again.id, again.labels, again.tags, again.timestamp) == (
        datafile.id,
        LABELS,
        TAGS,
        WHEN,
    )


@styles
def test_a_metadata_change_stores_the_derived_id_with_the_metadata_read(
    backend: Backend, style: str
) -> None:
    url = foreign(backend, "readings.csv", style)
    datafile = read(backend, url)

    datafile.labels.add("checked")
    datafile.update_metadata()

    again = read(backend, url)
    assert stored_id(backend, "readings.csv") == again.id == derived_id(backend, url)
    assert (again.labels, again.tags, again.timestamp) == (LABELS | {"checked"}, TAGS, WHEN)


@styles
def test_a_content_write_stores_the_derived_id(backend: Backend, style: str) -> None:
    url = foreign(backend, "readings.csv", style)
    datafile = read(backend, url)

    with datafile.open("w") as file:
        file.write("c,d\n")

    again = read(backend, url)
    assert stored_id(backend, "readings.csv") == again.id == derived_id(backend, url)
    assert (again.labels, again.tags, again.timestamp) == (LABELS, TAGS, WHEN)


@styles
def test_an_id_given_for_a_file_without_a_stored_id_is_the_one_stored(
    backend: Backend, style: str
) -> None:
    url = foreign(backend, "readings.csv", style)
    chosen = str(uuid.uuid4())

    datafile = read(backend, url, id=chosen)
    assert (datafile.id, datafile.labels) == (chosen, LABELS)
    datafile.update_metadata()

    assert stored_id(backend, "readings.csv") == read(backend, url).id == chosen


@styles
def test_a_stored_id_is_still_read_as_it_is(backend: Backend, style: str) -> None:
    stored = str(uuid.uuid4())
    url = foreign(
        backend,
        "readings.csv",
        style,
        id=json.dumps(stored) if style == "octue" and backend.is_cloud else stored,
    )

    datafile = read(backend, url)

    assert (datafile.id, datafile.labels) == (stored, LABELS)


@styles
def test_a_malformed_id_is_not_a_missing_one_its_metadata_is_ignored_with_a_warning(
    backend: Backend, style: str
) -> None:
    garbage = json.dumps("not-a-uuid") if style == "octue" and backend.is_cloud else "not-a-uuid"
    url = foreign(backend, "readings.csv", style, id=garbage)

    with pytest.warns(OctstoreWarning, match="readings.csv|octue"):
        datafile = read(backend, url)

    assert (datafile.id, datafile.labels, datafile.tags) == (derived_id(backend, url), set(), {})


@pytest.mark.parametrize("backend", ["gcs"], indirect=True)
def test_octues_stored_id_wins_over_octstore_keys_without_one(backend: Backend) -> None:
    octue_id = str(uuid.uuid4())
    _put_object(
        backend,
        "both.csv",
        {**_octue_keys(octue__id=json.dumps(octue_id)), "octstore-labels": '["theirs"]'},
    )

    datafile = read(backend, backend.url("both.csv"))

    assert (datafile.id, datafile.labels) == (octue_id, LABELS)


def test_a_file_without_any_metadata_still_reads_without_a_warning(backend: Backend) -> None:
    backend.write("plain.csv", b"x")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        datafile = read(backend, backend.url("plain.csv"))

    assert (datafile.id, datafile.labels) == (derived_id(backend, backend.url("plain.csv")), set())


@styles
def test_invalid_metadata_without_an_id_is_ignored_with_a_warning(
    backend: Backend, style: str
) -> None:
    labels: Any = ["Bad Label"]
    if style == "octue":
        labels = {"_type": "set", "items": labels}
    url = foreign(
        backend, "readings.csv", style, labels=json.dumps(labels) if backend.is_cloud else labels
    )

    with pytest.warns(OctstoreWarning, match="readings.csv|octue"):
        datafile = read(backend, url)

    assert (datafile.id, datafile.labels, datafile.tags) == (derived_id(backend, url), set(), {})
