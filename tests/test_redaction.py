"""No credential leaves the process: one redaction function serves every way out.

A secret is planted in each place one can hide — a URL's userinfo, a signed URL's query,
storage options at any depth (headers, ``client_kwargs``, lists), the environment and the
configuration — and every way text leaves octstore is read: ``repr``, ``to_dict``, exception
messages, log records, warnings and the command line's output (text, ``--json``,
``--debug`` tracebacks). None of the planted values may show in any of them.
"""

from __future__ import annotations

import importlib
import json
import logging
import pickle
import pkgutil
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

import octstore
from octstore import Datafile, Dataset, NotFoundError, OctstoreError, Store, cli, config
from octstore.location import Location
from octstore.redaction import redact

#: Every planted secret, by where it hides.
PLANTED = {
    "url user": "AKIAURLUSERINFO00001",
    "url password": "url-password-5b1e0c",
    "query X-Amz-Signature": "a1b2c3d4e5f6signature",
    "query X-Amz-Credential": "AKIAQUERYCREDENTIAL2",
    "query sig": "azure-sas-sig-77f0e1",
    "query token": "query-token-3d9a2b",
    "option key": "AKIAOPTIONKEY0000003",
    "option secret": "option-secret-9e8d7c",
    "option token": "option-token-6a5b4c",
    "option password": "option-password-e3f2",
    "client_kwargs": "client-kwargs-secret-01",
    "header Authorization": "header-bearer-token-42",
    "header X-Api-Key": "header-api-key-0f0f0f",
    "list of dicts": "listed-sas-token-1234",
    "endpoint userinfo": "endpoint-password-aa11",
    "environment": "env-secret-access-key-bb22",
    "configuration": "config-secret-key-cc33",
}
NEVER_SHOWN = list(PLANTED.values())

BASE = (
    f"memory://{PLANTED['url user']}:{PLANTED['url password']}@host/planted"
    f"?X-Amz-Signature={PLANTED['query X-Amz-Signature']}"
    f"&X-Amz-Credential={PLANTED['query X-Amz-Credential']}%2F20240101"
    f"&sig={PLANTED['query sig']}&token={PLANTED['query token']}&versionId=7"
)
OPTIONS: dict[str, Any] = {
    "key": PLANTED["option key"],
    "secret": PLANTED["option secret"],
    "token": PLANTED["option token"],
    "password": PLANTED["option password"],
    "client_kwargs": {"aws_secret_access_key": PLANTED["client_kwargs"], "region": "x"},
    "headers": {
        "Authorization": f"Bearer {PLANTED['header Authorization']}",
        "X-Api-Key": PLANTED["header X-Api-Key"],
        "Accept": "text/csv",
    },
    "extra": [{"sas_token": PLANTED["list of dicts"]}, "plain"],
    "endpoint_url": f"http://user:{PLANTED['endpoint userinfo']}@127.0.0.1:9",
}


class Leaks:
    """Each output path read, by name."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}

    def check(self, where: str, text: str) -> None:
        shown = [place for place, value in PLANTED.items() if value in text]
        assert not shown, f"{where} shows the secrets planted in {shown}:\n{text}"
        self.paths[where] = text


@pytest.fixture
def leaks() -> Leaks:
    return Leaks()


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Datafile]:
    """A file at a URL full of secrets, with secret storage options, a secret in the
    environment and in the configuration."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", PLANTED["environment"])
    monkeypatch.setenv("OCTSTORE_STORES__FILES__URL", f"{BASE}-store")
    monkeypatch.setenv("OCTSTORE_STORES__FILES__SECRET_ACCESS_KEY", PLANTED["configuration"])
    (tmp_path / "config.toml").write_text("")
    monkeypatch.setenv("OCTSTORE_CONFIG", str(tmp_path / "config.toml"))
    datafile = Datafile(f"{BASE}/data.csv", storage_options=OPTIONS, labels=["raw"])
    with datafile.open("w") as f:
        f.write("1,2\n")
    yield datafile
    fsspec.filesystem("memory").store.clear()
    fsspec.filesystem("memory").pseudo_dirs[:] = [""]


def _exception_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error) + str(error.args)


def _secret_text() -> str:
    """Free text that names every planted secret, as an SDK's message might."""
    return f"{BASE} {OPTIONS!r} AWS_SECRET_ACCESS_KEY={PLANTED['environment']}"


def test_no_planted_secret_shows_in_reprs_or_dicts(planted: Datafile, leaks: Leaks) -> None:
    dataset = Dataset(f"{BASE}", storage_options=OPTIONS, labels=["set"])
    store = Store(f"{BASE}-store", OPTIONS)
    handle = store.add("memo.txt", b"Feed the cats!")
    loaded = config.load()

    leaks.check("repr(Datafile)", repr(planted) + str(planted))
    leaks.check("Datafile.to_dict", json.dumps(planted.to_dict()))
    leaks.check("repr(Location)", repr(Location(planted.path, OPTIONS)))
    leaks.check("repr(Dataset)", repr(dataset))
    leaks.check("Dataset.to_dict", json.dumps(dataset.to_dict()))
    leaks.check("repr(Store)", repr(store))
    leaks.check("StoredObject.to_dict", json.dumps(store.info(handle).to_dict()))
    leaks.check("repr(config)", repr(loaded) + repr(loaded.store("files")))
    leaks.check("config.to_dict", json.dumps(loaded.to_dict()))
    # Pickles carry the credentials on purpose: another process needs them to connect.
    assert PLANTED["option secret"].encode() in pickle.dumps(planted)


def test_to_dict_round_trips_when_the_credentials_are_given_again(planted: Datafile) -> None:
    options = {**OPTIONS, "anon": False, "token": "anon"}
    datafile = Datafile("memory://bucket/data.csv", storage_options=options)

    described = datafile.to_dict()
    again = Datafile.from_dict(described, storage_options=OPTIONS)

    assert again == datafile
    assert described["storage_options"] == {
        "anon": False,
        "token": "anon",
        "client_kwargs": {"region": "x"},
        "headers": {"Accept": "text/csv"},
        "extra": [{}, "plain"],
        "endpoint_url": "http://127.0.0.1:9",
    }
    assert again._location.storage_options["secret"] == PLANTED["option secret"]


def test_no_planted_secret_shows_in_exception_messages(planted: Datafile, leaks: Leaks) -> None:
    errors: list[BaseException] = []
    for attempt in (
        lambda: Datafile(f"{BASE}/missing.csv", storage_options=OPTIONS).open().__enter__(),
        lambda: Store(f"{BASE}-none", OPTIONS).info("0" * 64 + "/x"),
    ):
        with pytest.raises(OctstoreError) as raised:
            attempt()
        errors.append(raised.value)
    assert isinstance(errors[0], NotFoundError)
    # Any message, however it was built, loses its credentials when the error is made.
    errors.append(OctstoreError(f"reading failed: {_secret_text()}"))
    errors.append(NotFoundError(_secret_text()))

    leaks.check("exceptions", "".join(_exception_text(error) for error in errors))
    leaks.check("pickled exceptions", repr(pickle.loads(pickle.dumps(errors[-1]))))


def test_no_planted_secret_shows_in_warnings(planted: Datafile, leaks: Leaks) -> None:
    sidecar = Location(planted.path).sibling(".data.csv.octstore.json")
    sidecar.fs.pipe_file(sidecar.fs_path, b"{not json")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Datafile(planted.path, storage_options=OPTIONS).labels  # noqa: B018

    assert caught, "an invalid sidecar is warned about"
    leaks.check("warnings", "".join(str(warning.message) for warning in caught))


def test_no_planted_secret_shows_in_log_records(
    planted: Datafile, leaks: Leaks, caplog: pytest.LogCaptureFixture
) -> None:
    for module in pkgutil.walk_packages(octstore.__path__, "octstore."):
        importlib.import_module(module.name)  # each module's logger is made at import
    caplog.set_level(logging.DEBUG, logger="octstore")
    names = sorted(
        name
        for name in logging.Logger.manager.loggerDict
        if name == "octstore" or name.startswith("octstore.")
    )
    assert "octstore.http" in names
    for name in names:
        logger = logging.getLogger(name)
        logger.debug("request to %s with %r", BASE, OPTIONS)
        logger.warning(_secret_text())
        try:
            raise ValueError(_secret_text())
        except ValueError:
            logger.exception("failed on %s", BASE)

    assert len(caplog.records) == 3 * len(names)
    leaks.check("log records", caplog.text + "".join(repr(r.args) for r in caplog.records))


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        cli.main(list(args))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out + captured.err


def test_no_planted_secret_shows_in_command_line_output(
    planted: Datafile,
    leaks: Leaks,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)
    # Warnings printed as Python prints them (pytest would otherwise record them).
    monkeypatch.setattr(
        warnings,
        "showwarning",
        lambda *warning, **_: sys.stderr.write(warnings.formatwarning(*warning[:4])),
    )
    options = [f"-o{name}={json.dumps(value)}" for name, value in OPTIONS.items()]
    sidecar = Location(planted.path).sibling(".data.csv.octstore.json")
    runs = {
        "info": ("info", planted.path),
        "info --json": ("info", "--json", planted.path),
        "hash": ("hash", planted.path),
        "hash --json": ("hash", "--json", planted.path),
        "ls -l": ("ls", "-l", BASE),
        "ls --json": ("ls", "--json", BASE),
        "error": ("info", f"{BASE}/missing.csv"),
        "--debug error": ("--debug", "info", f"{BASE}/missing.csv"),
        "--debug usage error": ("--debug", "info", "--bogus", BASE),
        "warning": ("info", planted.path),
    }
    codes = {}
    for name, args in runs.items():
        if name == "warning":
            sidecar.fs.pipe_file(sidecar.fs_path, b"{not json")
        codes[name], output = _run(capsys, *options, *args)
        leaks.check(f"octstore {name}", output)

    assert codes == {name: 3 if "error" in name else 0 for name in runs} | {
        "--debug usage error": 2
    }
    assert "Traceback" in leaks.paths["octstore --debug error"]
    assert "***@host/planted" in leaks.paths["octstore info"]
    assert "warning" in leaks.paths["octstore warning"]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("ftp://user:pw@host/x", "ftp://***@host/x"),
        ("s3://KEY:SECRET@bucket/k", "s3://***@bucket/k"),
        ("see https://u:p@ss@host/a?b=1 now", "see https://***@host/a?b=1 now"),
        (
            "https://h/x?X-Amz-Signature=abc&X-Amz-Date=1",
            "https://h/x?X-Amz-Signature=***&X-Amz-Date=1",
        ),
        ("https://h/x?sv=1&sig=abc%2Bd", "https://h/x?sv=1&sig=***"),
        ("{'secret': 'abc', 'region': 'eu'}", "{'secret': '***', 'region': 'eu'}"),
        ('"token": "abc"', '"token": "***"'),
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        (
            "AccountName=a;AccountKey=abc/d+e==;EndpointSuffix=x",
            "AccountName=a;AccountKey=***;EndpointSuffix=x",
        ),
        ("s3://bucket/key.csv and memory://dir/x", "s3://bucket/key.csv and memory://dir/x"),
        ('{"url":"s3://bucket","email":"a@b.c"}', '{"url":"s3://bucket","email":"a@b.c"}'),
        ("no secret: a key of 3 words", "no secret: a key of 3 words"),
    ],
)
def test_redact_hides_credentials_in_text_and_keeps_the_rest(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_redact_hides_values_it_has_seen_as_secrets_anywhere() -> None:
    redact({"secret": "remembered-secret-value-1"})

    assert redact("InvalidAccessKeyId: remembered-secret-value-1") == "InvalidAccessKeyId: ***"


def test_an_azure_urls_container_is_no_secret() -> None:
    # abfs://container@account.host/blob: the part before "@" names a container.
    url = "abfs://field-data-2024@account.dfs.core.windows.net/site/x.csv"

    assert str(Location(url).url)
    assert redact(f"{url} does not exist") == f"{url} does not exist"
    assert redact("s3://field-data-2024/x.csv") == "s3://field-data-2024/x.csv"
    assert redact("abfs://a:b@account/x") == "abfs://***@account/x"


def test_the_working_directory_is_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shell sets PWD: "pwd" names a password elsewhere, not here.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    monkeypatch.setenv("OLDPWD", str(tmp_path.parent))
    path = str(tmp_path / "data.csv")

    assert redact(f"{path} does not exist") == f"{path} does not exist"
    assert str(tmp_path.parent) in redact(f"in {tmp_path.parent}")
    assert path == str(Datafile(path))


def test_usage_messages_keep_their_words() -> None:
    assert redact("'novalue' is not NAME=VALUE: write e.g. site=north") == (
        "'novalue' is not NAME=VALUE: write e.g. site=north"
    )
