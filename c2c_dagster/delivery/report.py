"""``c2c dora``'s answer from the store: the stored delivery-metrics rows of one scope and period,
summed and pooled (``summary.py``), with one line per app. It only reads, and recomputes nothing:
the figures are the ones ``delivery_metrics`` stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from c2c_core.timeutil import utc_now
from c2c_dagster.delivery.rows import ALL, row_id, scope_of
from c2c_dagster.delivery.summary import Period, summarize
from c2c_dagster.documents.delivery import DeliveryMetricsRow
from c2c_dagster.store import DELIVERY_METRICS, FIND_ALL, MetadataStore

_RELATIVE = re.compile(r"^(\d+)([dw])$")


class DoraQueryError(ValueError):
    """A query that cannot be asked as written; the message shows the expected form."""


def parse_period(since: str, until: str | None, *, today: date | None = None) -> Period:
    """``--since 30d`` (the last 30 days, today included), ``4w`` or ``YYYY-MM-DD``; ``--until``
    ``YYYY-MM-DD`` (default today, UTC)."""
    today = today or utc_now().date()
    try:
        last = date.fromisoformat(until) if until else today
    except ValueError:
        raise DoraQueryError(f"--until {until!r}: expected a day as YYYY-MM-DD") from None
    match = _RELATIVE.match(since.strip())
    if match:
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        if days < 1:
            raise DoraQueryError(f"--since {since!r}: at least one day (1d)")
        first = last - timedelta(days=days - 1)
    else:
        try:
            first = date.fromisoformat(since.strip())
        except ValueError:
            raise DoraQueryError(f"--since {since!r}: expected a number of days or weeks (30d, 4w) or a day (YYYY-MM-DD)") from None
    if first > last:
        raise DoraQueryError(f"--since {first} is after --until {last}")
    return Period(first, last)


@dataclass(frozen=True)
class DoraQuery:
    app: str | None = None
    cluster: str | None = None

    @property
    def scope(self) -> str:
        return scope_of(self.cluster, self.app)


def dora_report(store: MetadataStore, query: DoraQuery, period: Period) -> dict[str, Any] | None:
    """The four keys of the query's scope over ``period``, and per app when no app is asked;
    None when the store holds no row for it (nothing matches)."""
    cluster, app = query.cluster or ALL, query.app or ALL
    ids = [row_id(query.scope, cluster, app, day) for day in period.day_keys()]
    rows = DeliveryMetricsRow.from_documents(store.find(DELIVERY_METRICS.name, "row_id", ids, limit=FIND_ALL))
    if not rows:
        return None
    report: dict[str, Any] = {"query": {"app": query.app, "cluster": query.cluster, "since": period.first_day.isoformat(),
                                        "until": period.last_day.isoformat()},
                              "scope": {"cluster": cluster, "app": app}, **summarize(rows, period)}
    if query.app is None:
        per_app_scope = scope_of(query.cluster, "any")
        listed = DeliveryMetricsRow.from_documents(store.list_range(
            DELIVERY_METRICS.name, _utc(period.first_day), _utc(period.last_day + timedelta(days=1)), limit=FIND_ALL))
        by_app: dict[tuple[str | None, str | None], list[DeliveryMetricsRow]] = {}
        for row in listed:
            if row.scope == per_app_scope and (query.cluster is None or row.cluster == query.cluster):
                by_app.setdefault((row.cluster, row.app), []).append(row)
        report["apps"] = [{"cluster": c, "app": a, **summarize(app_rows, period)}
                          for (c, a), app_rows in sorted(by_app.items(), key=lambda item: (item[0][1], item[0][0]))]
    return report


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
