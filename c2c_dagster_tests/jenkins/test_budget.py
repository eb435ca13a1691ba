"""bounded_map: each item within its own budget, the whole within the deadline, whatever the items do."""

from __future__ import annotations

import threading
import time

from c2c_dagster.jenkins.budget import OverBudget, bounded_map


def test_a_slow_item_is_cut_at_its_budget_while_the_others_answer() -> None:
    release = threading.Event()

    def read(item: str) -> str:
        if item == "hung":
            release.wait(30)
        if item == "broken":
            raise ValueError("500")
        return item.upper()

    started = time.monotonic()
    try:
        out = bounded_map(read, ["hung", "a", "broken", "b"], item_seconds=0.5, deadline=started + 10, workers=2)
    finally:
        release.set()
    elapsed = time.monotonic() - started
    assert out["a"] == "A" and out["b"] == "B"
    assert isinstance(out["broken"], ValueError)
    assert out["hung"] == OverBudget(0.5, started=True)
    assert 0.5 <= elapsed < 2


def test_the_deadline_bounds_the_whole_and_names_what_was_not_reached() -> None:
    release = threading.Event()
    started = time.monotonic()
    try:
        out = bounded_map(lambda item: release.wait(30), ["x", "y", "z"], item_seconds=20,
                          deadline=started + 0.5, workers=1)
    finally:
        release.set()
    assert time.monotonic() - started < 2
    assert out == {"x": OverBudget(20, started=True), "y": OverBudget(20, started=False),
                   "z": OverBudget(20, started=False)}
    assert "not reached" in out["y"].describe() and "budget" in out["x"].describe()
