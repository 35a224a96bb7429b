"""What keeps a large loaded dataset small: no per-object dicts, one copy of each file's
stored metadata until it is used, and a manifest written an entry at a time."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

from octstore import Datafile, Dataset
from octstore.dataset.manifest import Manifest, ManifestEntry, read_manifest, write_manifest
from octstore.location import Location


def loaded(tmp_path: Path) -> Datafile:
    with Datafile(tmp_path / "a.csv", labels=["raw"], tags={"n": [1, {"k": 2}]}).open("w") as f:
        f.write("x")
    return next(iter(Dataset(tmp_path)))


def test_datafiles_their_states_and_locations_have_no_instance_dict(tmp_path: Path) -> None:
    df = loaded(tmp_path)

    for obj in (df, df._state, df._location):
        assert not hasattr(obj, "__dict__"), type(obj)
    copy = pickle.loads(pickle.dumps(df))
    assert (copy, copy._state) == (df, df._state)


def test_a_loaded_datafile_copies_its_stored_metadata_only_when_it_is_used(
    tmp_path: Path,
) -> None:
    df = loaded(tmp_path)
    assert df._state is not None
    assert df._state.metadata is not None

    assert df._own_metadata is None
    assert df._basis is df._state.metadata
    df.labels.add("checked")
    df.tags["n"][1]["k"] = 3  # type: ignore[index]

    assert df._state.metadata.labels == {"raw"}
    assert df._state.metadata.tags == {"n": [1, {"k": 2}]}
    df.update_metadata()
    assert Datafile(tmp_path / "a.csv").labels == {"raw", "checked"}


def test_the_manifest_is_written_as_its_entries_are_made(tmp_path: Path) -> None:
    on_disk: list[int] = []

    def entries() -> Iterator[ManifestEntry]:
        for i in range(2000):
            temporary = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            on_disk.append(sum(p.stat().st_size for p in temporary))
            yield ManifestEntry(path=f"d/f{i}.csv", size=i, version_token="t", listing_version="v")

    manifest = Manifest(id="6f3c2b55-8f1e-4a53-9d43-0ce6f5a1f4a1", name="wind", labels=["raw"])
    write_manifest(Location(tmp_path), manifest, entries())

    # written while later entries were still to be made: never one document in memory
    assert on_disk[-1] > 0
    read = read_manifest(Location(tmp_path))
    assert read is not None
    assert len(read.files) == 2000
    assert read.model_dump(exclude={"files"}) == manifest.model_dump(exclude={"files"})
    # the same document as the one written whole before (so older readers read it)
    whole = manifest.model_copy(update={"files": read.files})
    path = tmp_path / ".octstore-dataset.json"
    assert json.loads(path.read_bytes()) == whole.model_dump(mode="json")
    assert os.listdir(tmp_path) == [".octstore-dataset.json"]
