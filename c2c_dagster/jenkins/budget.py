"""Time budgets for reading Jenkins inside a sensor tick: each job or folder gets its own, the
tick as a whole gets one, and whatever does not answer in time is reported, not waited for.

Dagster abandons a sensor evaluation after 60 s (``DAGSTER_SENSOR_GRPC_TIMEOUT_SECONDS``), and
then hands over nothing: one job answering after 30 s (with retries, minutes) must not cost the
healthy jobs their tick. A per-request (connect, read) timeout alone does not bound a request
(a server trickling bytes resets the read timeout at every byte; retries multiply it), so each
item runs on a worker thread and the tick stops waiting for it once its budget is spent. A
thread left behind ends by itself when its request's own timeouts expire (``TICK_REQUEST_TIMEOUT``
times the retries: under a minute, before the next tick).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TypeVar

# The figures (README "Jenkins time budgets"):
#: Per request inside a tick: 3.05 s to connect, 8 s between bytes of the answer.
TICK_REQUEST_TIMEOUT = (3.05, 8.0)
#: One job's builds listing, or one folder's listing, including its retries.
ITEM_BUDGET_SECONDS = 15.0
#: Reading Jenkins in one tick (root, folders, jobs). The rest of the 60 s is the margin for
#: recording ingest problems in the store and returning the run requests.
TICK_BUDGET_SECONDS = 40.0
#: Jobs (or folders) read at once: a hung one holds one worker, the others go on.
WORKERS = 8

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class OverBudget:
    """An item not answered within its budget (``started``) or not reached before the tick's end."""

    seconds: float
    started: bool

    def describe(self) -> str:
        if self.started:
            return (f"no answer within its {self.seconds:g} s budget of the sensor tick; read again next tick "
                    "(the other jobs were not held back)")
        return (f"not reached before the tick's {TICK_BUDGET_SECONDS:g} s budget for reading Jenkins ran out; "
                "read again next tick")


def bounded_map(
    fn: Callable[[K], V],
    items: Iterable[K],
    *,
    item_seconds: float,
    deadline: float,
    workers: int = WORKERS,
) -> dict[K, V | BaseException | OverBudget]:
    """``fn(item)`` for each item on ``workers`` threads: its value, the exception it raised, or
    ``OverBudget`` when it ran longer than ``item_seconds`` or had not finished by ``deadline``
    (``time.monotonic()``). Returns by the deadline whatever the items do."""
    started: dict[K, float] = {}

    def run(item: K) -> V:
        started[item] = time.monotonic()
        return fn(item)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="c2c-jenkins-tick")
    futures: dict[Future[V], K] = {pool.submit(run, item): item for item in items}
    out: dict[K, V | BaseException | OverBudget] = {}
    pending = set(futures)
    try:
        while pending:
            now = time.monotonic()
            wake = deadline
            for future in list(pending):
                item = futures[future]
                begun = started.get(item)
                if begun is None or future.done():
                    continue
                if now - begun >= item_seconds:
                    out[item] = OverBudget(item_seconds, started=True)
                    pending.discard(future)
                else:
                    wake = min(wake, begun + item_seconds)
            if not pending:
                break
            if now >= deadline:
                for future in pending:
                    out[futures[future]] = OverBudget(item_seconds, started=futures[future] in started)
                break
            timeout = None if wake == float("inf") else max(0.01, wake - now)
            done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                pending.discard(future)
                error = future.exception()
                out[futures[future]] = error if error is not None else future.result()
    finally:
        # Never join the threads of items over budget: that would be waiting for them after all.
        pool.shutdown(wait=False, cancel_futures=True)
    return out

