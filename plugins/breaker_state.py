"""Where circuit-breaker state lives: Redis when configured (all replicas agree), else memory.

Each deployment has one hash of string fields. Every call reads its breaker and
almost every call succeeds, so neither costs a request a Redis round trip: reads
come from a view of every breaker refreshed in the background (``REFRESH_S``,
one pipeline for all deployments, plus this replica's own writes at once), and
successes on a closed breaker are counted locally and sent in the same
background pass. What is rare goes to Redis at once: failures, openings, probe
claims, a success on a breaker that is not closed. Another replica's opening is
seen within ``REFRESH_S``. Every operation falls back to the in-memory copy when
Redis is unavailable, so a Redis outage degrades the breaker to per-replica state
instead of breaking requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from router_config.state.shared_redis import SharedRedis

_MISS: Any = object()
REFRESH_S = 0.25

# Successes on one deployment (one now, or a batch from the background pass): fold the
# latency into the EWMA, start a new error-rate window when the window changed, count the
# calls, reset the failure streak; returns the state it found, so the caller can close a
# half-open breaker.
_SUCCESS = """
local s = redis.call('HMGET', KEYS[1], 'ewma_ms', 'window', 'state')
local ewma = tonumber(ARGV[2])
if s[1] then ewma = (1 - tonumber(ARGV[3])) * tonumber(s[1]) + tonumber(ARGV[3]) * ewma end
if s[2] ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'window', ARGV[1], 'win_total', 0, 'win_failed', 0)
end
redis.call('HSET', KEYS[1], 'ewma_ms', tostring(ewma), 'consecutive', 0)
redis.call('HINCRBY', KEYS[1], 'win_total', tonumber(ARGV[4]))
return s[3] or 'closed'
"""


@dataclass
class _Successes:
    """Successes on one deployment not yet sent to Redis."""

    window: str
    count: int
    latency_ms: float  # their EWMA, folded into Redis's as one sample


class BreakerStore:
    """Per-deployment breaker fields, shared through Redis when it is up."""

    def __init__(self, redis: SharedRedis | None, *, refresh_s: float = REFRESH_S) -> None:
        self._redis = redis
        self._refresh_s = refresh_s
        self._local: dict[str, dict[str, str]] = {}
        self._view: dict[str, dict[str, str]] = {}  # Redis as last read, plus our writes since
        self._viewed_at = 0.0
        self._pending: dict[str, _Successes] = {}
        self._claims: dict[str, float] = {}
        self._deployments: tuple[str, ...] = ()
        self._task: asyncio.Task[None] | None = None
        self._success: Any = redis.client.register_script(_SUCCESS) if redis else None

    def _key(self, dep: str) -> str:
        assert self._redis is not None
        return self._redis.key("breaker", dep)

    def _shared(self) -> bool:
        return self._redis is not None and self._redis.available

    async def start(self, deployments: Iterable[str]) -> None:
        """Read every breaker once, then keep the view fresh in the background."""
        self._deployments = tuple(deployments)
        if self._redis is not None:
            await self._refresh()
            self._task = asyncio.create_task(self._sync_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._flush()

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            await self._flush()
            await self._refresh()

    async def _refresh(self) -> None:
        """Every deployment's breaker, in one round trip."""
        if not self._shared():
            return
        assert self._redis is not None
        keys = [self._key(dep) for dep in self._deployments]

        async def read(client: Any) -> list[dict[str, str]]:
            async with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                return list(await pipe.execute())

        found = await self._redis.run(read, None)
        if found is not None:
            self._view = {
                dep: dict(fields) for dep, fields in zip(self._deployments, found, strict=True)
            }
            self._viewed_at = time.monotonic()

    async def _flush(self, only: str | None = None) -> None:
        """Send the successes counted locally (all, or one deployment's)."""
        deps = [only] if only is not None else list(self._pending)
        for dep in deps:
            batch = self._pending.pop(dep, None)
            if batch is not None and self._shared():
                await self._send(dep, batch, weight=1.0)

    async def _send(self, dep: str, batch: _Successes, *, weight: float) -> str | None:
        assert self._redis is not None
        script, keys = self._success, [self._key(dep)]
        args = [batch.window, batch.latency_ms, weight, batch.count]
        found = await self._redis.run(lambda c: script(keys=keys, args=args, client=c), _MISS)
        return None if found is _MISS else str(found)

    async def load(self, dep: str) -> dict[str, str]:
        """The breaker as this replica knows it; no round trip while the view is fresh."""
        if self._redis is not None and self._redis.available:
            if time.monotonic() - self._viewed_at > 4 * self._refresh_s:
                await self._refresh()  # the background pass is late (start-up, Redis back)
            if time.monotonic() - self._viewed_at <= 4 * self._refresh_s:
                return dict(self._view.get(dep, {}))
        return dict(self._local.get(dep, {}))

    async def update(self, dep: str, fields: Mapping[str, str | float | int]) -> None:
        values = {k: str(v) for k, v in fields.items()}
        self._local.setdefault(dep, {}).update(values)
        self._view.setdefault(dep, {}).update(values)
        if self._shared():
            assert self._redis is not None
            key = self._key(dep)
            await self._redis.run(lambda c: c.hset(key, mapping=values), None)  # type: ignore[arg-type,return-value]

    async def record_success(self, dep: str, window: str, latency_ms: float, weight: float) -> str:
        """Count one successful call; returns the breaker state before it. On a closed
        breaker (the hot path) it is counted locally and sent in the background pass."""
        local = self._local.setdefault(dep, {})
        previous = local.get("ewma_ms")
        ewma = latency_ms if not previous else (1 - weight) * float(previous) + weight * latency_ms
        if local.get("window") != window:
            local.update(window=window, win_total="0", win_failed="0")
        local.update(ewma_ms=str(ewma), consecutive="0")
        local["win_total"] = str(int(local["win_total"]) + 1)
        if not self._shared():
            return local.get("state", "closed")
        view = self._view.setdefault(dep, {})
        if view.get("state", "closed") == "closed":
            batch = self._pending.get(dep)
            if batch is None or batch.window != window:
                await self._flush(dep)
                batch = self._pending[dep] = _Successes(window, 0, latency_ms)
            batch.count += 1
            batch.latency_ms = (1 - weight) * batch.latency_ms + weight * latency_ms
            view["consecutive"] = "0"
            return "closed"
        await self._flush(dep)
        found = await self._send(dep, _Successes(window, 1, latency_ms), weight=weight)
        return found if found is not None else local.get("state", "closed")

    async def update_and_incr(
        self, dep: str, fields: Mapping[str, str | float | int], field: str
    ) -> int:
        """``update(fields)`` then ``incr(field)`` in one Redis round trip (a failed call)."""
        values = {k: str(v) for k, v in fields.items()}
        local = self._local.setdefault(dep, {})
        local.update(values)
        local[field] = str(int(local.get(field, "0")) + 1)
        self._view.setdefault(dep, {}).update(values)
        if self._shared():
            await self._flush(dep)  # successes counted before this failure go first
            assert self._redis is not None
            key = self._key(dep)

            async def op(client: Any) -> int:
                async with client.pipeline(transaction=False) as pipe:
                    pipe.hset(key, mapping=values)
                    pipe.hincrby(key, field, 1)
                    return int((await pipe.execute())[1])

            value = await self._redis.run(op, _MISS)
            if value is not _MISS:
                local[field] = self._view[dep][field] = str(value)
                return int(value)
        return int(local[field])

    async def incr(self, dep: str, field: str, by: int = 1) -> int:
        local = self._local.setdefault(dep, {})
        local[field] = str(int(local.get(field, "0")) + by)
        if self._shared():
            assert self._redis is not None
            key = self._key(dep)
            value = await self._redis.run(lambda c: c.hincrby(key, field, by), _MISS)  # type: ignore[arg-type,return-value]
            if value is not _MISS:
                local[field] = str(value)
                self._view.setdefault(dep, {})[field] = str(value)
                return int(value)
        return int(local[field])

    async def claim_probe(self, dep: str, now: float, ttl_s: float) -> bool:
        """True for exactly one caller (across replicas) per ``ttl_s``: the half-open probe."""
        if self._shared():
            assert self._redis is not None
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
        if self._shared():
            assert self._redis is not None
            key = self._redis.key("breaker-probe", dep)
            await self._redis.run(lambda c: c.delete(key), None)
