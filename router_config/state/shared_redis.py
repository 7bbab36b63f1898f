"""One Redis connection for all shared state, that never breaks a request.

Breaker state, spend counters, rate limits, alert de-duplication and the
response cache all live in Redis when it is configured, so every replica
agrees. If Redis goes away, each operation returns the caller's fallback
(usually "use local state" or "skip"), one log line says Redis is down and one
says when it is back, and a gauge shows it; requests keep being answered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from router_config.logs import emit

T = TypeVar("T")
Op = Callable[[aioredis.Redis], Awaitable[T]]

# Short timeouts: a slow Redis must cost a request milliseconds, not seconds.
SOCKET_TIMEOUT_S = 0.25
# While Redis is down, try it again this often (each try costs one failed connect).
RETRY_S = 5.0


class SharedRedis:
    """Runs Redis operations with a fallback value when Redis is unavailable."""

    def __init__(self, url: str, *, prefix: str = "llm-router:", retry_s: float = RETRY_S) -> None:
        self.url = url
        self.prefix = prefix
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
            decode_responses=True,
        )
        self._retry_s = retry_s
        self._down_since: float | None = None

    @property
    def down(self) -> bool:
        """True from a failed operation until the next successful one."""
        return self._down_since is not None

    @property
    def available(self) -> bool:
        """False while Redis is known down; True again every ``retry_s`` so it is re-tried."""
        if self._down_since is None:
            return True
        return time.monotonic() - self._down_since >= self._retry_s

    def key(self, *parts: str) -> str:
        """A namespaced key, so several gateways can share one Redis database."""
        return self.prefix + ":".join(parts)

    async def run(self, op: Op[T], fallback: T) -> T:
        """``await op(client)``, or ``fallback`` if Redis fails (logged once per outage)."""
        try:
            result = await op(self.client)
        except (TimeoutError, RedisError, OSError) as exc:
            first = self._down_since is None
            self._down_since = time.monotonic()
            if first:
                emit(
                    "redis_down",
                    logging.ERROR,
                    error_class=type(exc).__name__,
                    message="Redis unavailable: shared state degrades to local until it returns",
                )
            return fallback
        if self._down_since is not None:
            self._down_since = None
            emit("redis_up", message="Redis is reachable again: shared state restored")
        return result

    async def ping(self) -> bool:
        """True when Redis answers now."""

        async def ping(client: aioredis.Redis) -> bool:
            return bool(await cast(Awaitable[bool], client.ping()))

        return await self.run(ping, False)

    async def close(self) -> None:
        await self.client.aclose()
