"""Fixtures of the reliability suite. The figures it writes at the end of a complete run
are collected by ``figures.FiguresWriter``, which ``tests/conftest.py`` registers (a
pytest-xdist controller never loads this file).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.conftest import Backend
from tests.proxy import Faults, Proxy
from tests.reliability.figures import FIGURES


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
