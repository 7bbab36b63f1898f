"""One Redis connection for all shared state, that never breaks a request.

Breaker state, spend counters, rate limits, alert de-duplication and the
response cache all live in Redis when it is configured, so every replica
agrees. If Redis goes away, each operation returns the caller's fallback
(usually "use local state" or "skip"), one log line says Redis is down and one
says when it is back, and a gauge shows it; requests keep being answered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from router_config.logs import emit

T = TypeVar("T")
Op = Callable[[aioredis.Redis], Awaitable[T]]

# Short timeouts: a slow Redis must cost a request milliseconds, not seconds.
SOCKET_TIMEOUT_S = 0.25


class SharedRedis:
    """Runs Redis operations with a fallback value when Redis is unavailable."""

    def __init__(self, url: str, *, prefix: str = "llm-router:") -> None:
        self.url = url
        self.prefix = prefix
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
            decode_responses=True,
        )
        self.available = True

    def key(self, *parts: str) -> str:
        """A namespaced key, so several gateways can share one Redis database."""
        return self.prefix + ":".join(parts)

    async def run(self, op: Op[T], fallback: T) -> T:
        """``await op(client)``, or ``fallback`` if Redis fails (logged once per outage)."""
        try:
            result = await op(self.client)
        except (TimeoutError, RedisError, OSError) as exc:
            if self.available:
                self.available = False
                emit(
                    "redis_down",
                    logging.ERROR,
                    error_class=type(exc).__name__,
                    message="Redis unavailable: shared state degrades to local until it returns",
                )
            return fallback
        if not self.available:
            self.available = True
            emit("redis_up", message="Redis is reachable again: shared state restored")
        return result

    async def ping(self) -> bool:
        """True when Redis answers now."""

        async def ping(client: aioredis.Redis) -> bool:
            return bool(await cast(Awaitable[bool], client.ping()))

        return await self.run(ping, False)

    async def close(self) -> None:
        await self.client.aclose()
