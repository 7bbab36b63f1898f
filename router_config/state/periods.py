"""Budget and report periods: UTC days and calendar months, named ``day:2026-11-25`` and
``month:2026-11`` in the ledger."""

from __future__ import annotations

import datetime as dt


def periods(when: dt.datetime) -> dict[str, str]:
    """The period ids ``when`` falls in: ``{"day": "day:2026-11-25", "month": "month:2026-11"}``."""
    return {"day": f"day:{when:%Y-%m-%d}", "month": f"month:{when:%Y-%m}"}


def period_bounds(kind: str, when: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (UTC) of the day or month containing ``when``."""
    if kind == "day":
        start = when.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + dt.timedelta(days=1)
    start = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (start + dt.timedelta(days=32)).replace(day=1)
    return start, nxt
