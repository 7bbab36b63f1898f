"""The gateway now serving, and hot reload: a new config swapped in with no request dropped.

``POST /admin/reload`` and ``SIGHUP`` re-read the config file. The new config is
validated and its gateway built and started before anything changes: an
invalid file leaves the old gateway serving and the error (with key paths)
is returned and logged. A valid one is swapped in atomically; requests already
running finish on the gateway (and provider keys) they started with, and the
old gateway is closed once the last of them is done. Metrics carry over, so
counters do not reset on a reload, and so does the shared state (Redis, the
spend journal, leases) when the new config names the same Redis.

Under ``llm-router serve --workers N`` the supervisor forwards SIGHUP to every
worker, and ``POST /admin/reload`` asks it to: every worker reloads in place (no
worker is restarted, so none can be "not ready in time").
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plugins.version_history import config_hash
from router_config.api.auth import Authenticator
from router_config.config.schema import RouterConfig
from router_config.errors import ConfigError, ConfigIssue
from router_config.flow.gateway import Gateway
from router_config.logs import emit
from router_config.metrics import Metrics
from router_config.state.shared_state import SharedState
from router_config.wiring import Timing, build_gateway
from router_config.workers import under_supervisor

ConfigSource = Callable[[], RouterConfig]
# How long an old gateway waits for its requests before it is closed anyway: long enough
# for a long streamed answer (a stream has no overall deadline once it has started).
DRAIN_LIMIT_S = 600.0
# How long POST /admin/reload waits for this worker's own reload after asking the supervisor.
FAN_OUT_WAIT_S = 60.0


@dataclass
class Generation:
    """One config and the gateway built from it, with its requests in flight."""

    config: RouterConfig
    gateway: Gateway
    auth: Authenticator
    shared: SharedState
    inflight: int = 0
    retired: bool = False
    idle: asyncio.Event = field(default_factory=asyncio.Event)


class LiveGateway:
    """Holds the current ``Generation`` and replaces it on reload."""

    def __init__(
        self,
        config: RouterConfig,
        timing: Timing,
        *,
        span_exporter: Any = None,
        reload_from: ConfigSource | None = None,
    ) -> None:
        self._timing = timing
        self._span_exporter = span_exporter
        self._reload_from = reload_from
        self.current = self._build(config, None, None)
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()
        self._waiters: list[asyncio.Future[RouterConfig]] = []

    def _build(
        self, config: RouterConfig, metrics: Metrics | None, shared: SharedState | None
    ) -> Generation:
        """A generation for ``config``; it keeps ``shared`` (Redis, journal, leases) when
        the config names the same Redis and journal settings."""
        if shared is None or not shared.fits(config):
            shared = SharedState(config, self._timing.now)
        try:
            gateway = build_gateway(
                config, self._timing, self._span_exporter, metrics=metrics, shared=shared
            )
        except BaseException:
            shared.abandon()
            raise
        return Generation(config=config, gateway=gateway, auth=Authenticator(config), shared=shared)

    def acquire(self) -> Generation:
        """The generation a new request runs on; ``release`` it when the request is over."""
        generation = self.current
        generation.inflight += 1
        return generation

    def release(self, generation: Generation) -> None:
        generation.inflight -= 1
        if generation.retired and generation.inflight == 0:
            generation.idle.set()

    async def start(self) -> None:
        await self.current.shared.start()
        await self.current.gateway.start()

    async def close(self) -> None:
        """Shutdown: finish retiring old generations, then close the current one."""
        if self._retiring:
            await asyncio.wait(self._retiring)
        await self.current.gateway.close()
        await self.current.shared.release()

    async def reload_everywhere(self) -> RouterConfig:
        """``POST /admin/reload``: every worker of this server reloads, not only the one the
        request reached. Under ``llm-router serve --workers N`` the supervisor is asked to
        send SIGHUP to each worker (this one included) and the answer is this worker's
        result; a single process reloads itself."""
        if not under_supervisor():
            return await self.reload()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        os.kill(os.getppid(), signal.SIGHUP)
        try:
            return await asyncio.wait_for(waiter, FAN_OUT_WAIT_S)
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def reload(self) -> RouterConfig:
        """Swap in the config re-read from its file; raises ``ConfigError`` and changes nothing
        when it is invalid. Callers of ``reload_everywhere`` waiting here get the result."""
        try:
            config = await self._reload()
        except BaseException as exc:
            self._answer(None, exc)
            raise
        self._answer(config, None)
        return config

    def _answer(self, config: RouterConfig | None, exc: BaseException | None) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if exc is not None:
                waiter.set_exception(exc)
            else:
                assert config is not None
                waiter.set_result(config)

    async def _reload(self) -> RouterConfig:
        async with self._lock:
            if self._reload_from is None:
                raise ConfigError(
                    self.current.config.source,
                    [
                        ConfigIssue(
                            "",
                            "this gateway's config was not loaded from a file, so it cannot "
                            "be re-read",
                            "start it with llm-router serve --config FILE",
                        )
                    ],
                )
            config = await asyncio.to_thread(self._reload_from)
            old = self.current
            new = self._build(config, old.gateway.metrics, old.shared)
            try:
                await new.shared.start()
                await new.gateway.start()
            except BaseException:
                await new.gateway.close()  # nothing swapped: the old gateway goes on serving
                await new.shared.release()
                raise
            new.gateway.handle.take_over(old.gateway.handle)
            self.current = new
            old.retired = True
            if old.inflight == 0:
                old.idle.set()
            task = asyncio.create_task(self._retire(old))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
        for warning in config.warnings:
            emit("config_warning", logging.WARNING, message=warning)
        emit(
            "config_reloaded",
            config=config.source,
            config_hash=config_hash(config),
            deployments=len(config.deployments),
            draining=old.inflight,
        )
        return config

    async def _retire(self, old: Generation) -> None:
        """Close the old gateway once its last request is over (at most ``DRAIN_LIMIT_S``)."""
        limit = DRAIN_LIMIT_S
        try:
            await asyncio.wait_for(old.idle.wait(), limit)
        except TimeoutError:
            emit("reload_drain_timeout", logging.WARNING, still_running=old.inflight)
        await old.gateway.close()
        await old.shared.release()
