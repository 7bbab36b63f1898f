"""Spend counters per period: Redis hashes shared by replicas, or memory without Redis.

One hash per UTC period (``day:2026-11-25``, ``month:2026-11``); fields such as
``provider:openai``, ``group:chat``, ``team:search``, ``deployment:x`` hold USD
spent, ``attempts:provider:openai`` counts attempts, and ``committed:<scope>``
holds spent plus outstanding reservations (what budgets are checked against).
Increments are atomic (HINCRBYFLOAT), so concurrent replicas never lose spend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from router_config.state.shared_redis import SharedRedis

_MISS: Any = object()
KEEP_S = 40 * 24 * 3600  # a month and then some, so last month can still be reported


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


class SpendLedger:
    """Atomic float counters per period and field."""

    def __init__(self, redis: SharedRedis | None) -> None:
        self._redis = redis
        self._local: dict[str, dict[str, float]] = {}

    async def add(self, period: str, field: str, amount: float) -> float:
        """Add ``amount`` (may be negative); return the new value."""
        return (await self.add_many([(period, field, amount)]))[0]

    async def add_many(self, changes: Sequence[tuple[str, str, float]]) -> list[float]:
        """Several ``(period, field, amount)`` increments in one Redis round trip (pipelined,
        each atomic); the new values, in order."""
        for period, field, amount in changes:
            local = self._local.setdefault(period, {})
            local[field] = local.get(field, 0.0) + amount
        if self._redis is not None and self._redis.available:
            redis = self._redis

            async def op(client: Any) -> list[float]:
                async with client.pipeline(transaction=False) as pipe:
                    for period, field, amount in changes:
                        pipe.hincrbyfloat(redis.key("spend", period), field, amount)
                    for period in {period for period, _, _ in changes}:
                        pipe.expire(redis.key("spend", period), KEEP_S)
                    results = await pipe.execute()
                return [float(v) for v in results[: len(changes)]]

            values = await redis.run(op, _MISS)
            if values is not _MISS:
                return list(values)
        return [self._local[period][field] for period, field, _ in changes]

    async def read(self, period: str) -> Mapping[str, float]:
        if self._redis is not None and self._redis.available:
            key = self._redis.key("spend", period)
            raw = await self._redis.run(lambda c: c.hgetall(key), _MISS)  # type: ignore[arg-type,return-value]
            if raw is not _MISS:
                return {k: float(v) for k, v in raw.items()}
        return dict(self._local.get(period, {}))
