"""Timestamps as c2c writes them: ISO 8601 UTC strings in documents, epoch milliseconds for ranges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """A datetime from an ISO 8601 string, epoch milliseconds or a datetime; None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float):
        parsed = datetime.fromtimestamp(value / 1000, tz=UTC)
    else:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    # Naive times are taken as UTC: every c2c producer writes UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_epoch_ms(value: Any) -> int | None:
    parsed = parse_time(value)
    return None if parsed is None else int(parsed.timestamp() * 1000)


def iso_utc(value: datetime) -> str:
    """``2026-01-31T05:45:18Z``: the seed's timestamp form (milliseconds kept when present)."""
    value = value.astimezone(UTC)
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(UTC)
