"""Azurite, Azure Blob Storage's emulator (npm ``azurite``), on loopback for the tests.

The harness installs it itself when it is missing: ``npm install`` into ``.azurite/`` at the
top of the repository (git-ignored; ``OCTSTORE_AZURITE_DIR`` chooses another folder), under a
file lock so that pytest-xdist's workers install it once. ``python -m tests.azurite``
installs it ahead of a run (the ``tests`` nox session does). Needs Node.js and npm.

Each session (each pytest-xdist worker) starts its own server with ``node`` directly (``npx``
would put it three processes deep, so the PID held would not be the server's), on a free port
of 127.0.0.1 that it reads from the server's own output, keeping blobs in memory; it is
stopped by that PID. Clients reach it through a :class:`tests.proxy.Proxy`, which counts
the requests (:meth:`AzuriteServer.recording`, as moto's recorder does for S3). Facts
measured on Azurite 3.35 (what npm picks on Node 20):

- ``--skipApiVersionCheck`` is required: the SDK sends an API version newer than Azurite's;
- it enforces ``If-Match`` (412), create-only uploads (409 ``BlobAlreadyExists``) and blob
  leases, and moves the ETag on metadata-only updates, as Azure does;
- unlike Azure, it does not enforce the 8 KB limit on a blob's metadata (octstore measures
  and spills itself), and it answers ``IfPresent`` on a missing blob with success.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from tests.proxy import Proxy

#: The version npm picks on Node 20, where the facts above were measured.
AZURITE_VERSION = "3.35.0"
ROOT = Path(__file__).resolve().parent.parent
CONTAINER = "octstore-test"
#: Azurite's well-known development account (public: it is in Azure's documentation).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
#: Seconds the server has to say where it listens.
_START_TIMEOUT = 60
_LISTENING = re.compile(r"listens on (http://127\.0\.0\.1:\d+)")


def install_dir() -> Path:
    """Where Azurite is installed: ``$OCTSTORE_AZURITE_DIR``, else ``.azurite/``."""
    return Path(os.environ.get("OCTSTORE_AZURITE_DIR") or ROOT / ".azurite")


def _installed_version(directory: Path) -> str | None:
    try:
        manifest = json.loads((directory / "node_modules/azurite/package.json").read_text())
    except (OSError, ValueError):
        return None
    version = manifest.get("version")
    return version if isinstance(version, str) else None


def install() -> Path:
    """Install Azurite :data:`AZURITE_VERSION` unless it is there; its blob server's script.

    Raises:
        RuntimeError: If npm is missing or fails (its output says why).
    """
    directory = install_dir()
    script = directory / "node_modules/azurite/dist/src/blob/main.js"
    if _installed_version(directory) == AZURITE_VERSION and script.exists():
        return script
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory / "install.lock"), timeout=900):
        if _installed_version(directory) == AZURITE_VERSION and script.exists():
            return script
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("the Azure tests need Azurite, installed with npm: install Node.js")
        command = [
            npm,
            "install",
            "--prefix",
            str(directory),
            "--no-audit",
            "--no-fund",
            "--save-exact",
            "--loglevel=error",
            f"azurite@{AZURITE_VERSION}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0 or not script.exists():
            raise RuntimeError(f"npm could not install Azurite:\n{done.stdout}\n{done.stderr}")
    return script


class AzuriteServer:
    """Azurite's blob service on a free loopback port, in memory, in a process of its own."""

    def __init__(self) -> None:
        self._script = install()
        self._process: subprocess.Popen[str] | None = None
        self._proxy: Proxy | None = None
        #: Where clients reach it: the counting proxy.
        self.endpoint_url = ""
        #: Where Azurite itself listens.
        self.server_url = ""

    def start(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("the Azure tests need Azurite, which runs on Node.js: install it")
        self._process = subprocess.Popen(
            [
                node,
                str(self._script),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.server_url = self._wait_until_listening(self._process)
        self._proxy = Proxy(self.server_url).start()
        self.endpoint_url = self._proxy.endpoint_url

    @staticmethod
    def _wait_until_listening(process: subprocess.Popen[str]) -> str:
        """The URL the server says it listens on; its later output is drained meanwhile."""
        found: list[str] = []
        ready = threading.Event()
        said: list[str] = []

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                if not ready.is_set():
                    said.append(line)
                    match = _LISTENING.search(line)
                    if match:
                        found.append(match[1])
                        ready.set()
            ready.set()  # it ended without saying so

        threading.Thread(target=read, name="azurite-output", daemon=True).start()
        if not ready.wait(_START_TIMEOUT) or not found:
            process.kill()
            process.wait()
            raise RuntimeError(f"Azurite did not start:\n{''.join(said)}")
        return found[0]

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};"
            f"AccountKey={ACCOUNT_KEY};BlobEndpoint={self.endpoint_url}/{ACCOUNT_NAME};"
        )

    @property
    def storage_options(self) -> dict[str, Any]:
        """What adlfs needs to reach this server (``account_name`` with ``account_key``
        cannot: adlfs then insists on https)."""
        return {"connection_string": self.connection_string, "skip_instance_cache": True}

    @contextmanager
    def recording(self) -> Iterator[list[dict[str, Any]]]:
        """Record the requests made inside the block (``method``, the decoded ``path`` with
        the account, and ``query``); the list is filled when it exits."""
        assert self._proxy is not None, "start() the server first"
        requests: list[dict[str, Any]] = []
        with self._proxy.counting() as traffic:
            yield requests
        for exchange in traffic:
            parsed = urllib.parse.urlsplit(exchange.path)
            requests.append(
                {
                    "method": exchange.method,
                    "path": urllib.parse.unquote(parsed.path),
                    "query": urllib.parse.parse_qs(parsed.query),
                }
            )

    @staticmethod
    def content_gets(requests: list[dict[str, Any]], key: str) -> int:
        """How many of ``requests`` downloaded ``key``'s content (a GET of the blob; its
        properties are a HEAD, a listing a GET of the container with ``comp=list``)."""
        return sum(
            1
            for r in requests
            if r["method"] == "GET" and r["path"].endswith("/" + key) and "comp" not in r["query"]
        )


if __name__ == "__main__":
    print(install())
