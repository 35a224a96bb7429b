"""What the processes of the race tests run (kept light: they import octstore only)."""

from __future__ import annotations

from multiprocessing.synchronize import Barrier
from typing import Any

from octstore import ConflictError, Datafile

_barrier: Barrier | None = None


def start(barrier: Barrier) -> None:
    """Pool initializer: the barrier every worker waits at before it races."""
    global _barrier
    _barrier = barrier


def _race() -> None:
    assert _barrier is not None
    _barrier.wait(timeout=60)


def write(url: str, options: dict[str, Any], writer: int) -> tuple[str, str | None]:
    """Read ``url``'s state, wait for the others, then write this writer's content.

    Returns ``("won", None)``, or ``("conflict", where the content was kept)``.
    """
    df = Datafile(url, storage_options=options)
    df.labels = [f"writer-{writer}"]
    _race()
    try:
        with df.open("wb") as f:
            f.write(f"content of writer {writer}".encode())
    except ConflictError as error:
        return "conflict", error.kept_at
    return "won", None


def label(url: str, options: dict[str, Any], writer: int) -> tuple[str, str | None]:
    """Read ``url``'s metadata, wait for the others, then add this writer's label."""
    df = Datafile(url, storage_options=options)
    df.labels.add(f"writer-{writer}")
    _race()
    try:
        df.update_metadata()
    except ConflictError:
        return "conflict", None
    return "won", None


def label_until_stored(urls: list[str], options: dict[str, Any], writer: int) -> int:
    """Add this writer's label to each of ``urls``, re-reading and retrying on conflicts, as
    a careful user would; return how many conflicts it met."""
    _race()
    conflicts = 0
    for url in urls:
        while True:
            df = Datafile(url, storage_options=options)
            df.labels.add(f"writer-{writer}")
            df.tags[f"writer_{writer}"] = True
            try:
                df.update_metadata()
                break
            except ConflictError:
                conflicts += 1
    return conflicts


def write_or_label(url: str, options: dict[str, Any], writer: int) -> tuple[str, str | None]:
    """Writer 0 writes new content with a tag of its own; the others add their label."""
    if writer:
        return label(url, options, writer)
    df = Datafile(url, storage_options=options)
    _race()
    try:
        with df.open("wb") as f:
            df.tags["writer_0"] = True
            f.write(b"content of writer 0")
    except ConflictError as error:
        return "conflict", error.kept_at
    return "won", None
