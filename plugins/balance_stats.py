"""What load balancing reads across replicas: requests in flight, latency, tokens this minute.

Kept in Redis when configured, so every replica balances on the same figures
(as LiteLLM's Router keeps them in its Redis cache); in memory otherwise, or
while Redis is down. In-flight requests are members of a sorted set scored by
their start, so a replica that dies mid-request stops counting after
``STALE_S`` instead of leaking a count forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from router_config.flow.hooks import Clock
from router_config.state.shared_redis import SharedRedis

_MISS: Any = object()
STALE_S = 600.0  # an in-flight entry older than this is a request whose replica died
LATENCY_ALPHA = 0.3  # EWMA weight of a new latency sample


class BalanceStats:
    """Shared load-balancing figures with a per-process fallback."""

    def __init__(self, redis: SharedRedis | None, now: Clock) -> None:
        self._redis = redis
        self._now = now
        self._busy: dict[str, set[str]] = {}
        self._latency: dict[str, tuple[float, float]] = {}  # id -> (ms, when)
        self._tokens: dict[tuple[int, str], int] = {}

    def _up(self) -> SharedRedis | None:
        return self._redis if self._redis is not None and self._redis.available else None

    async def begin(self, dep_id: str, token: str) -> None:
        """A request now in flight on ``dep_id``."""
        self._busy.setdefault(dep_id, set()).add(token)
        redis = self._up()
        if redis is not None:
            key, now = redis.key("lb", "busy", dep_id), self._now()
            await redis.run(lambda c: c.zadd(key, {token: now}), None)

    async def end(self, dep_id: str, token: str) -> None:
        self._busy.get(dep_id, set()).discard(token)
        redis = self._up()
        if redis is not None:
            key = redis.key("lb", "busy", dep_id)
            await redis.run(lambda c: c.zrem(key, token), None)

    async def busy(self, dep_ids: Sequence[str]) -> dict[str, int]:
        """Requests in flight per deployment, across replicas."""
        redis = self._up()
        if redis is not None:
            keys = [redis.key("lb", "busy", d) for d in dep_ids]
            cutoff = self._now() - STALE_S

            async def op(client: Any) -> list[Any]:
                async with client.pipeline(transaction=False) as pipe:
                    for key in keys:
                        pipe.zremrangebyscore(key, "-inf", cutoff)
                        pipe.zcard(key)
                    return list(await pipe.execute())

            found = await redis.run(op, _MISS)
            if found is not _MISS:
                return {d: int(found[2 * i + 1]) for i, d in enumerate(dep_ids)}
        return {d: len(self._busy.get(d, ())) for d in dep_ids}

    async def record_latency(self, dep_id: str, ms: float) -> None:
        """Fold ``ms`` into the deployment's latency (an EWMA), shared as last written."""
        old = self._latency.get(dep_id)
        value = ms if old is None else (1 - LATENCY_ALPHA) * old[0] + LATENCY_ALPHA * ms
        now = self._now()
        self._latency[dep_id] = (value, now)
        redis = self._up()
        if redis is not None:
            key = redis.key("lb", "latency")
            await redis.run(lambda c: c.hset(key, dep_id, f"{value}:{now}"), None)  # type: ignore[arg-type,return-value]

    async def latencies(self, dep_ids: Sequence[str], ttl_s: float) -> dict[str, float]:
        """Latency per deployment, ignoring figures older than ``ttl_s``."""
        found: dict[str, tuple[float, float]] = {
            d: self._latency[d] for d in dep_ids if d in self._latency
        }
        redis = self._up()
        if redis is not None:
            key = redis.key("lb", "latency")
            raw = await redis.run(lambda c: c.hmget(key, list(dep_ids)), _MISS)  # type: ignore[arg-type,return-value]
            if raw is not _MISS:
                for dep_id, value in zip(dep_ids, raw, strict=True):
                    if value:
                        ms, when = value.split(":")
                        found[dep_id] = (float(ms), float(when))
        now = self._now()
        return {d: ms for d, (ms, when) in found.items() if now - when <= ttl_s}

    async def add_tokens(self, dep_id: str, tokens: int) -> None:
        """Tokens a deployment served, counted in the current minute."""
        minute = int(self._now() // 60)
        self._tokens[(minute, dep_id)] = self._tokens.get((minute, dep_id), 0) + tokens
        for old in [k for k in self._tokens if k[0] < minute - 1]:
            del self._tokens[old]
        redis = self._up()
        if redis is not None:
            key = redis.key("lb", "tpm", str(minute))

            async def op(client: Any) -> None:
                async with client.pipeline(transaction=False) as pipe:
                    pipe.hincrby(key, dep_id, tokens)
                    pipe.expire(key, 120)
                    await pipe.execute()

            await redis.run(op, None)

    async def tokens(self, dep_ids: Sequence[str]) -> dict[str, int]:
        """Tokens served this minute per deployment, across replicas."""
        minute = int(self._now() // 60)
        redis = self._up()
        if redis is not None:
            key = redis.key("lb", "tpm", str(minute))
            raw = await redis.run(lambda c: c.hmget(key, list(dep_ids)), _MISS)  # type: ignore[arg-type,return-value]
            if raw is not _MISS:
                return {d: int(v or 0) for d, v in zip(dep_ids, raw, strict=True)}
        return {d: self._tokens.get((minute, d), 0) for d in dep_ids}
