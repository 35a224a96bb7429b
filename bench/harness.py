"""What every side-by-side benchmark shares: the servers behind latency proxies, the
measurements, the octue peer in its own virtualenv, and the result format.

The cloud is moto's S3 and the GCS emulator on loopback (and Azurite, where a scenario asks
for ``az``), each behind a :class:`tests.proxy.Proxy` that adds :data:`LATENCY` to every
request and counts requests and bytes exactly. Every system in a scenario goes through the
same proxy, with the same latency; requests and bytes are counted there, never inferred.

Result files (``bench/results/<name>.json``) hold::

    {"name", "scenario", "latency_s", "runs", "notes": [...],
     "systems": {"<backend>": {"<system>": {"median_s", "runs_s", "requests", "bytes_up",
                                           "bytes_down", "content_bytes", "ratio", ...}}},
     "targets": [{"target", "measured", "met", "shortfall"}]}

``ratio`` is the system's median time over octstore's on the same backend: 10 means octstore
is ten times faster, 0.9 means the peer is 10% faster. Counts are per run (the median run).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from tests.azurite import CONTAINER as AZURE_CONTAINER  # noqa: E402
from tests.azurite import AzuriteServer  # noqa: E402
from tests.proxy import Exchange, Proxy  # noqa: E402
from tests.servers import (  # noqa: E402
    DUMMY_AWS_CREDENTIALS,
    GCS_BUCKET,
    S3_BUCKET,
    GcsServer,
    S3Server,
)

#: The round trip every request pays at the proxy: a nearby cloud region.
LATENCY = 0.020
#: Quick mode (``OCTSTORE_BENCH_QUICK=1``): small sizes and one run, to check that a scenario
#: works; its results go to ``bench/results-quick/`` (untracked), never to ``bench/results/``.
QUICK = os.environ.get("OCTSTORE_BENCH_QUICK", "") not in ("", "0")
#: Runs per system and scenario (the median is reported).
RUNS = int(os.environ.get("OCTSTORE_BENCH_RUNS", "1" if QUICK else "5"))
RESULTS = Path(
    os.environ.get("OCTSTORE_BENCH_RESULTS")
    or Path(__file__).parent / ("results-quick" if QUICK else "results")
)
OCTUE_PYTHON_VARIABLE = "OCTSTORE_BENCH_OCTUE_PYTHON"

for noisy in ("werkzeug", "gcp_storage_emulator", "moto"):
    logging.getLogger(noisy).setLevel(logging.ERROR)


class Cloud:
    """moto S3 and the GCS emulator, each behind its own latency proxy, each in a process of
    its own (:func:`_serve`), so that serving requests competes neither with the clients being
    measured nor with the other server for an interpreter lock.

    ``direct_options`` reach a server without the proxy (for setting up data, uncounted and
    without latency); ``options`` go through the proxy, for everything measured.
    ``proxies[backend].counting()`` is :meth:`tests.proxy.Proxy.counting`, across processes.

    Args:
        latency: Seconds the proxies add to every request.
        backends: The servers to start: :data:`BACKENDS`, and ``"az"`` (Azurite) where a
            scenario covers Azure.
    """

    BACKENDS = ("gcs", "s3")

    def __init__(self, latency: float = LATENCY, backends: tuple[str, ...] = BACKENDS) -> None:
        self.latency = latency
        self.backends = backends
        self.proxies: dict[str, RemoteProxy] = {}
        self._servers: dict[str, str] = {}
        self._processes: dict[str, Any] = {}

    def __enter__(self) -> Cloud:
        import multiprocessing

        import fsspec

        context = multiprocessing.get_context("spawn")
        for backend in self.backends:
            connection, child = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(child, backend, self.latency),
                name=f"bench-{backend}",
                daemon=True,
            )
            process.start()
            server, proxy = connection.recv()
            self._servers[backend] = server
            self._processes[backend] = process
            self.proxies[backend] = RemoteProxy(connection, proxy)
        for backend in self.backends:
            bucket = self.url(backend).split("://", 1)[1]
            fsspec.filesystem(
                _PROTOCOLS[backend], skip_instance_cache=True, **self.direct_options(backend)
            ).mkdir(bucket)
        # URL-only clients (cloudpathlib's boto3, octue's google-cloud-storage) find the
        # credentials through the environment.
        os.environ["AWS_ACCESS_KEY_ID"] = DUMMY_AWS_CREDENTIALS["key"]
        os.environ["AWS_SECRET_ACCESS_KEY"] = DUMMY_AWS_CREDENTIALS["secret"]
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        return self

    def __exit__(self, *exc_info: object) -> None:
        for backend, proxy in self.proxies.items():
            with contextlib.suppress(Exception):
                proxy.ask("stop")
            self._processes[backend].join(timeout=30)

    def direct_options(self, backend: str) -> dict[str, Any]:
        return self._options(backend, self._servers[backend])

    def options(self, backend: str) -> dict[str, Any]:
        """fsspec storage options that reach ``backend`` through its proxy."""
        return self._options(backend, self.endpoint(backend))

    @staticmethod
    def _options(backend: str, endpoint_url: str) -> dict[str, Any]:
        if backend == "s3":
            return {**DUMMY_AWS_CREDENTIALS, "endpoint_url": endpoint_url}
        if backend == "az":  # adlfs takes an endpoint only in a connection string
            return {"connection_string": _azure_connection_string(endpoint_url)}
        return {"endpoint_url": endpoint_url, "token": "anon"}

    def endpoint(self, backend: str) -> str:
        return self.proxies[backend].endpoint_url

    def url(self, backend: str, *parts: str) -> str:
        bucket = {"s3": S3_BUCKET, "gcs": GCS_BUCKET, "az": AZURE_CONTAINER}[backend]
        return "/".join([f"{_PROTOCOLS[backend]}://{bucket}", *parts])

    def fs(self, backend: str, *, direct: bool = False) -> Any:
        """A fresh fsspec filesystem for ``backend`` (through the proxy unless ``direct``)."""
        import fsspec

        options = self.direct_options(backend) if direct else self.options(backend)
        return fsspec.filesystem(_PROTOCOLS[backend], skip_instance_cache=True, **options)


#: The account in every Azurite request's path.
_AZURE_ACCOUNT = "devstoreaccount1"
#: The URL protocol of each backend.
_PROTOCOLS = {"s3": "s3", "gcs": "gs", "az": "az"}


def _azure_connection_string(endpoint_url: str) -> str:
    """Azurite's development account, reached at ``endpoint_url``."""
    from tests.azurite import ACCOUNT_KEY, ACCOUNT_NAME

    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={endpoint_url}/{ACCOUNT_NAME};"
    )


class RemoteProxy:
    """A :class:`tests.proxy.Proxy` running in a server's process, seen from this one."""

    def __init__(self, connection: Any, endpoint_url: str) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self.endpoint_url = endpoint_url

    def ask(self, *command: Any) -> Any:
        with self._lock:
            self._connection.send(command)
            return self._connection.recv()

    @contextlib.contextmanager
    def counting(self) -> Iterator[list[Exchange]]:
        """The requests made inside the block (the list is filled when the block exits)."""
        start = self.ask("mark")
        exchanges: list[Exchange] = []
        try:
            yield exchanges
        finally:
            exchanges.extend(self.ask("since", start))


def _quiet_hang_ups() -> None:
    """Clients that hang up before reading a whole response (gcsfs does, under load) are no
    error of the servers': do not print a traceback for each."""
    import socketserver

    report = socketserver.BaseServer.handle_error

    def handle_error(server: Any, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            report(server, request, client_address)

    socketserver.BaseServer.handle_error = handle_error  # type: ignore[method-assign]


def _serve(connection: Any, backend: str, latency: float) -> None:
    """A server's process: start the server and its proxy, then answer the parent.

    The GCS emulator rewrites a JSON file of every object's metadata on every write, so each
    write costs more the more objects it holds. Its storage is in memory and nothing reads
    that file back, so here it is not written.
    """
    if backend == "gcs":
        from gcp_storage_emulator.storage import Storage

        Storage._write_config_to_file = lambda self: None  # type: ignore[method-assign]
    _quiet_hang_ups()
    server: Any = {"s3": S3Server, "gcs": GcsServer, "az": AzuriteServer}[backend]()
    server.start()
    # Azurite runs in a node process of its own, with the test harness's counting proxy in
    # front: this proxy goes to Azurite itself.
    upstream = server.server_url if backend == "az" else server.endpoint_url
    proxy = Proxy(upstream, latency=latency).start()
    connection.send((upstream, proxy.endpoint_url))
    try:
        while True:
            command, *arguments = connection.recv()
            if command == "stop":
                connection.send(None)
                return
            exchanges = proxy.exchanges
            connection.send(len(exchanges) if command == "mark" else exchanges[arguments[0] :])
    finally:
        proxy.stop()
        server.stop()


def content_bytes(exchanges: list[Exchange]) -> int:
    """The bytes of object content among ``exchanges``: bodies downloaded from or uploaded to
    an object, as opposed to listings, metadata reads and metadata updates.

    GCS: media downloads (``alt=media``, ``/download/...``) and uploads (``/upload/...``).
    S3: GETs of an object (not a listing) and PUTs that carry a body (a copy carries none).
    Azure: GETs of a blob and PUTs of a blob or a block (not ``comp=list``, ``comp=metadata``
    ...: listings, metadata updates, block lists).
    Metadata files (``.<name>.octstore.json`` sidecars, ``.octstore-dataset.json``) are not
    content.
    """
    total = 0
    for exchange in exchanges:
        path, _, query = exchange.path.partition("?")
        if urllib.parse.unquote(path).rstrip("/").rsplit("/", 1)[-1].startswith("."):
            continue  # octstore's metadata files: sidecars and the dataset manifest
        if path.startswith(f"/{_AZURE_ACCOUNT}/"):
            parameters = urllib.parse.parse_qs(query)
            if exchange.method == "GET" and "comp" not in parameters:
                total += exchange.bytes_down
            elif exchange.method == "PUT" and parameters.get("comp", ["block"]) == ["block"]:
                total += exchange.bytes_up
            continue
        if path.startswith("/storage/v1/") and "alt=media" not in query:
            continue  # GCS JSON API: listings, object resources, metadata PATCHes
        if path.startswith("/download/") or "alt=media" in query:
            total += exchange.bytes_down
        elif path.startswith("/upload/"):
            total += exchange.bytes_up
        elif path.startswith(("/b/", "/moto-api")):
            continue
        elif exchange.method == "GET" and "list-type" not in query and path.count("/") >= 2:
            total += exchange.bytes_down  # S3 GetObject on /bucket/key
        elif exchange.method in ("PUT", "POST"):
            total += exchange.bytes_up
    return total


def measure(
    action: Callable[..., Any],
    proxy: RemoteProxy,
    *,
    runs: int = RUNS,
    setup: Callable[[], Any] | None = None,
    warmup: bool = True,
    timed: Callable[[Any], float] | None = None,
) -> dict[str, Any]:
    """Run ``action`` ``runs`` times through ``proxy``; the median time and per-run counts.

    Args:
        action: What to time; given what ``setup`` returned, if there is a ``setup``. Its
            result is passed to ``timed``, if given.
        proxy: Where requests are counted.
        runs: How many timed runs.
        setup: Untimed and uncounted, before each run (and before the warm-up).
        warmup: One untimed, uncounted run first, so connection pools and clients exist.
        timed: Reads the run's seconds from the action's result (a subprocess that timed
            itself, without its start-up); by default the wall time of ``action``.
    """

    if warmup:
        if setup:
            action(setup())
        else:
            action()
    seconds: list[float] = []
    cpu: list[float] = []
    counts: list[dict[str, int]] = []
    for _ in range(runs):
        prepared = setup() if setup else None
        with proxy.counting() as exchanges:
            started, started_cpu = time.perf_counter(), time.process_time()
            result = action(prepared) if setup else action()
            elapsed = time.perf_counter() - started
            cpu.append(time.process_time() - started_cpu)
        seconds.append(timed(result) if timed else elapsed)
        counts.append(traffic(exchanges))
    return summarise(seconds, counts, cpu)


def traffic(exchanges: list[Exchange]) -> dict[str, int]:
    """One run's counts: requests, bytes, content bytes and writes."""
    return {
        "requests": len(exchanges),
        "bytes_up": sum(e.bytes_up for e in exchanges),
        "bytes_down": sum(e.bytes_down for e in exchanges),
        "content_bytes": content_bytes(exchanges),
        "writes": writes(exchanges),
    }


#: Methods that change what a server stores (an S3 copy is a PUT, a GCS rewrite a POST).
WRITE_METHODS = ("PUT", "POST", "PATCH", "COPY")


def writes(exchanges: list[Exchange]) -> int:
    """Requests among ``exchanges`` that write: PUT, POST, PATCH, COPY (not DELETE)."""
    return sum(1 for exchange in exchanges if exchange.method in WRITE_METHODS)


def summarise(
    seconds: list[float], counts: list[dict[str, int]], cpu: list[float] | None = None
) -> dict[str, Any]:
    """Runs' times (and the measuring process's CPU seconds, user + sys, in all its threads)
    and counts as a system's result: medians, and the counts of the median run by requests."""
    median_run = sorted(counts, key=lambda c: c["requests"])[len(counts) // 2]
    measured: dict[str, Any] = {"median_s": statistics.median(seconds), "runs_s": seconds}
    if cpu:
        measured |= {"cpu_s": statistics.median(cpu), "runs_cpu_s": cpu}
    return {
        **measured,
        **median_run,
        "requests_range": [min(c["requests"] for c in counts), max(c["requests"] for c in counts)],
    }


def add_ratios(systems: dict[str, dict[str, Any]]) -> None:
    """Give each system its ``ratio``: its median time over octstore's."""
    base = systems["octstore"]["median_s"]
    for measured in systems.values():
        measured["ratio"] = measured["median_s"] / base


def ratio_target(
    target: str, measured: float, *, at_least: float | None = None, at_most: float | None = None
) -> dict[str, Any]:
    """A target on a ratio (a peer's time over octstore's, or octstore's over the floor's)."""
    if at_least is not None:
        met = measured >= at_least
        shortfall = f"{measured:.2f}x is {1 - measured / at_least:.0%} short of {at_least:g}x"
    else:
        assert at_most is not None
        met = measured <= at_most
        shortfall = f"{measured:.2f}x is {measured / at_most - 1:.0%} over {at_most:g}x"
    return {"target": target, "measured": f"{measured:.2f}x", "met": met, "shortfall": shortfall}


def write_result(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps({"name": name, **result}, indent=2, default=str) + "\n"
    (RESULTS / f"{name}.json").write_text(text)
    print(text)


def fresh_dir(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=f"octstore-bench-{prefix}-")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- octue, in a virtualenv of its own --------------------------------------------------


class OctuePeer:
    """octue's SDK in its own virtualenv (``OCTSTORE_BENCH_OCTUE_PYTHON``), as a subprocess
    that takes one operation at a time (``bench/peers/octue_worker.py``) and times it itself,
    so its start-up and imports are not counted. Requests go to the GCS proxy.
    """

    def __init__(self, cloud: Cloud) -> None:
        python = os.environ.get(OCTUE_PYTHON_VARIABLE) or str(
            ROOT / ".nox" / "bench-octue" / "bin" / "python"
        )
        if not Path(python).exists():
            raise FileNotFoundError(
                f"no octue virtualenv at {python}: run `nox -s bench`, which makes it, or set "
                f"{OCTUE_PYTHON_VARIABLE}"
            )
        env = {**os.environ, "STORAGE_EMULATOR_HOST": cloud.endpoint("gcs")}
        self._process = subprocess.Popen(
            [python, str(Path(__file__).parent / "peers" / "octue_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.version = self.call("version")["version"]

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        """Run one operation; its answer (``seconds``: the time of the timed part)."""
        assert self._process.stdin
        assert self._process.stdout
        self._process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the octue worker died during {op!r}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"octue {op}: {answer['error']}")
        return answer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self._process.stdin
            self._process.stdin.close()
        self._process.wait(timeout=30)


@contextlib.contextmanager
def octue_peer(cloud: Cloud) -> Iterator[OctuePeer | None]:
    """The octue peer, or None (with a message) if its virtualenv is missing."""
    try:
        peer = OctuePeer(cloud)
    except FileNotFoundError as error:
        print(f"octue not measured: {error}", file=sys.stderr)
        yield None
        return
    try:
        yield peer
    finally:
        peer.close()


# --- the 1,000-file dataset -----------------------------------------------------------

#: The dataset every dataset scenario uses: files (fewer for a smoke test, and in quick mode),
#: size of each, and what to filter by.
FILES = int(os.environ.get("OCTSTORE_BENCH_FILES", "100" if QUICK else "1000"))
FILE_SIZE = 16 * 1024
SITES = ("north", "south", "east", "west", "centre")
LABEL, TAG = "raw", ("site", "north")


def file_metadata(i: int) -> dict[str, Any]:
    """File ``i``'s labels and tags: a third are ``raw``, a fifth are at ``north``."""
    return {
        "labels": ["raw", "wind"] if i % 3 == 0 else ["clean"],
        "tags": {"site": SITES[i % len(SITES)], "height": 60 + i % 80},
    }


def relative_name(i: int) -> str:
    return f"turbine-{i % 10}/{i:04d}.bin"


def make_local_dataset(count: int = FILES, size: int = FILE_SIZE) -> str:
    """A local directory of ``count`` files with their metadata in octstore sidecars."""
    from octstore import Datafile

    root = fresh_dir("dataset")
    for i in range(count):
        with Datafile(os.path.join(root, relative_name(i)), **file_metadata(i)).open("wb") as f:
            f.write(os.urandom(size))
    return root


def put_dataset(cloud: Cloud, backend: str, local: str, prefix: str) -> str:
    """Copy the local dataset to ``prefix`` on ``backend`` with octstore, bypassing the
    proxy, and index its manifest there a second later. On GCS each object also gets octue's
    metadata keys, so that octue reads the same labels and tags. Returns the dataset's URL."""
    from octstore import Dataset

    direct = cloud.url(backend, prefix)
    options = cloud.direct_options(backend)
    Dataset(local).upload(direct, storage_options=options)
    if backend == "gcs":
        _add_octue_metadata(cloud, direct)
    # The manifest is indexed a moment after the upload, as `octstore dataset index` would be:
    # S3 times have whole seconds, so entries read in their objects' last-modified second
    # are not trusted by later loads (see octstore.backends.s3).
    time.sleep(1.1)
    Dataset(direct, storage_options=options).update_metadata()
    return direct


def _add_octue_metadata(cloud: Cloud, url: str) -> None:
    """Give every object under ``url`` octue's ``octue__*`` keys for its octstore metadata."""
    from fsspec.asyn import sync

    from octstore import Dataset

    fs = cloud.fs("gcs", direct=True)
    dataset = Dataset(url, storage_options=cloud.direct_options("gcs"))

    def keys(datafile: Any) -> dict[str, str]:
        return {
            "octue__id": json.dumps(datafile.id),
            "octue__timestamp": json.dumps(None),
            "octue__labels": json.dumps(sorted(datafile.labels)),
            "octue__tags": json.dumps(dict(datafile.tags)),
            "octue__sdk_version": json.dumps("0.69.1"),
        }

    async def patch_all() -> None:
        import asyncio

        limit = asyncio.Semaphore(32)

        async def patch(datafile: Any) -> None:
            async with limit:
                bucket, key, _ = fs.split_path(datafile.path)
                await fs._call("PATCH", "b/{}/o/{}", bucket, key, json={"metadata": keys(datafile)})

        await asyncio.gather(*(patch(datafile) for datafile in dataset))

    sync(fs.loop, patch_all)


def relative_names(count: int = FILES) -> list[str]:
    return [relative_name(i) for i in range(count)]


def data_only_copy(local: str) -> str:
    """The local dataset's data files without octstore's sidecars (hard links), for peers
    that upload whole directories and know nothing of octstore's metadata files."""
    root = fresh_dir("data-only")
    for name in relative_names():
        os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
        os.link(os.path.join(local, name), os.path.join(root, name))
    return root


def cloudpathlib_client(cloud: Cloud) -> Any:
    """cloudpathlib's documented S3 client, pointed at the S3 proxy."""
    from cloudpathlib import S3Client

    return S3Client(
        endpoint_url=cloud.endpoint("s3"),
        aws_access_key_id=DUMMY_AWS_CREDENTIALS["key"],
        aws_secret_access_key=DUMMY_AWS_CREDENTIALS["secret"],
        local_cache_dir=fresh_dir("cloudpathlib-cache"),
    )
