"""Where circuit-breaker state lives: Redis when configured (all replicas agree), else memory.

Each deployment has one hash of string fields. Every operation falls back to
the in-memory copy when Redis is unavailable, so a Redis outage degrades the
breaker to per-replica state instead of breaking requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router_config.shared_redis import SharedRedis

_MISS: Any = object()


class BreakerStore:
    """Per-deployment breaker fields, shared through Redis when it is up."""

    def __init__(self, redis: SharedRedis | None) -> None:
        self._redis = redis
        self._local: dict[str, dict[str, str]] = {}
        self._claims: dict[str, float] = {}

    def _key(self, dep: str) -> str:
        assert self._redis is not None
        return self._redis.key("breaker", dep)

    async def load(self, dep: str) -> dict[str, str]:
        if self._redis is not None and self._redis.available:
            key = self._key(dep)
            found = await self._redis.run(lambda c: c.hgetall(key), _MISS)  # type: ignore[arg-type,return-value]
            if found is not _MISS:
                return dict(found)
        return dict(self._local.get(dep, {}))

    async def update(self, dep: str, fields: Mapping[str, str | float | int]) -> None:
        values = {k: str(v) for k, v in fields.items()}
        self._local.setdefault(dep, {}).update(values)
        if self._redis is not None and self._redis.available:
            key = self._key(dep)
            await self._redis.run(lambda c: c.hset(key, mapping=values), None)  # type: ignore[arg-type,return-value]

    async def update_and_incr(
        self, dep: str, fields: Mapping[str, str | float | int], field: str
    ) -> int:
        """``update(fields)`` then ``incr(field)`` in one Redis round trip: the hot path."""
        values = {k: str(v) for k, v in fields.items()}
        local = self._local.setdefault(dep, {})
        local.update(values)
        local[field] = str(int(local.get(field, "0")) + 1)
        if self._redis is not None and self._redis.available:
            key = self._key(dep)

            async def op(client: Any) -> int:
                async with client.pipeline(transaction=False) as pipe:
                    pipe.hset(key, mapping=values)
                    pipe.hincrby(key, field, 1)
                    return int((await pipe.execute())[1])

            value = await self._redis.run(op, _MISS)
            if value is not _MISS:
                local[field] = str(value)
                return int(value)
        return int(local[field])

    async def incr(self, dep: str, field: str, by: int = 1) -> int:
        local = self._local.setdefault(dep, {})
        local[field] = str(int(local.get(field, "0")) + by)
        if self._redis is not None and self._redis.available:
            key = self._key(dep)
            value = await self._redis.run(lambda c: c.hincrby(key, field, by), _MISS)  # type: ignore[arg-type,return-value]
            if value is not _MISS:
                local[field] = str(value)
                return int(value)
        return int(local[field])

    async def claim_probe(self, dep: str, now: float, ttl_s: float) -> bool:
        """True for exactly one caller (across replicas) per ``ttl_s``: the half-open probe."""
        if self._redis is not None and self._redis.available:
            key = self._redis.key("breaker-probe", dep)
            ms = max(1, int(ttl_s * 1000))
            claimed = await self._redis.run(lambda c: c.set(key, "1", nx=True, px=ms), _MISS)
            if claimed is not _MISS:
                return bool(claimed)
        if self._claims.get(dep, float("-inf")) > now:
            return False
        self._claims[dep] = now + ttl_s
        return True

    async def release_probe(self, dep: str) -> None:
        self._claims.pop(dep, None)
        if self._redis is not None and self._redis.available:
            key = self._redis.key("breaker-probe", dep)
            await self._redis.run(lambda c: c.delete(key), None)
