"""Where circuit-breaker state lives: Redis when configured (all replicas agree), else memory.

Each deployment has one hash of string fields. Every operation falls back to
the in-memory copy when Redis is unavailable, so a Redis outage degrades the
breaker to per-replica state instead of breaking requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router_config.state.shared_redis import SharedRedis

_MISS: Any = object()

# A successful call, in one atomic round trip (the hot path): fold the latency into the
# EWMA, start a new error-rate window when the window changed, count the call, reset the
# failure streak; returns the state it found, so the caller can close a half-open breaker.
_SUCCESS = """
local s = redis.call('HMGET', KEYS[1], 'ewma_ms', 'window', 'state')
local ewma = tonumber(ARGV[2])
if s[1] then ewma = (1 - tonumber(ARGV[3])) * tonumber(s[1]) + tonumber(ARGV[3]) * ewma end
if s[2] ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'window', ARGV[1], 'win_total', 0, 'win_failed', 0)
end
redis.call('HSET', KEYS[1], 'ewma_ms', tostring(ewma), 'consecutive', 0)
redis.call('HINCRBY', KEYS[1], 'win_total', 1)
return s[3] or 'closed'
"""


class BreakerStore:
    """Per-deployment breaker fields, shared through Redis when it is up."""

    def __init__(self, redis: SharedRedis | None) -> None:
        self._redis = redis
        self._local: dict[str, dict[str, str]] = {}
        self._claims: dict[str, float] = {}
        self._success: Any = redis.client.register_script(_SUCCESS) if redis else None

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

    async def record_success(self, dep: str, window: str, latency_ms: float, weight: float) -> str:
        """Count one successful call (see ``_SUCCESS``); returns the breaker state before it."""
        local = self._local.setdefault(dep, {})
        previous = local.get("ewma_ms")
        ewma = latency_ms if not previous else (1 - weight) * float(previous) + weight * latency_ms
        if local.get("window") != window:
            local.update(window=window, win_total="0", win_failed="0")
        local.update(ewma_ms=str(ewma), consecutive="0")
        local["win_total"] = str(int(local["win_total"]) + 1)
        state = local.get("state", "closed")
        if self._redis is not None and self._redis.available:
            script, keys = self._success, [self._key(dep)]
            args = [window, latency_ms, weight]
            found = await self._redis.run(lambda c: script(keys=keys, args=args, client=c), _MISS)
            if found is not _MISS:
                return str(found)
        return state

    async def update_and_incr(
        self, dep: str, fields: Mapping[str, str | float | int], field: str
    ) -> int:
        """``update(fields)`` then ``incr(field)`` in one Redis round trip (a failed call)."""
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
