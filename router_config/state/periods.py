"""Budget and report periods: UTC days and calendar months, named ``day:2026-11-25`` and
``month:2026-11`` in the ledger."""

from __future__ import annotations

import datetime as dt
import functools
import types
from collections.abc import Mapping


def periods(when: dt.datetime) -> Mapping[str, str]:
    """The period ids ``when`` falls in: ``{"day": "day:2026-11-25", "month": "month:2026-11"}``.

    Every request asks, several times; formatting dates each time was 1.5 % of the
    gateway's CPU, so the ids of recent days are kept (read-only: they are shared)."""
    return _periods(when.year, when.month, when.day)


@functools.lru_cache(maxsize=8)
def _periods(year: int, month: int, day: int) -> Mapping[str, str]:
    return types.MappingProxyType(
        {"day": f"day:{year:04d}-{month:02d}-{day:02d}", "month": f"month:{year:04d}-{month:02d}"}
    )


def period_bounds(kind: str, when: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (UTC) of the day or month containing ``when``."""
    if kind == "day":
        start = when.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + dt.timedelta(days=1)
    start = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (start + dt.timedelta(days=32)).replace(day=1)
    return start, nxt
