"""Stored Responses API responses, for ``previous_response_id`` and ``GET /v1/responses/{id}``.

Each response is stored with the Responses items of its turn (its input, then
its output) and the ids of the responses before it, so a conversation of N turns
is stored once (not N times over) and rebuilt in two round trips: the newest
record, then all its ancestors at once. Records live in Redis when configured
(shared by replicas), with a time to live, under the team's name: a team can
never continue, read or delete another team's response. Without Redis, or while
it is down, a bounded in-memory LRU keeps them for this process.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import orjson

from router_config.state.shared_redis import SharedRedis

_MISS: Any = object()
MAX_TURNS = 1000  # a chain longer than this is refused rather than rebuilt


class ResponseStore:
    """``get``/``put``/``delete`` of response records, scoped to a team, with a TTL."""

    def __init__(
        self, redis: SharedRedis | None, ttl_s: float, max_entries: int, *, enabled: bool = True
    ) -> None:
        self._redis = redis
        self.enabled = enabled  # off: nothing is kept (router_plugins.responses.store)
        self.ttl_s = ttl_s
        self._max = max_entries
        self._lru: OrderedDict[tuple[str, str], tuple[float, bytes]] = OrderedDict()

    def _key(self, team: str, response_id: str) -> str:
        assert self._redis is not None
        return self._redis.key("responses", team, response_id)

    async def get(self, team: str, response_id: str) -> dict[str, Any] | None:
        found = await self.get_many(team, [response_id])
        return found[0]

    async def get_many(self, team: str, ids: list[str]) -> list[dict[str, Any] | None]:
        if not ids:
            return []
        if self._redis is not None and self._redis.available:
            keys = [self._key(team, i) for i in ids]
            raw = await self._redis.run(lambda c: c.mget(keys), _MISS)
            if raw is not _MISS:
                return [orjson.loads(r) if r else None for r in raw]
        now = time.monotonic()
        out: list[dict[str, Any] | None] = []
        for response_id in ids:
            entry = self._lru.get((team, response_id))
            if entry is None or entry[0] <= now:
                self._lru.pop((team, response_id), None)
                out.append(None)
            else:
                out.append(orjson.loads(entry[1]))
        return out

    async def put(self, team: str, response_id: str, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        data = orjson.dumps(record)
        if self._redis is not None and self._redis.available:
            key = self._key(team, response_id)
            ttl_ms = max(1, int(self.ttl_s * 1000))
            done = await self._redis.run(lambda c: c.set(key, data, px=ttl_ms), _MISS)
            if done is not _MISS:
                return
        self._lru[(team, response_id)] = (time.monotonic() + self.ttl_s, data)
        self._lru.move_to_end((team, response_id))
        while len(self._lru) > self._max:
            self._lru.popitem(last=False)

    async def delete(self, team: str, response_id: str) -> bool:
        """True when the response existed (for this team) and is gone now."""
        gone = self._lru.pop((team, response_id), None) is not None
        if self._redis is not None and self._redis.available:
            key = self._key(team, response_id)
            removed = await self._redis.run(lambda c: c.delete(key), 0)
            gone = gone or bool(removed)
        return gone
