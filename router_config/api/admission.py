"""Admission: who may start a request, decided before any of its body is read.

After authentication and before the body, in this order, each step O(1) and in memory:

1. A key or team already known to be over its requests per minute is refused (429 with
   Retry-After). Known from the shared count's last answer for that scope (Redis, so
   every replica's requests count); the refusal is sent after a short pause
   (``refusal_pause_s``, never past its Retry-After), so a client that ignores
   Retry-After and retries in a loop costs a timer, not CPU.
2. The key takes an in-flight slot (``flow.fair_share``): at most
   ``max_in_flight_per_key`` per key, and fair admission when the process is full.

Every request is then counted once in the shared per-key and per-team request windows:
a valid one by the ``client_rate_limits`` plugin (with its token reservation, one Lua
script), and one refused before that (bad JSON, too large, unknown model, client gone)
here, by ``count_refused``: a bad request still spends a slot of the caller's limit.
So a flood of invalid requests meets the limit and then the cheap refusal of step 1.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from router_config.api.auth import Caller
from router_config.config.plugin_settings import ServerSettings
from router_config.errors import RateLimited
from router_config.flow.fair_share import FairShare
from router_config.flow.gateway import Gateway
from router_config.flow.hooks import Clock
from router_config.state.rate_windows import Limit, RateWindows

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class _Known:
    """A scope over its requests per minute until ``until`` (wall clock)."""

    until: float
    limit: int | None


@dataclass
class _Counts:
    """One gateway's request windows and the request limits of its keys and teams."""

    windows: RateWindows
    keys: dict[str, Limit]
    teams: dict[str, Limit]

    def limits(self, caller: Caller) -> list[Limit]:
        found = (self.keys.get(caller.alias), self.teams.get(caller.team))
        return [limit for limit in found if limit is not None]


class Ticket:
    """A request's slot; ``leave`` gives it back (idempotent)."""

    def __init__(self, fair: FairShare, tenant: str) -> None:
        self._fair = fair
        self._tenant: str | None = tenant

    def leave(self) -> None:
        if self._tenant is not None:
            self._fair.leave(self._tenant)
            self._tenant = None


class Admission:
    """The door of one app: refusal memory, in-flight slots, counting of refused requests."""

    def __init__(self, now: Clock, sleep: Sleep) -> None:
        self._now = now
        self._sleep = sleep
        self.fair = FairShare(capacity=ServerSettings().max_in_flight)
        self._known: dict[str, _Known] = {}
        self._paused: dict[str, int] = {}  # refusals being paused now, per key
        self._counts: weakref.WeakKeyDictionary[Gateway, _Counts] = weakref.WeakKeyDictionary()

    async def enter(self, caller: Caller, settings: ServerSettings) -> Ticket:
        """Admit ``caller`` or raise 429 (over a limit, too many in flight) / 503 (full)."""
        for scope in (f"key:{caller.alias}", f"team:{caller.team}"):
            known = self._known.get(scope)
            if known is not None:
                # Pausing holds a connection: no more paused at once than a key's slots.
                paused = self._paused.get(caller.alias, 0)
                pause = settings.refusal_pause_s if paused < settings.max_in_flight_per_key else 0
                self._paused[caller.alias] = paused + 1
                try:
                    await self._refuse(scope, known, pause)
                finally:
                    self._unpause(caller.alias)
        self.fair.capacity = settings.max_in_flight
        await self.fair.enter(
            caller.alias, cap=settings.max_in_flight_per_key, timeout_s=settings.queue_timeout_s
        )
        return Ticket(self.fair, caller.alias)

    def learn(self, refused: RateLimited) -> None:
        """Remember a scope the shared count found over its requests per minute."""
        if refused.error_type == "requests" and refused.scope and refused.retry_after_s:
            limit = refused.headers().get("x-ratelimit-limit-requests")
            self._known[refused.scope] = _Known(
                self._now() + refused.retry_after_s, int(limit) if limit else None
            )

    async def count_refused(self, gateway: Gateway, caller: Caller) -> None:
        """Count a request refused before the rate-limit plugin saw it (invalid, too large,
        client gone) in the caller's shared request windows."""
        counts = self._counts_for(gateway)
        limits = counts.limits(caller)
        if not limits:
            return
        verdict = await counts.windows.admit(limits, 0)
        if verdict.refused is not None:
            self._known[verdict.refused.scope] = _Known(
                self._now() + verdict.reset_s, verdict.refused.rpm
            )

    def _unpause(self, alias: str) -> None:
        left = self._paused[alias] - 1
        if left:
            self._paused[alias] = left
        else:
            del self._paused[alias]

    async def _refuse(self, scope: str, known: _Known, pause_s: float) -> None:
        wait = known.until - self._now()
        if wait <= 0:
            self._known.pop(scope, None)
            return
        if pause_s > 0:
            await self._sleep(min(pause_s, wait))
        retry = max(1, math.ceil(known.until - self._now()))
        headers = {"retry-after": str(retry), "x-ratelimit-remaining-requests": "0"}
        if known.limit:
            headers["x-ratelimit-limit-requests"] = str(known.limit)
        headers["x-ratelimit-reset-requests"] = (
            f"{retry // 60}m{retry % 60}s" if retry >= 60 else f"{retry}s"
        )
        raise RateLimited(
            f"Rate limit reached for {scope} on requests per minute"
            f"{f': limit {known.limit}' if known.limit else ''}. Please try again in {retry}s.",
            kind="requests",
            headers=headers,
            scope=scope,
        )

    def _counts_for(self, gateway: Gateway) -> _Counts:
        counts = self._counts.get(gateway)
        if counts is None:
            config = gateway.config
            keys, teams = config.client_keys, config.plugins.rate_limits.teams
            counts = _Counts(
                RateWindows(gateway.redis, self._now),
                {c.alias: Limit(f"key:{c.alias}", c.rpm, None) for c in keys if c.rpm},
                {t: Limit(f"team:{t}", lim.rpm, None) for t, lim in teams.items() if lim.rpm},
            )
            self._counts[gateway] = counts
        return counts
