"""What the reliability suite tried and what came of it, for the "Reliability" docs page.

Tests add to :data:`FIGURES` as they go (each pytest-xdist worker to its own, merged at the
end); at the end of a complete, passing run of the suite (``tests/reliability/conftest.py``
decides), the figures are written to ``build/reliability/figures.json``, which is not tracked.
``nox -s reliability`` then renders the docs page ``docs/reliability.md`` from them with
``tests/reliability/report.py``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.report import FIGURES_JSON

HERE = Path(__file__).parent


@dataclass
class Figures:
    """Counts, each by kind. ``data_lost`` counts any byte or metadata update a check found
    missing or corrupted; a passing run has 0, since every such finding fails its test."""

    operations: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    races: Counter[str] = field(default_factory=Counter)
    hostile_inputs: Counter[str] = field(default_factory=Counter)
    stateful_steps: Counter[str] = field(default_factory=Counter)
    secrets_checked: Counter[str] = field(default_factory=Counter)
    data_lost: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, counter: str, kind: str, count: int = 1) -> None:
        with self._lock:
            getattr(self, counter)[kind] += count

    def add_proxy_totals(self, totals: dict[str, Any]) -> None:
        with self._lock:
            self.requests += int(totals["requests"])
            self.faults.update(totals["faults"])

    def merge(self, figures: dict[str, Any]) -> None:
        """Add ``figures`` (as :meth:`to_json` gives them, from another process) to these."""
        with self._lock:
            for counter in COUNTERS:
                getattr(self, counter).update(figures[counter])
            self.requests += int(figures["requests"])
            self.data_lost += int(figures["data_lost"])

    def to_json(self) -> dict[str, Any]:
        def sorted_counts(counter: Counter[str]) -> dict[str, int]:
            return dict(sorted(counter.items()))

        return {
            "operations": sorted_counts(self.operations),
            "outcomes": sorted_counts(self.outcomes),
            "requests": self.requests,
            "faults": sorted_counts(self.faults),
            "crashes": sorted_counts(self.crashes),
            "races": sorted_counts(self.races),
            "hostile_inputs": sorted_counts(self.hostile_inputs),
            "stateful_steps": sorted_counts(self.stateful_steps),
            "secrets_checked": sorted_counts(self.secrets_checked),
            "data_lost": self.data_lost,
        }


#: The counters of :class:`Figures`, each kind -> count.
COUNTERS = (
    "operations",
    "outcomes",
    "faults",
    "crashes",
    "races",
    "hostile_inputs",
    "stateful_steps",
    "secrets_checked",
)

#: The figures of this run (of this process: a pytest-xdist worker has its own).
FIGURES = Figures()


class FiguresWriter:
    """The pytest plugin that writes :data:`FIGURES` to ``build/reliability/figures.json``.

    They are written only when the run passed and included every reliability test but the
    ``slow`` soak variants (unless those ran too): a run of one module, or with ``-k``, leaves
    them alone. Under pytest-xdist each worker sends the controller its figures and what it
    collected; the controller merges them and writes the file.
    """

    def __init__(self) -> None:
        self._deselected: list[pytest.Item] = []
        self._sent: list[dict[str, Any] | None] = []  # by each xdist worker, as it finished

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self._deselected.extend(items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        self._sent.append(getattr(node, "workeroutput", {}).get("reliability"))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config: Any = session.config
        if hasattr(config, "workeroutput"):  # an xdist worker: the controller writes
            config.workeroutput["reliability"] = {
                "selection": self._selection(session),
                "figures": FIGURES.to_json(),
            }
            return
        if self._sent:
            for sent in self._sent:
                if sent:
                    FIGURES.merge(sent["figures"])
            selections = [sent["selection"] if sent else None for sent in self._sent]
            selection = selections[0] if all(selections) else None
        else:
            selection = self._selection(session)
        if selection is None or exitstatus != 0 or session.testsfailed:
            return
        if config.option.collectonly:
            return
        figures = {**FIGURES.to_json(), **selection}
        FIGURES_JSON.parent.mkdir(parents=True, exist_ok=True)
        FIGURES_JSON.write_text(json.dumps(figures, indent=2) + "\n")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        figures = FIGURES.to_json()
        if any(figures[key] for key in ("operations", "crashes", "races", "hostile_inputs")):
            terminalreporter.write_sep("-", "reliability figures")
            terminalreporter.write_line(json.dumps(figures))

    def _selection(self, session: pytest.Session) -> dict[str, Any] | None:
        """How many reliability tests this process collected and whether the soak variants
        were among them; None if some other than those were left out, or none collected."""
        ours = [item for item in session.items if _is_ours(item)]
        left_out = [
            item
            for item in self._deselected
            if _is_ours(item) and item.get_closest_marker("slow") is None
        ]
        modules = {Path(str(item.path)).name for item in [*ours, *self._deselected]}
        every_module = {path.name for path in HERE.glob("test_*.py")} <= modules
        if not ours or left_out or not every_module:
            return None
        return {"tests": len(ours), "soak": any(item.get_closest_marker("slow") for item in ours)}


def _is_ours(item: pytest.Item) -> bool:
    return Path(str(item.path)).parent == HERE
