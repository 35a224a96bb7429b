"""The test harness: real servers on loopback and a ``backend`` fixture over all five backends.

Every behaviour test takes ``backend`` and so runs on ``local``, ``memory``, ``s3`` (moto),
``gcs`` (the GCS emulator) and ``az`` (Azurite). A server starts once per session, only if a
test needs it, and is reset between tests (Azurite's tests each have a prefix of their own
instead). Under pytest-xdist each worker is a session of its own, with its own servers on
free ports.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import pytest
from hypothesis import settings

from tests.azurite import CONTAINER, AzuriteServer
from tests.reliability.figures import FiguresWriter
from tests.servers import DUMMY_AWS_CREDENTIALS, GCS_BUCKET, S3_BUCKET, GcsServer, S3Server

BACKENDS = ("local", "memory", "s3", "gcs", "az")

#: Property tests draw the same examples on every run (``derandomize``), so a run passes or
#: fails for the code, never for the draw: a new failure found by chance would stop an
#: unrelated change from landing. ``HYPOTHESIS_PROFILE=explore`` draws new examples each run,
#: to look for new failures (the one found is printed, to be added as a fixed example).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

for noisy in ("werkzeug", "gcp_storage_emulator", "moto"):
    logging.getLogger(noisy).setLevel(logging.ERROR)


@pytest.fixture(autouse=True)
def _isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep each test's octstore cache and config away from the user's and other tests'."""
    monkeypatch.setenv("OCTSTORE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("OCTSTORE_CONFIG", raising=False)
    monkeypatch.delenv("OCTSTORE_OFFLINE", raising=False)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server for the whole session; URL-only code reaches it through the env."""
    server = S3Server()
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_S3", server.endpoint_url)
        patch.setenv("AWS_ACCESS_KEY_ID", DUMMY_AWS_CREDENTIALS["key"])
        patch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_AWS_CREDENTIALS["secret"])
        patch.delenv("AWS_PROFILE", raising=False)
        yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GcsServer]:
    """The GCS emulator for the whole session; URL-only code reaches it through the env."""
    server = GcsServer()
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORAGE_EMULATOR_HOST", server.endpoint_url)
        yield server
    server.stop()


@pytest.fixture(scope="session")
def azure_server() -> Iterator[AzuriteServer]:
    """Azurite for the whole session; URL-only code reaches it through the env."""
    server = AzuriteServer()
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZURE_STORAGE_CONNECTION_STRING", server.connection_string)
        yield server
    server.stop()


@pytest.fixture(scope="session")
def _azure_checker(azure_server: AzuriteServer) -> Any:
    """The adlfs filesystem tests check effects with, and the test container, both made
    once for the session (each test has a prefix of its own in the container)."""
    import adlfs

    fs = adlfs.AzureBlobFileSystem(**azure_server.storage_options)
    fs.mkdir(CONTAINER)
    return fs


@pytest.fixture
def azure_fs(_azure_checker: Any) -> Iterator[Any]:
    """An adlfs filesystem on Azurite, its listings cache emptied for each test; the test
    container made again if the test deleted it."""
    fs = _azure_checker
    fs.invalidate_cache()
    yield fs
    fs.invalidate_cache()
    if not fs.exists(CONTAINER):
        fs.mkdir(CONTAINER)
    fsspec.AbstractFileSystem.clear_instance_cache()


@pytest.fixture(scope="session")
def _s3_checker(s3_server: S3Server) -> Any:
    """The s3fs filesystem tests check effects with: one for the session (a client costs
    a few tenths of a second to make), its listings cache emptied for each test."""
    import s3fs

    return s3fs.S3FileSystem(**s3_server.storage_options)


@pytest.fixture
def s3fs_fs(s3_server: S3Server, _s3_checker: Any) -> Iterator[Any]:
    """An s3fs filesystem on an empty moto with the test bucket created."""
    s3_server.reset()
    fs = _s3_checker
    fs.invalidate_cache()
    fs.mkdir(S3_BUCKET)
    yield fs
    fs.invalidate_cache()
    fsspec.AbstractFileSystem.clear_instance_cache()


@pytest.fixture
def gcs_fs(gcs_server: GcsServer) -> Iterator[Any]:
    """A fresh gcsfs filesystem on an empty emulator with the test bucket created."""
    import gcsfs

    gcs_server.wipe()
    fs = gcsfs.GCSFileSystem(**gcs_server.storage_options)
    if not fs.exists(GCS_BUCKET):
        fs.mkdir(GCS_BUCKET)
    yield fs
    fs.invalidate_cache()
    fsspec.AbstractFileSystem.clear_instance_cache()


@dataclass
class Backend:
    """One place octstore can keep files, as a test sees it.

    Attributes:
        name: ``local``, ``memory``, ``s3``, ``gcs`` or ``az``.
        root: A directory or URL prefix of this test's own, with no trailing slash.
        storage_options: What octstore needs to reach the backend.
        fs: An fsspec filesystem for checking effects independently of octstore.
    """

    name: str
    root: str
    storage_options: dict[str, Any]
    fs: Any
    server: Any = field(default=None, repr=False)

    @property
    def is_cloud(self) -> bool:
        return self.name in ("s3", "gcs", "az")

    def url(self, *parts: str) -> str:
        """The path or URL of ``parts`` under this test's root."""
        return "/".join([self.root, *parts])

    def write(self, name: str, data: bytes) -> str:
        """Put ``data`` at ``name`` behind octstore's back; return its path or URL."""
        url = self.url(name)
        self.fs.pipe(url, data)
        self.fs.invalidate_cache()
        return url

    def read(self, name: str) -> bytes:
        """The bytes at ``name``, read behind octstore's back."""
        self.fs.invalidate_cache()
        data: bytes = self.fs.cat(self.url(name))
        return data


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each of the five backends in turn, with a root of this test's own."""
    name: str = request.param
    prefix = uuid.uuid4().hex[:12]
    if name == "local":
        yield Backend(name, str(tmp_path / "data"), {}, fsspec.filesystem("file", auto_mkdir=True))
        return
    if name == "memory":
        fs = fsspec.filesystem("memory")
        root = f"memory://octstore-test/{prefix}"
        yield Backend(name, root, {}, fs)
        if fs.exists(root):
            fs.rm(root, recursive=True)
        return
    if name == "s3":
        fs = request.getfixturevalue("s3fs_fs")
        server = request.getfixturevalue("s3_server")
        options = {k: v for k, v in server.storage_options.items() if k != "skip_instance_cache"}
        yield Backend(name, f"s3://{S3_BUCKET}/{prefix}", options, fs, server)
        return
    if name == "az":
        fs = request.getfixturevalue("azure_fs")
        server = request.getfixturevalue("azure_server")
        options = {k: v for k, v in server.storage_options.items() if k != "skip_instance_cache"}
        yield Backend(name, f"az://{CONTAINER}/{prefix}", options, fs, server)
        return
    fs = request.getfixturevalue("gcs_fs")
    server = request.getfixturevalue("gcs_server")
    options = {k: v for k, v in server.storage_options.items() if k != "skip_instance_cache"}
    yield Backend(name, f"gs://{GCS_BUCKET}/{prefix}", options, fs, server)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(FiguresWriter(), "octstore-reliability-figures")


def pytest_report_header() -> str:
    return (
        f"octstore backends: {', '.join(BACKENDS)} "
        "(s3: moto, gcs: gcp-storage-emulator, az: Azurite)"
    )


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A folder this process may not write in: read-only by its mode, or, for root (whom a
    mode does not stop), one in /sys, where nobody can create a file."""
    if os.geteuid() == 0:
        yield Path("/sys/kernel")
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    yield folder
    folder.chmod(0o700)
