"""A process's shared state in one place: Redis, the spend journal, budget leases, rate slices.

It outlives a hot reload: the new config's gateway takes over the same journal,
leases and connection when the Redis and journal settings did not change, so a
reload neither re-reads the journal nor strands what this replica leased. Each
gateway generation ``acquire``\\ s it and ``release``\\ s it; the last release
sends what is pending to Redis and closes everything.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from router_config.config.schema import RouterConfig
from router_config.flow.hooks import Clock
from router_config.logs import emit
from router_config.state.budget_leases import BudgetLeases
from router_config.state.rate_windows import RateWindows
from router_config.state.shared_redis import SharedRedis
from router_config.state.spend_journal import open_journals
from router_config.state.spend_ledger import SpendLedger


def redis_prefix(config: RouterConfig) -> str:
    """Every Redis key of this gateway starts with its namespace (``router_plugins.namespace``):
    two gateways sharing one Redis never share spend, breakers or cache."""
    return f"{config.plugins.namespace}:"


def shared_redis(config: RouterConfig) -> SharedRedis | None:
    """A connection of the gateway's own, keys under its namespace; None without Redis (for
    commands that read shared state without running a gateway)."""
    if config.redis is None:
        return None
    return SharedRedis(config.redis, prefix=redis_prefix(config))


class SharedState:
    """Everything shared with other replicas, and the journal that makes it durable."""

    def __init__(self, config: RouterConfig, now: Clock) -> None:
        settings = config.plugins.shared_state
        self.config_key = _config_key(config)
        self.redis = (
            SharedRedis(config.redis, prefix=redis_prefix(config))
            if config.redis is not None
            else None
        )
        journals = open_journals(settings.state_dir, sync=settings.journal_sync)
        self.ledger = SpendLedger(self.redis, journals, settings, now)
        self.leases = BudgetLeases(self.redis, self.ledger, settings)
        self.windows = RateWindows(
            self.redis,
            now,
            lease_fraction=settings.rate_lease_fraction,
            replicas=lambda: self.ledger.replicas,
        )
        self._refs = 0
        self._started = False
        if self.redis is not None:
            emit(
                "shared_state", redis=self.redis.settings.describe(), journal=str(journals[0].path)
            )

    def fits(self, config: RouterConfig) -> bool:
        """True when ``config`` names the same Redis and journal settings (reload keeps us)."""
        return _config_key(config) == self.config_key

    def acquire(self) -> SharedState:
        """One more gateway generation uses this state."""
        self._refs += 1
        if self.redis is not None:
            self.redis.acquire()
        return self

    async def start(self) -> None:
        if not self._started:
            self._started = True
            await self.ledger.start()

    def abandon(self) -> None:
        """Never used (its gateway failed to build): let go of the journal files."""
        if self._refs == 0:
            self.ledger.close_journals()

    async def release(self) -> None:
        """A generation is done; the last one flushes pending spend and closes."""
        self._refs -= 1
        if self._refs > 0:
            return
        await self.ledger.close()
        if not self.ledger.pending:
            await self.leases.give_back()
        else:
            emit(
                "spend_pending_at_exit",
                logging.WARNING,
                entries=self.ledger.pending,
                message="Redis did not confirm every entry: the journal keeps them and the "
                "next gateway started on this state directory replays them",
            )
        if self.redis is not None:
            await self.redis.close()

    async def health(self) -> dict[str, Any]:
        """For ``GET /health/shared-state``: Redis, the journal, leases. No secrets."""
        journal = self.ledger.journal
        out: dict[str, Any] = {
            "journal": {
                "file": journal.path.name,
                "pending": self.ledger.pending,
                "last_seq": journal.last_seq,
            },
            "replicas_seen": self.ledger.replicas,
            "budget_leases": self.leases.snapshot(),
            "rate_slices": self.windows.snapshot(),
        }
        if self.redis is None:
            out["redis"] = {"configured": False}
            return out
        started = time.monotonic()
        reachable = await self.redis.ping()
        out["redis"] = {
            "configured": True,
            "mode": self.redis.mode,
            "target": self.redis.settings.describe(),
            "reachable": reachable,
            "latency_ms": round((time.monotonic() - started) * 1000, 2),
            "down_for_s": round(self.redis.down_for_s, 1),
            "last_error": self.redis.last_error,
        }
        return out


def _config_key(config: RouterConfig) -> str:
    redis = config.redis.model_dump_json() if config.redis is not None else ""
    redis_secret = (
        config.redis.password.get_secret_value()
        if config.redis is not None and config.redis.password
        else ""
    )
    url = config.redis.url.get_secret_value() if config.redis and config.redis.url else ""
    settings = config.plugins.shared_state.model_dump_json()
    return "|".join((redis, redis_secret, url, settings, config.plugins.namespace))
