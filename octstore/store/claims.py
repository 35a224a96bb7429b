"""Deletion claims: the files under a store's ``.claims/`` that say a deletion of a hash is in
progress, which adds wait for and a gc that died leaves behind (see :mod:`octstore.store`
for why they make gc safe)."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

from octstore.location import Location, translate_errors

#: How long a deletion claim lives: adds ignore older claims (their gc died), and a gc
#: gives up on an object once half of it has passed since it claimed it.
CLAIM_TIMEOUT = timedelta(minutes=5)
#: The folder of claims, under the store's root.
FOLDER = ".claims"
_CLAIM_NAME = re.compile(r"[0-9a-f]{64}\.[0-9]+\.[^/]+")


def timeout() -> timedelta:
    """:data:`CLAIM_TIMEOUT`, read when it is needed (tests shorten it)."""
    return CLAIM_TIMEOUT


def _nanoseconds(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1e9)


class Claims:
    """The deletion claims of one store, in ``folder`` (its root's ``.claims``)."""

    def __init__(self, folder: Location) -> None:
        self.folder = folder

    def live(self, digest: str | None = None, *, max_age: timedelta) -> list[str]:
        """The claims (of ``digest``, or all) younger than ``max_age``, by their file name."""
        paths = self.files(digest)
        now = time.time_ns()
        live = []
        for path in paths:
            claimed_digest, _, rest = path.rstrip("/").rsplit("/", 1)[-1].partition(".")
            claimed_at = rest.partition(".")[0]
            if digest is not None and claimed_digest != digest:
                continue
            if not claimed_at.isdigit():
                continue
            if now - int(claimed_at) < _nanoseconds(max_age):
                live.append(path)
        return live

    def files(self, digest: str | None = None) -> list[str]:
        """The claim files (of ``digest``, or all), fresh: one listing of a prefix."""
        claims = self.folder
        fs = claims.fs
        prefix = f"{digest}." if digest else ""
        with translate_errors(claims.url, "listing"):
            fs.invalidate_cache(claims.fs_path)
            try:
                paths: list[str] = fs.find(claims.fs_path, prefix=prefix)
            except FileNotFoundError:
                return []
        return paths

    def held(self, digest: str) -> bool:
        """Whether a deletion of ``digest`` is in progress (claims of dead gcs excepted)."""
        return bool(self.live(digest, max_age=timeout()))

    def wait(self, digest: str) -> None:
        delay = 0.01
        while self.held(digest):
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    @contextlib.contextmanager
    def claim(self, digest: str) -> Iterator[float]:
        """Claim ``digest`` for deletion; yield the monotonic time just before the claim."""
        claimed_at = time.monotonic()
        claim = self.folder.child(f"{digest}.{time.time_ns()}.{uuid.uuid4().hex}")
        fs = claim.fs
        with translate_errors(claim.url, "writing"):
            try:
                fs.pipe_file(claim.fs_path, b"")
            except FileNotFoundError:
                fs.makedirs(self.folder.fs_path, exist_ok=True)
                fs.pipe_file(claim.fs_path, b"")
        try:
            yield claimed_at
        finally:
            with translate_errors(claim.url, "deleting"), contextlib.suppress(FileNotFoundError):
                fs.rm_file(claim.fs_path)
            fs.invalidate_cache(self.folder.fs_path)

    def remove_stale(self) -> None:
        """Remove claims left by gcs that died: those older than twice the claim timeout."""
        fs = self.folder.fs
        live = set(self.live(max_age=2 * timeout()))
        for path in self.files():
            # Only claims: whatever else is there is not gc's to delete.
            if path not in live and _CLAIM_NAME.fullmatch(path.rstrip("/").rsplit("/", 1)[-1]):
                with translate_errors(path, "deleting"), contextlib.suppress(FileNotFoundError):
                    fs.rm_file(path)
