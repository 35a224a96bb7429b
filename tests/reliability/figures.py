"""What the reliability suite tried and what came of it, for the "Reliability" docs page.

Tests add to :data:`FIGURES` as they go; at the end of a complete, passing run of the suite
(``tests/reliability/conftest.py`` decides), the figures are written to
``tests/reliability/figures.json`` and ``docs/reliability.md`` is rendered from them by
``tests/reliability/report.py``.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


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


#: The figures of this run.
FIGURES = Figures()
