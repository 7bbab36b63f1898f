"""One Redis connection for all shared state, that never breaks a request.

Breaker state, spend, leases, rate limits, alert de-duplication and the response
cache all live in Redis when it is configured, so every replica agrees. One node,
a Redis Cluster or a Sentinel set (``redis_settings``), with TLS and ACL users. If
Redis goes away, each operation returns the caller's fallback (usually "use local
state" or "skip"), one log line says Redis is down and one says when it is back,
and a gauge shows it; requests keep being answered.

Keys carry a Redis Cluster hash tag (``key``), so every key one Lua script or
transaction touches lands in one slot.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from pydantic import SecretStr
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import MovedError, RedisClusterException, RedisError
from redis.retry import Retry

from router_config.config.redis_settings import RedisNode, RedisSettings
from router_config.logs import emit

T = TypeVar("T")
Op = Callable[[aioredis.Redis], Awaitable[T]]

# A frozen Redis costs the requests in flight when it froze this much, once: from then on
# they run on local state until a background operation finds Redis back. Shorter timeouts
# fire spuriously when the event loop is busy (measured: 0.25 s under test load).
SOCKET_TIMEOUT_S = 1.0
CONNECT_TIMEOUT_S = 0.5
# While Redis is down, try it again this often (each try costs one failed connect).
RETRY_S = 5.0
# What a Redis call raises when Redis, or the connection to it, fails. RuntimeError: uvloop
# raises it for a write on a transport the server closed (seen during a Sentinel failover),
# where redis-py expects an OSError; our ops are single Redis calls, so nothing else raises it.
_FAILURES = (TimeoutError, RedisError, RedisClusterException, OSError, RuntimeError)


class SharedRedis:
    """Runs Redis operations with a fallback value when Redis is unavailable.

    Shared by every generation of a hot-reloaded gateway: ``acquire`` takes a reference,
    ``close`` gives one back, and the connection closes with the last.
    """

    def __init__(
        self,
        settings: RedisSettings | str,
        *,
        prefix: str = "llm-router:",
        retry_s: float = RETRY_S,
    ) -> None:
        if isinstance(settings, str):
            settings = RedisSettings.from_url(settings)
        self.settings = settings
        self.prefix = prefix
        # Typed as one node: a cluster client answers the same commands for our purposes.
        self.client, self._retired = connect(settings)
        self._retry_s = retry_s
        # Set when a background task (the spend flusher's heartbeat) keeps trying Redis:
        # then requests never probe a Redis known down, so never wait on it.
        self.probed_in_background = False
        self._down_since: float | None = None
        self._refs = 1
        self.last_error: str | None = None

    @property
    def mode(self) -> str:
        """``single``, ``cluster`` or ``sentinel``."""
        return self.settings.mode

    @property
    def down(self) -> bool:
        """True from a failed operation until the next successful one."""
        return self._down_since is not None

    @property
    def down_for_s(self) -> float:
        return 0.0 if self._down_since is None else time.monotonic() - self._down_since

    @property
    def available(self) -> bool:
        """False while Redis is known down; True again every ``retry_s`` so it is re-tried,
        unless a background task does the re-trying."""
        if self._down_since is None:
            return True
        if self.probed_in_background:
            return False
        return time.monotonic() - self._down_since >= self._retry_s

    def key(self, *parts: str, tag: str | None = None) -> str:
        """A namespaced key whose Redis Cluster hash tag is ``tag``, else its last part.

        ``key("breaker", dep)`` is ``llm-router:breaker:{dep}`` and
        ``key("breaker-probe", dep)`` ``llm-router:breaker-probe:{dep}``: one slot per
        deployment, so a script may touch both. Keys of one concern that a script must
        see together pass one ``tag`` (the ledger uses ``{ledger}``).
        """
        if tag is not None:
            return f"{self.prefix}{{{tag}}}:" + ":".join(parts)
        *head, last = parts
        return self.prefix + "".join(p + ":" for p in head) + "{" + last + "}"

    def acquire(self) -> SharedRedis:
        """One more user of this connection (a new gateway generation)."""
        self._refs += 1
        return self

    async def run(self, op: Op[T], fallback: T) -> T:
        """``await op(client)``, or ``fallback`` if Redis fails (logged once per outage)."""
        try:
            try:
                result = await op(self.client)
            except MovedError:
                if self.settings.mode != "single":
                    raise
                self._become_cluster()
                result = await op(self.client)
        except _FAILURES as exc:
            self._failed(exc)
            return fallback
        if self._down_since is not None:
            self._down_since = None
            emit("redis_up", message="Redis is reachable again: shared state restored")
        return result

    def _failed(self, exc: BaseException) -> None:
        first = self._down_since is None
        self._down_since = time.monotonic()
        self.last_error = type(exc).__name__
        if first:
            emit(
                "redis_down",
                logging.ERROR,
                error_class=type(exc).__name__,
                redis=self.settings.describe(),
                message="Redis unavailable: shared state degrades to local until it returns",
            )

    def _become_cluster(self) -> None:
        """A single-node URL that answers MOVED names a Cluster node: use a cluster client
        on it rather than run on local state while every operation fails."""
        url = self.settings.url.get_secret_value() if self.settings.url else ""
        client = aioredis.Redis.from_url(url) if url else None
        kwargs = client.connection_pool.connection_kwargs if client else {}
        host = kwargs.get("host", self.settings.host or "127.0.0.1")
        port = int(kwargs.get("port", self.settings.port))
        self.settings = self.settings.model_copy(
            update={
                "mode": "cluster",
                "startup_nodes": (RedisNode(host=host, port=port),),
                "username": kwargs.get("username") or self.settings.username,
                "password": self.settings.password or _secret(kwargs.get("password")),
                "ssl": self.settings.uses_tls,
                "url": None,
            }
        )
        old = self.client
        self.client, extra = connect(self.settings)
        self._retired += extra
        emit(
            "redis_is_a_cluster",
            logging.WARNING,
            redis=self.settings.describe(),
            message="the Redis URL names a Cluster node: using a cluster client; "
            "set redis_startup_nodes or REDIS_CLUSTER_NODES to name it so",
        )
        self._retired.append(old)

    async def ping(self) -> bool:
        """True when Redis answers now."""

        async def ping(client: aioredis.Redis) -> bool:
            return bool(await cast(Awaitable[bool], client.ping()))

        return await self.run(ping, False)

    async def close(self) -> None:
        """Give back one reference; the last one closes the connection."""
        self._refs -= 1
        if self._refs > 0:
            return
        for client in (self.client, *self._retired):
            with contextlib.suppress(*_FAILURES):  # closing a dead connection is not an error
                await client.aclose()


def connect(settings: RedisSettings) -> tuple[aioredis.Redis, list[Any]]:
    """A redis-py asyncio client for the topology: one node, a Cluster, or a Sentinel set;
    and the other clients to close with it (the sentinels')."""
    common: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "decode_responses": True,
        # redis-py's default is 3 retries with 1-8 s backoff: seconds per call while Redis
        # is down. We fall back to local state at once instead.
        "retry": Retry(NoBackoff(), 0),
    }
    auth: dict[str, Any] = {
        k: v
        for k, v in {
            "username": settings.username,
            "password": settings.password.get_secret_value() if settings.password else None,
        }.items()
        if v
    }
    tls = _tls(settings)
    if settings.mode == "cluster":
        nodes = [ClusterNode(n.host, n.port) for n in settings.startup_nodes]
        common["retry"] = Retry(NoBackoff(), 1)  # one retry follows a slot that moved
        cluster = RedisCluster(startup_nodes=nodes, **common, **auth, **tls)
        return cast(aioredis.Redis, cluster), []
    if settings.mode == "sentinel":
        sentinel_auth = (
            {"password": settings.sentinel_password.get_secret_value()}
            if settings.sentinel_password
            else {}
        )
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            [(n.host, n.port) for n in settings.sentinel_nodes],
            sentinel_kwargs={
                "socket_timeout": SOCKET_TIMEOUT_S,
                "socket_connect_timeout": CONNECT_TIMEOUT_S,
                **sentinel_auth,
                **tls,
            },
            **common,
            **auth,
            **tls,
        )
        master = sentinel.master_for(settings.service_name or "mymaster", db=settings.db)
        return cast(aioredis.Redis, master), list(sentinel.sentinels)
    if settings.url is not None:
        url = settings.url.get_secret_value()
        return aioredis.Redis.from_url(url, **common, **auth, **tls), []
    host = settings.host or "127.0.0.1"
    node = aioredis.Redis(host=host, port=settings.port, db=settings.db, **common, **auth, **tls)
    return node, []


def _tls(settings: RedisSettings) -> dict[str, Any]:
    """TLS options; a ``rediss://`` URL turns TLS on by itself."""
    out: dict[str, Any] = {}
    if settings.ssl and settings.url is None:
        out["ssl"] = True
    if settings.uses_tls:
        if settings.ssl_ca_certs:
            out["ssl_ca_certs"] = settings.ssl_ca_certs
        if settings.ssl_cert_reqs:
            out["ssl_cert_reqs"] = settings.ssl_cert_reqs
    return out


def _secret(value: Any) -> SecretStr | None:
    return SecretStr(str(value)) if value else None
