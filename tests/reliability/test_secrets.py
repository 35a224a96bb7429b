"""No credential ever shows: not in a repr, a log, ``to_dict``, a manifest, the cache, the
command line's output, or an exception.

Credentials reach octstore two ways, and both carry values that must never appear anywhere a
person or another program could read them: ``storage_options`` (``key``, ``secret``,
``token``) and the environment (``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``). moto takes
any credentials, so real operations run with these.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import pytest

from octstore import ConflictError, Datafile, Dataset, NotFoundError, OctstoreError, cache
from octstore.location import Location
from tests.conftest import Backend
from tests.reliability.figures import FIGURES

SECRETS = {
    "key": "AKIAOCTSTOREKEYVALUE42",
    "secret": "octstore-secret-value-7f3a9e",
    "token": "octstore-session-token-9c1b7d",
}
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "AKIAOCTSTOREENVKEY0042",
    "AWS_SECRET_ACCESS_KEY": "octstore-env-secret-51d0aa",
    "AWS_SESSION_TOKEN": "octstore-env-session-88e2f0",
}
NEVER_SHOWN = [*SECRETS.values(), *ENVIRONMENT.values()]


class Leaks:
    """Everything checked so far, by where it was seen."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def check(self, where: str, text: str) -> None:
        FIGURES.add("secrets_checked", where)
        for value in NEVER_SHOWN:
            assert value not in text, f"a credential shows in {where}"
        self.seen[where] = text


@pytest.fixture
def leaks() -> Leaks:
    return Leaks()


@pytest.fixture
def secret_s3(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> dict[str, Any]:
    """Storage options with credentials, credentials in the environment, all logs captured
    (but the SDKs' own debug logs of the requests they sign)."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    for name in ("botocore", "aiobotocore", "urllib3"):
        caplog.set_level(logging.INFO, logger=name)
    return {**SECRETS, "endpoint_url": backend.storage_options["endpoint_url"]}


def _exception_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error)


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_no_credential_shows_in_reprs_dicts_manifests_logs_or_exceptions(
    backend: Backend,
    secret_s3: dict[str, Any],
    leaks: Leaks,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    options = secret_s3
    url = backend.url("data.csv")
    df = Datafile(url, storage_options=options, labels=["raw"])
    with df.open("w") as f:
        f.write("x")
    ds = Dataset(backend.root, storage_options=options, labels=["set"])
    ds.update_metadata()
    report = ds.download(tmp_path / "copy")
    Dataset(str(tmp_path / "copy")).upload(backend.url("again"), storage_options=options)

    leaks.check("reprs", repr(df) + str(df.path) + repr(ds) + repr(Location(url, options)))
    leaks.check("to_dict", json.dumps(df.to_dict()) + json.dumps(ds.to_dict()))
    leaks.check("Dataset.to_dict", json.dumps(Dataset.from_dict(ds.to_dict()).to_dict()))
    leaks.check("transfer reports", str(report) + repr(report))
    leaks.check("manifests", backend.read(".octstore-dataset.json").decode())
    leaks.check("manifests", (tmp_path / "copy" / ".octstore-dataset.json").read_text())
    leaks.check("sidecars", (tmp_path / "copy" / ".data.csv.octstore.json").read_text())
    leaks.check("cache files", _cache_text())

    errors: list[BaseException] = []
    for attempt in (
        lambda: Datafile(backend.url("missing.csv"), storage_options=options).open().__enter__(),
        lambda: _conflict(url, options, backend),
        lambda: Dataset(backend.url("nothing") + "/x/../..", storage_options=options).download(
            "memory://no/where"
        ),
        lambda: Datafile(url, storage_options={**options, "bogus": 1}).exists_in_cloud,
        lambda: Datafile(url, storage_options={**options, **_UNREACHABLE}).open("w").__enter__(),
    ):
        with pytest.raises(OctstoreError) as raised:
            attempt()
        errors.append(raised.value)
    assert any(isinstance(error, NotFoundError) for error in errors)
    assert any(isinstance(error, ConflictError) for error in errors)
    leaks.check("exceptions", "".join(_exception_text(error) for error in errors))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend.write(".octstore-dataset.json", b"{")
        Dataset(backend.root, storage_options=options)
    leaks.check("warnings", "".join(str(w.message) for w in caught))
    leaks.check("logs", caplog.text + "".join(repr(r.args) for r in caplog.records))
    # Pickles carry the options on purpose (another process needs them), so they are not
    # shown; but nothing else that leaves the process does.
    assert SECRETS["secret"].encode() in pickle.dumps(df)


#: A server that is not there, tried once (botocore would retry for seconds).
_UNREACHABLE = {
    "endpoint_url": "http://127.0.0.1:9",
    "config_kwargs": {"retries": {"total_max_attempts": 1}},
}


_UNREACHABLE_OPTIONS = [f"-o{name}={json.dumps(value)}" for name, value in _UNREACHABLE.items()]


def _conflict(url: str, options: dict[str, Any], backend: Backend) -> None:
    df = Datafile(url, storage_options=options)
    backend.write("data.csv", b"someone else's")
    with df.open("w") as f:
        f.write("mine")


def _cache_text() -> str:
    parts = []
    for path in cache.cache_root().rglob("*"):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "".join(parts)


def _octstore_argv() -> list[str]:
    return [shutil.which("octstore") or str(Path(sys.executable).with_name("octstore"))]


def _octstore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_octstore_argv(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_no_credential_shows_in_command_line_output(
    backend: Backend, secret_s3: dict[str, Any], leaks: Leaks, tmp_path: Path
) -> None:
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "a.csv").write_text("1")
    options = [f"-o{name}={value}" for name, value in SECRETS.items()]
    runs = [
        _octstore(*options, "upload", str(tmp_path / "up"), backend.root),
        _octstore(*options, "ls", "-l", "--json", backend.root),
        _octstore(*options, "download", backend.root, str(tmp_path / "down")),
        _octstore(*options, "--debug", "info", backend.url("missing.csv")),
        _octstore(*options, *_UNREACHABLE_OPTIONS, "--debug", "info", backend.url("a.csv")),
    ]

    assert [run.returncode for run in runs] == [0, 0, 0, 3, 1]  # 3: not found
    for run in runs:
        leaks.check("command line output", run.stdout + run.stderr)


@pytest.mark.parametrize("backend", ["s3"], indirect=True)
def test_no_credential_shows_from_the_attachment_store_or_its_configuration(
    backend: Backend,
    secret_s3: dict[str, Any],
    leaks: Leaks,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from octstore import Store, config

    endpoint = backend.storage_options["endpoint_url"]
    toml = tmp_path / "config.toml"
    toml.write_text(
        f'default_store = "files"\n[s3]\nendpoint_url = "{endpoint}"\n'
        f'[stores.files]\nurl = "{backend.url("attachments")}"\n'
        f'access_key_id = "{SECRETS["key"]}"\nsecret_access_key = "{SECRETS["secret"]}"\n'
        f'session_token = "{SECRETS["token"]}"\n'
        f'storage_options = {{ secret = "{SECRETS["secret"]}" }}\n'
    )
    monkeypatch.setenv("OCTSTORE_CONFIG", str(toml))
    loaded = config.load()
    store = Store.from_config("files")
    handle = store.add("memo.txt", b"Feed the cats!")
    direct = Store(backend.url("attachments"), secret_s3)
    leaks.check(
        "store and config reprs",
        repr(store) + repr(direct) + repr(loaded) + repr(loaded.store("files")) + store.url,
    )
    leaks.check(
        "store and config to_dict",
        json.dumps(loaded.to_dict())
        + json.dumps(loaded.store("files").to_dict())
        + json.dumps(store.info(handle).to_dict())
        + json.dumps(store.gc({handle}).to_dict()),
    )
    errors: list[BaseException] = []
    for attempt in (
        lambda: store.info(handle.replace(handle[0], "0" if handle[0] != "0" else "1", 1)),
        lambda: Store(backend.url("attachments"), {**secret_s3, **_UNREACHABLE}).add("a", b"x"),
        lambda: config.load(environ={"OCTSTORE_CONFIG": str(toml), "OCTSTORE_STORES__X__BAD": "1"}),
    ):
        with pytest.raises(OctstoreError) as raised:
            attempt()
        errors.append(raised.value)
    leaks.check("store exceptions", "".join(_exception_text(error) for error in errors))

    runs = [
        _octstore("store", "add", "files", str(toml)),
        _octstore("store", "list", "--json", "files"),
        _octstore("store", "fetch", "files", handle, str(tmp_path / "fetched")),
        _octstore("--debug", "store", "fetch", "files", "0" * 64 + "/x"),
        _octstore(*_UNREACHABLE_OPTIONS, "--debug", "store", "list", "files"),
    ]
    gc = subprocess.run(
        [*_octstore_argv(), "store", "gc", "files", "--referenced", "-", "--dry-run", "--json"],
        input=handle,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert [run.returncode for run in [*runs, gc]] == [0, 0, 0, 3, 1, 0]  # 3: not found
    for run in [*runs, gc]:
        leaks.check("command line output of octstore store", run.stdout + run.stderr)
    leaks.check("logs", caplog.text + "".join(repr(r.args) for r in caplog.records))
