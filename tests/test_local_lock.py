"""Local writers take one lock, beside the data, whatever path or cache they come by; writes
through a symbolic link change its target (issue 16, items 2 and 10)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from octstore import AccessDeniedError, Datafile, Dataset
from tests import local_workers

ROUNDS = 20


def test_writers_by_two_spellings_with_two_caches_lose_nothing(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "linked").symlink_to(real)
    (real / "log.txt").write_text("")
    spellings = [str(real / "log.txt"), str(tmp_path / "linked" / "log.txt")]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)

    with context.Pool(2, initializer=local_workers.start, initargs=(barrier,)) as pool:
        results = pool.starmap(
            local_workers.append_and_label,
            [(spellings[w], str(tmp_path / f"cache-{w}"), w, ROUNDS) for w in range(2)],
        )

    lines = (real / "log.txt").read_text().splitlines()
    expected = {f"writer {w} round {r}" for w in range(2) for r in range(ROUNDS)}
    assert sorted(lines) == sorted(expected)  # every acknowledged append, once
    assert Datafile(spellings[1]).labels == {f"w{w}-r{r}" for w in range(2) for r in range(ROUNDS)}
    assert all(existed for result in results for existed in result["kept_existed"])
    assert not (real / ".log.txt.octstore-lock").exists()  # nothing left beside the data
    assert [d.name for d in Dataset(str(real))] == ["log.txt"]


def test_a_write_through_a_symlink_changes_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "store" / "data.csv"
    target.parent.mkdir()
    target.write_text("a\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)

    df = Datafile(str(link))
    with df.open("a") as f:
        f.write("b\n")
    df.labels.add("linked")
    df.update_metadata()

    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert target.read_text() == "a\nb\n"
    assert Datafile(str(target)).labels == {"linked"}
    assert Datafile(str(link)).labels == {"linked"}


def test_a_write_through_a_symlinked_directory_keeps_the_directory_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.txt").write_text("old")
    (tmp_path / "linked").symlink_to(tmp_path / "real")

    with Datafile(str(tmp_path / "linked" / "x.txt")).open("w") as f:
        f.write("new")

    assert (tmp_path / "linked").is_symlink()
    assert (tmp_path / "real" / "x.txt").read_text() == "new"


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """Make ``directory`` read-only for this process, for real: permissions for a user,
    a read-only bind mount for root (whom permissions do not stop)."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "--bind", str(directory), str(directory)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"root cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(directory)], capture_output=True, check=True
        )
        yield
    finally:
        subprocess.run(["umount", str(directory)], capture_output=True, check=True)


def test_a_folder_octstore_cannot_lock_in_is_read_only_for_it(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "data.csv").write_text("x\n")
    Datafile(str(folder / "data.csv"), labels=["raw"]).update_metadata()

    with read_only(folder):
        df = Datafile(str(folder / "data.csv"))
        with df.open() as f:
            assert f.read() == "x\n"
        assert df.labels == {"raw"}
        df.labels.add("more")
        with pytest.raises(AccessDeniedError, match=r"read-only for octstore") as caught:
            df.update_metadata()
        with pytest.raises(AccessDeniedError, match=str(folder)), df.open("w") as f:
            f.write("y\n")

    assert str(folder) in str(caught.value)
    assert (folder / "data.csv").read_text() == "x\n"
    assert Datafile(str(folder / "data.csv")).labels == {"raw"}


def test_an_unusable_cache_directory_never_breaks_local_reads_and_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("OCTSTORE_CACHE_DIR", str(blocker / "cache"))
    path = str(tmp_path / "data.csv")

    df = Datafile(path, labels=["raw"])
    with df.open("w") as f:
        f.write("1\n")
    with df.open("a") as f:
        f.write("2\n")
    df.tags["site"] = "north"
    df.update_metadata()

    again = Datafile(path)
    with again.open() as f:
        assert f.read() == "1\n2\n"
    assert again.labels == {"raw"}
    assert dict(again.tags) == {"site": "north"}


def test_threads_locking_one_file_by_two_spellings_take_turns(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from octstore.backends import locking
    from octstore.location import Location

    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    counter = tmp_path / "real" / "counter"
    counter.write_text("0")
    spellings = [Location(str(counter)), Location(str(tmp_path / "linked" / "counter"))]

    def increment(spelling: Location) -> None:
        for _ in range(200):
            with locking.held(spelling):
                value = int(counter.read_text())
                counter.write_text(str(value + 1))

    with ThreadPoolExecutor(4) as threads:
        list(threads.map(increment, spellings * 2))

    assert counter.read_text() == "800"
    assert not (tmp_path / "real" / ".counter.octstore-lock").exists()
