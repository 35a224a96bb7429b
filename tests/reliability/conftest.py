"""Fixtures of the reliability suite, and the figures it writes at the end of a complete run.

The figures (``figures.json`` here, and the docs page ``docs/reliability.md`` rendered from
them) are written only when the run passed and included every reliability test but the
``slow`` soak variants (unless those ran too): a run of one module, or with ``-k``, leaves
them alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Backend
from tests.proxy import Faults, Proxy
from tests.reliability import report
from tests.reliability.figures import FIGURES

HERE = Path(__file__).parent
FIGURES_JSON = HERE / "figures.json"
_deselected: list[pytest.Item] = []


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(items)


def _is_ours(item: pytest.Item) -> bool:
    return Path(str(item.path)).parent == HERE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    ran = [item for item in session.items if _is_ours(item)]
    skipped_by_choice = [
        item for item in _deselected if _is_ours(item) and item.get_closest_marker("slow") is None
    ]
    modules = {Path(str(item.path)).name for item in [*ran, *_deselected] if _is_ours(item)}
    complete = modules == {path.name for path in HERE.glob("test_*.py")}
    if exitstatus != 0 or not ran or skipped_by_choice or not complete:
        return
    if session.config.option.collectonly or session.testsfailed:
        return
    figures = FIGURES.to_json()
    figures["tests"] = len(ran)
    figures["soak"] = any(item.get_closest_marker("slow") for item in ran)
    FIGURES_JSON.write_text(json.dumps(figures, indent=2) + "\n")
    report.write_page(figures)


@dataclass
class FaultyBackend:
    """A cloud backend reached through a fault-injecting proxy.

    Attributes:
        backend: The backend as the harness has it (``fs`` reaches the server directly).
        proxy: The proxy in front of its server.
        storage_options: What octstore needs to go through the proxy.
    """

    backend: Backend
    proxy: Proxy
    storage_options: dict[str, Any]

    @property
    def name(self) -> str:
        return self.backend.name

    def url(self, *parts: str) -> str:
        return self.backend.url(*parts)


def faulty(backend: Backend, faults: Faults, **storage_options: Any) -> Iterator[FaultyBackend]:
    """``backend`` behind a proxy injecting ``faults`` (with extra ``storage_options`` for
    octstore); the proxy's totals go to the figures."""
    with Proxy(backend.server.endpoint_url, faults=faults) as proxy:
        options = {**backend.storage_options, **storage_options}
        options["endpoint_url"] = proxy.endpoint_url
        try:
            yield FaultyBackend(backend, proxy, options)
        finally:
            FIGURES.add_proxy_totals(proxy.totals())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    figures = FIGURES.to_json()
    if any(figures[key] for key in ("operations", "crashes", "races", "hostile_inputs")):
        terminalreporter.write_sep("-", "reliability figures")
        terminalreporter.write_line(json.dumps(figures))
