"""Each optional extra installs what its feature imports, and a missing one is named in the
error: ``http`` for ``http://`` URLs (aiohttp), ``serve`` for the store's server (werkzeug)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"
EXTRAS: dict[str, list[str]] = tomllib.loads(PYPROJECT.read_text())["project"][
    "optional-dependencies"
]


def _run_without(module: str, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in which ``module`` cannot be imported."""
    blocked = f"import sys; sys.modules[{module!r}] = None\n"
    return subprocess.run(
        [sys.executable, "-c", blocked + code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_all_extra_holds_every_other_extra() -> None:
    (requirement,) = map(Requirement, EXTRAS["all"])

    assert requirement.name == "octstore"
    assert requirement.extras == EXTRAS.keys() - {"all"}


def test_the_http_extra_brings_the_client_and_the_serve_extra_the_server() -> None:
    (client,) = map(Requirement, EXTRAS["http"])
    (server,) = map(Requirement, EXTRAS["serve"])

    assert (client.name, client.extras) == ("fsspec", {"http"})  # aiohttp, as fsspec needs it
    assert server.name == "werkzeug"


@pytest.mark.parametrize("url", ["http://example.invalid/x.csv", "https://example.invalid/x"])
def test_an_http_url_without_aiohttp_names_the_http_extra(url: str) -> None:
    result = _run_without("aiohttp", f"from octstore import Datafile\nDatafile({url!r})")

    assert result.returncode != 0
    assert "BackendNotInstalledError" in result.stderr
    assert "pip install 'octstore[http]'" in result.stderr


def test_the_server_without_werkzeug_names_the_serve_extra() -> None:
    result = _run_without("werkzeug", "import octstore.http")

    assert result.returncode != 0
    assert "BackendNotInstalledError" in result.stderr
    assert "pip install 'octstore[serve]'" in result.stderr


@pytest.mark.parametrize("url", ["az://container/x.csv", "abfs://container/x.csv"])
def test_an_azure_url_without_adlfs_names_the_azure_extra(url: str) -> None:
    result = _run_without("adlfs", f"from octstore import Datafile\nDatafile({url!r})")

    assert result.returncode != 0
    assert "BackendNotInstalledError" in result.stderr
    assert "pip install 'octstore[azure]'" in result.stderr
