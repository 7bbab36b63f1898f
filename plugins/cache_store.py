"""Where cached answers live: Redis when configured, else a bounded in-memory LRU.

When Redis is unavailable ``SharedRedis.run`` returns the fallback and the
memory LRU answers instead, so a Redis outage costs cache hits, never requests.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from router_config.state.shared_redis import SharedRedis

_MISS: Any = object()


class CacheStore:
    """``get``/``put`` of JSON entries with a time to live."""

    def __init__(
        self, redis: SharedRedis | None, max_entries: int, namespace: str | None = None
    ) -> None:
        self._redis = redis
        self._max = max_entries
        self._parts = ("cache", namespace) if namespace else ("cache",)  # cache_params.namespace
        self._lru: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get(self, key: str, now: float) -> dict[str, Any] | None:
        if self._redis is not None and self._redis.available:
            rkey = self._redis.key(*self._parts, key)
            raw = await self._redis.run(lambda c: c.get(rkey), _MISS)
            if raw is not _MISS:
                return orjson.loads(raw) if raw else None
        found = self._lru.get(key)
        if found is None or found[0] <= now:
            self._lru.pop(key, None)
            return None
        self._lru.move_to_end(key)
        return dict(orjson.loads(found[1]))

    async def put(self, key: str, entry: dict[str, Any], ttl_s: float, now: float) -> None:
        data = orjson.dumps(entry)
        if self._redis is not None and self._redis.available:
            rkey = self._redis.key(*self._parts, key)
            done = await self._redis.run(
                lambda c: c.set(rkey, data, px=max(1, int(ttl_s * 1000))), _MISS
            )
            if done is not _MISS:
                return
        self._lru[key] = (now + ttl_s, data)
        self._lru.move_to_end(key)
        while len(self._lru) > self._max:
            self._lru.popitem(last=False)
