"""Faults on the wire lose nothing: every operation succeeds or raises a clear error.

A loopback proxy in front of moto S3 and the GCS emulator drops connections, truncates
response bodies and answers 500 or 503 for a tenth of all requests (seeded). Through it,
octstore writes, overwrites, appends to, updates the metadata of, reads, downloads and
uploads files, and uploads, loads and downloads whole datasets. After each operation, checks
made straight against the server and the disk (``checks.py``) require that:

- an operation that succeeded left exactly its new state: content and metadata;
- an operation that failed raised an ``OctstoreError`` naming the path, and left the old
  state or the new one, content and metadata together, never a mix;
- no cache entry holds bytes other than its recorded CRC32C says, no temp file is left in
  the cache, in a download directory or beside a file, and content is left in the cache's
  ``writes/`` only where a ``NotWrittenError`` said it is.

The figures (operations, requests, faults by kind, outcomes by kind) go to the docs page.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import fsspec
import pytest

from octstore import (
    ConflictError,
    Datafile,
    Dataset,
    NotWrittenError,
    OctstoreError,
    Store,
    cache,
)
from tests.conftest import Backend
from tests.proxy import ALL_FAULT_KINDS, Faults
from tests.reliability.checks import (
    Stored,
    cache_temporaries,
    staged_writes,
    stored,
    temporaries,
    unsound_cache_entries,
)
from tests.reliability.conftest import FaultyBackend, faulty
from tests.reliability.figures import FIGURES

RATE = 0.1
FAST_ROUNDS = 3
SOAK_ROUNDS = 12
DATASET_FILES = ("a.csv", "b.csv", "sub/c.bin", "sub/deeper/d.txt")
_LOCAL = fsspec.filesystem("file")


@dataclass
class Run:
    """One seeded run of operations through the proxy, checking each as it goes."""

    net: FaultyBackend
    tmp: Path
    rng: random.Random
    kept: set[str] = field(default_factory=set)  # content a NotWrittenError said it kept

    @property
    def direct(self) -> Any:
        return self.net.backend.fs

    def datafile(self, url: str, **kwargs: Any) -> Datafile:
        return Datafile(url, storage_options=self.net.storage_options, **kwargs)

    def truth(self, url: str) -> Stored | None:
        return stored(self.net.name, self.direct, url)

    def content(self) -> bytes:
        return os.urandom(self.rng.choice([0, 1, 100, 5_000, 70_000, 300_000]))

    def attempt(
        self,
        kind: str,
        urls: list[str],
        operation: Callable[[], dict[str, Stored | None]],
        writing: dict[str, Stored] | None = None,
    ) -> bool:
        """Run ``operation``, which returns the state each of ``urls`` should be in, and
        check each against what the server holds; ``writing`` is what it writes, which a
        failure may or may not have left. Return whether it succeeded."""
        before = {url: self.truth(url) for url in urls}
        FIGURES.add("operations", f"{self.net.name}: {kind}")
        failure: OctstoreError | None = None
        try:
            wanted = operation()
        except OctstoreError as error:
            failure = error
        if failure is None:
            FIGURES.add("outcomes", "succeeded")
            for url, state in wanted.items():
                assert self.truth(url) == state, f"{kind} succeeded but {url} is not as written"
            self.check_local_state()
            return True
        FIGURES.add("outcomes", type(failure).__name__)
        causes = [failure, *getattr(failure, "failures", {}).values()]
        conflicts = [cause for cause in causes if isinstance(cause, ConflictError)]
        assert not conflicts, f"{kind}: a false conflict (nobody else writes): {conflicts[0]}"
        self._note_kept(*causes)
        for url in urls:
            now = self.truth(url)
            assert now in (before[url], (writing or {}).get(url, before[url])), (
                f"{kind} failed ({failure}) and left {url} as {now!r}, neither the old "
                f"{before[url]!r} nor what it was writing"
            )
        self.check_local_state()
        return False

    def _note_kept(self, *errors: BaseException) -> None:
        for error in errors:
            if isinstance(error, NotWrittenError) and error.kept_at:
                assert Path(error.kept_at).is_file(), f"{error.kept_at} was said to be kept"
                self.kept.add(error.kept_at)

    def check_local_state(self) -> None:
        assert unsound_cache_entries() == []
        assert cache_temporaries() == []
        assert temporaries(self.tmp) == []
        assert set(staged_writes()) <= self.kept

    # --- the operations ---------------------------------------------------------------------

    def write_new(self, url: str, round_: int) -> bool:
        data = self.content()
        new = Stored.of(data, [f"round-{round_}"], {"round": round_})

        def write() -> dict[str, Stored | None]:
            df = self.datafile(url, labels=[f"round-{round_}"], tags={"round": round_})
            with df.open("wb") as f:
                f.write(data)
            return {url: new}

        return self.attempt("write a new file", [url], write, {url: new})

    def overwrite(self, url: str) -> bool:
        data = self.content()
        old = self.truth(url)
        assert old is not None
        new = Stored(data, old.labels | {"overwritten"}, old.tags, old.timestamp)

        def write() -> dict[str, Stored | None]:
            df = self.datafile(url)
            df.labels.add("overwritten")
            with df.open("wb") as f:
                f.write(data)
            return {url: new}

        return self.attempt("overwrite a file", [url], write, {url: new})

    def append(self, url: str) -> bool:
        old = self.truth(url)
        assert old is not None
        extra = self.content()[:1000]
        new = Stored(old.content + extra, old.labels, old.tags, old.timestamp)

        def write() -> dict[str, Stored | None]:
            with self.datafile(url).open("ab") as f:
                f.write(extra)
            return {url: new}

        return self.attempt("append to a file", [url], write, {url: new})

    def update_metadata(self, url: str) -> bool:
        old = self.truth(url)
        assert old is not None
        tags = {"checked": self.rng.randrange(10**6), "note": "é\r\nX-Injected: 1"}
        new = Stored.of(old.content, old.labels | {"checked"}, tags, "2024-05-04T17:57:57+00:00")

        def update() -> dict[str, Stored | None]:
            df = self.datafile(url)
            df.labels.add("checked")
            df.tags = tags
            df.timestamp = "2024-05-04T17:57:57+00:00"
            df.update_metadata()
            return {url: new}

        return self.attempt("update metadata", [url], update, {url: new})

    def read(self, url: str) -> bool:
        cache.clear()

        def read() -> dict[str, Stored | None]:
            truth = self.truth(url)
            with self.datafile(url).open("rb") as f:
                assert truth is not None
                assert f.read() == truth.content
            return {url: truth}

        return self.attempt("read an uncached file", [url], read)

    def download(self, url: str, round_: int) -> bool:
        cache.clear()
        target = self.tmp / f"downloads-{round_}" / "file.bin"

        def download() -> dict[str, Stored | None]:
            truth = self.truth(url)
            self.datafile(url).download(target)
            assert truth is not None
            assert target.read_bytes() == truth.content
            return {url: truth}

        done = self.attempt("download a file", [url], download)
        if not done:
            assert not target.exists()
        return done

    def upload(self, url: str, round_: int) -> bool:
        source = self.tmp / f"upload-{round_}.bin"
        data = self.content()
        source.write_bytes(data)
        new = Stored.of(data, ["uploaded"], {"from": "local"})

        def upload() -> dict[str, Stored | None]:
            df = Datafile(str(source), labels=["uploaded"], tags={"from": "local"})
            df.upload(url, storage_options=self.net.storage_options)
            return {url: new}

        return self.attempt("upload a local file", [url], upload, {url: new})

    def upload_dataset(self, prefix: str, round_: int) -> bool:
        root = self.tmp / f"dataset-{round_}"
        wanted: dict[str, Stored | None] = {}
        for i, name in enumerate(DATASET_FILES):
            data = self.content()
            with Datafile(str(root / name), labels=["ds"], tags={"i": i}).open("wb") as f:
                f.write(data)
            wanted[f"{prefix}/{name}"] = Stored.of(data, ["ds"], {"i": i})

        def upload() -> dict[str, Stored | None]:
            Dataset(str(root)).upload(prefix, storage_options=self.net.storage_options)
            return wanted

        writing = {url: state for url, state in wanted.items() if state is not None}
        return self.attempt("upload a dataset", list(wanted), upload, writing)

    def load_dataset(self, prefix: str) -> bool:
        urls = [f"{prefix}/{name}" for name in DATASET_FILES]

        def load() -> dict[str, Stored | None]:
            truths = {url: self.truth(url) for url in urls}
            loaded = Dataset(prefix, storage_options=self.net.storage_options)
            for datafile in loaded:
                truth = truths.get(datafile.path)
                if truth is None:
                    continue
                assert datafile.labels == truth.labels
                assert Stored.of(b"", (), dict(datafile.tags)).tags == truth.tags
            return truths

        return self.attempt("load a dataset", urls, load)

    def download_dataset(self, prefix: str, round_: int) -> bool:
        urls = [f"{prefix}/{name}" for name in DATASET_FILES]
        target = self.tmp / f"dataset-download-{round_}"

        def download() -> dict[str, Stored | None]:
            truths = {url: self.truth(url) for url in urls}
            Dataset(prefix, storage_options=self.net.storage_options).download(target)
            for url, truth in truths.items():
                local = str(target / url.removeprefix(prefix + "/"))
                assert stored("local", _LOCAL, local) == truth
            return truths

        done = self.attempt("download a dataset", urls, download)
        for url in urls:  # whatever got there is whole: content with its metadata
            local = target / url.removeprefix(prefix + "/")
            if local.exists():
                assert stored("local", _LOCAL, str(local)) == self.truth(url)
        return done

    def fetch_dataset(self, prefix: str) -> bool:
        urls = [f"{prefix}/{name}" for name in DATASET_FILES]
        cache.clear()

        def fetch() -> dict[str, Stored | None]:
            truths = {url: self.truth(url) for url in urls}
            Dataset(prefix, storage_options=self.net.storage_options).download()
            return truths

        return self.attempt("fetch a dataset into the cache", urls, fetch)

    def round(self, round_: int) -> None:
        url = self.net.url(f"file-{round_}.bin")
        if self.write_new(url, round_) or self.truth(url) is not None:
            self.overwrite(url)
            self.append(url)
            self.update_metadata(url)
            self.read(url)
            self.download(url, round_)
        self.upload(self.net.url(f"uploaded-{round_}.bin"), round_)
        prefix = self.net.url(f"dataset-{round_}")
        self.upload_dataset(prefix, round_)
        self.load_dataset(prefix)
        self.download_dataset(prefix, round_)
        self.fetch_dataset(prefix)


#: botocore with one attempt: a 500 or 503 becomes an error to report (s3fs still retries
#: dropped connections and cut bodies).
NO_RETRIES = {"config_kwargs": {"retries": {"total_max_attempts": 1}}}


@pytest.fixture
def net(backend: Backend, request: pytest.FixtureRequest) -> Iterator[FaultyBackend]:
    seed, rate, options = getattr(request, "param", (0, RATE, {}))
    faults = Faults(rate=rate, kinds=ALL_FAULT_KINDS, seed=seed)
    yield from faulty(backend, faults, **options)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", ["s3", "gcs"], indirect=True)
def test_operations_under_faults_succeed_or_fail_clearly(
    net: FaultyBackend, tmp_path: Path
) -> None:
    run = Run(net, tmp_path, random.Random(0))
    for round_ in range(FAST_ROUNDS):
        run.round(round_)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("net", [(0, RATE, NO_RETRIES)], indirect=True, ids=["no-retries"])
@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_operations_whose_retries_run_out_fail_clearly_and_lose_nothing(
    net: FaultyBackend, tmp_path: Path
) -> None:
    """With no retries, faults become errors: they must be clear, and the states whole."""
    run = Run(net, tmp_path, random.Random(0))
    for round_ in range(FAST_ROUNDS):
        run.round(round_)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("net", [(seed, RATE, {}) for seed in range(1, 4)], indirect=True)
@pytest.mark.parametrize("backend", ["s3", "gcs"], indirect=True)
def test_soak_operations_under_faults(net: FaultyBackend, tmp_path: Path) -> None:
    assert net.proxy.faults is not None
    run = Run(net, tmp_path, random.Random(net.proxy.faults.seed))
    for round_ in range(SOAK_ROUNDS):
        run.round(round_)


# --- a response lost after the server acted: retried conditional writes ---------------------


@dataclass
class FirstOf(Faults):
    """Fault only the first request of ``methods`` (then none): the retry goes through."""

    faulted: int = 0

    def draw(self, method: str) -> str | None:
        if method not in self.methods or self.faulted:
            return None
        self.faulted += 1
        return self.kinds[0]


WRITES = {"s3": "PUT", "gcs": "POST"}


@pytest.mark.parametrize("existing", [False, True], ids=["create", "overwrite"])
@pytest.mark.parametrize("backend", ["s3", "gcs"], indirect=True)
def test_a_write_whose_response_was_lost_is_retried_without_a_false_conflict(
    backend: Backend, existing: bool
) -> None:
    url = backend.url("data.bin")
    if existing:
        backend.write("data.bin", b"old content")
    lose_first_write = FirstOf(kinds=("lost",), methods=frozenset({WRITES[backend.name]}))

    for net in faulty(backend, lose_first_write):
        df = Datafile(url, storage_options=net.storage_options, labels=["new"])
        with df.open("wb") as f:
            f.write(b"new content")

    assert lose_first_write.faulted == 1
    assert stored(backend.name, backend.fs, url) == Stored.of(b"new content", ["new"])
    assert staged_writes() == []


@pytest.mark.parametrize("backend", ["s3", "gcs"], indirect=True)
def test_a_metadata_update_whose_response_was_lost_is_retried_without_a_false_conflict(
    backend: Backend,
) -> None:
    url = backend.url("data.bin")
    backend.write("data.bin", b"content")
    update = {"s3": "PUT", "gcs": "PATCH"}[backend.name]  # S3: a copy onto itself
    lose_first_update = FirstOf(kinds=("lost",), methods=frozenset({update}))

    for net in faulty(backend, lose_first_update):
        df = Datafile(url, storage_options=net.storage_options)
        df.labels.add("checked")
        df.update_metadata()

    assert lose_first_update.faulted == 1
    assert stored(backend.name, backend.fs, url) == Stored.of(b"content", ["checked"])


# --- the attachment store and its HTTP server -----------------------------------------------


def _attempt_store(kind: str, operation: Callable[[], object]) -> bool:
    FIGURES.add("operations", f"s3: {kind}")
    failure: OctstoreError | None = None
    try:
        operation()
    except OctstoreError as error:
        failure = error
    FIGURES.add("outcomes", type(failure).__name__ if failure else "succeeded")
    assert failure is None or str(failure).strip()
    return failure is None


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "net", [(0, RATE, {}), (0, RATE, NO_RETRIES)], indirect=True, ids=["retries", "no-retries"]
)
@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_store_operations_under_faults_succeed_or_fail_clearly(
    net: FaultyBackend, tmp_path: Path
) -> None:
    """add, fetch, serve and gc through the proxy: each succeeds or raises an OctstoreError,
    and every object is whole (content, its hash, its metadata) or absent."""
    from werkzeug.test import Client

    from octstore.http import make_app

    rng = random.Random(0)
    store = Store(net.url("attachments"), net.storage_options)
    app = Client(make_app(store))
    contents: dict[str, bytes] = {}
    handles: dict[str, str] = {}

    def whole_or_absent(digest: str, *, present: bool | None = None) -> None:
        truth = stored("s3", net.backend.fs, store._object(digest).url)
        if truth is not None:
            assert truth.content == contents[digest], "an object holds other bytes than its hash"
            assert "added" in json.loads(truth.tags), "an object has lost its metadata"
        if present is not None:
            assert (truth is not None) == present

    for i in range(8):
        data = os.urandom(rng.choice([0, 100, 5_000, 70_000, 300_000]))
        digest = hashlib.sha256(data).hexdigest()
        contents[digest] = data
        if _attempt_store(
            "add an attachment",
            lambda d=digest, i=i, data=data: handles.setdefault(d, store.add(f"a{i}.bin", data)),
        ):
            whole_or_absent(digest, present=True)
        else:
            whole_or_absent(digest)
        assert temporaries(tmp_path) == []

    for digest, handle in handles.items():
        target = tmp_path / f"fetched-{digest[:8]}"
        cache.clear()
        if _attempt_store("fetch an attachment", lambda h=handle, t=target: store.fetch(h, t)):
            assert target.read_bytes() == contents[digest]
        else:
            assert not target.exists()
        assert temporaries(tmp_path) == []

        FIGURES.add("operations", "s3: serve an attachment over HTTP")
        try:
            response = app.get("/" + handle)
            body, status = response.get_data(), response.status_code
        except OSError:  # a read failed after the headers went: the client sees a cut body
            FIGURES.add("outcomes", "HTTP body cut short")
            continue
        assert status in (200, 502)
        FIGURES.add("outcomes", "succeeded" if status == 200 else "HTTP 502")
        if status == 200:
            assert body == contents[digest]

    referenced = set(list(handles.values())[::2])
    kept = {handle.split("/")[0] for handle in referenced}
    if _attempt_store("collect garbage", lambda: store.gc(referenced, grace=timedelta(0))):
        for digest in contents:
            whole_or_absent(digest, present=digest in kept)
    else:
        for digest in contents:
            whole_or_absent(digest, present=True if digest in kept else None)
