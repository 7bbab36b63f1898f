"""Budget leases: each replica holds a slice of every budget and spends from it locally.

Redis knows, per budget scope and period, what was spent (the ledger) and what
each replica holds (its lease, with an expiry). A replica reserves a call's
worst-case cost from its own lease without a round trip; when the lease is too
short, or due for renewal, one Lua script tops it up, never past the budget:
spent + every live lease <= limit. Settled costs come off the lease when the
journal entry reaches Redis (``spend_ledger``), locally at once.

While Redis is down a replica spends only what it holds, so a budget is overshot
by at most one slice per replica cut off from Redis (a slice is
``budget_lease_fraction`` of the budget, or one call's worst case if larger). A
lease not renewed within ``lease_ttl_s`` (a dead replica) is freed for the others.
Without Redis the same check runs on this process's own spend.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from router_config.config.shared_state_settings import SharedStateSettings
from router_config.flow.hooks import Clock
from router_config.state.one_flight import OneFlight
from router_config.state.shared_redis import SharedRedis
from router_config.state.spend_ledger import TAG, SpendLedger

LEASE_KEEP_MS = 40 * 24 * 3600 * 1000
TOP_UP_TRIES = 3  # a concurrent reservation may take what a top-up brought: ask again

# KEYS: per scope its period's spend hash and its lease hash (fields: replica id -> nano
# held, "<id>:exp" -> expiry in ms of Redis time). ARGV: replica id, ttl ms, keep ms, then
# per scope: field, limit, want, need. Grants min(want, room), or nothing below need.
# Returns per scope: granted, committed (spent + live leases), this replica's lease before.
_GRANT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local jid, ttl = ARGV[1], tonumber(ARGV[2])
local out = {}
for s = 1, #KEYS / 2 do
  local spend, lease = KEYS[2 * s - 1], KEYS[2 * s]
  local a = 4 + 4 * (s - 1)
  local cap, want, need = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local spent = tonumber(redis.call('HGET', spend, ARGV[a]) or '0')
  local flat = redis.call('HGETALL', lease)
  local map = {}
  for h = 1, #flat, 2 do map[flat[h]] = flat[h + 1] end
  local total, mine = 0, 0
  for who, amount in pairs(map) do
    if string.sub(who, -4) ~= ':exp' then
      if tonumber(map[who .. ':exp'] or '0') < now then
        redis.call('HDEL', lease, who, who .. ':exp')
      else
        total = total + tonumber(amount)
        if who == jid then mine = tonumber(amount) end
      end
    end
  end
  local grant = math.min(want, cap - spent - total)
  if grant < need or grant < 0 then grant = 0 end
  if grant > 0 then redis.call('HINCRBY', lease, jid, string.format('%d', grant)) end
  if mine + grant > 0 then
    redis.call('HSET', lease, jid .. ':exp', string.format('%d', now + ttl))
    redis.call('PEXPIRE', lease, ARGV[3])
  end
  out[#out + 1] = grant
  out[#out + 1] = spent + total + grant
  out[#out + 1] = mine
end
return out
"""


@dataclass(frozen=True)
class BudgetScope:
    """One budget in one period: ``field`` (``provider:openai``), ``pid`` (``month:2026-11``),
    ``cap`` in nano-USD."""

    field: str
    pid: str
    cap: int


@dataclass
class _Lease:
    held: int = 0  # nano this replica may still commit: granted minus settled
    reserved: int = 0  # worst cases of calls in flight
    renew_at: float = 0.0  # monotonic: top up / renew in Redis after this
    committed: int = 0  # spent + every lease, as Redis (or this process) last said


@dataclass(frozen=True)
class Grant:
    """The answer to a reservation: ``refused`` names the budget that had no room;
    ``confirmed`` is False when Redis could not be asked and the lease was short;
    ``committed`` holds the committed spend of each scope Redis reported on now."""

    allowed: bool
    refused: BudgetScope | None = None
    confirmed: bool = True
    committed: dict[BudgetScope, int] = field(default_factory=dict)


class BudgetLeases:
    """Reserves worst-case costs against budgets, from leases shared through Redis."""

    def __init__(
        self,
        redis: SharedRedis | None,
        ledger: SpendLedger,
        settings: SharedStateSettings,
        clock: Clock = time.monotonic,
    ) -> None:
        self._redis = redis
        self._ledger = ledger
        self._settings = settings
        self._clock = clock
        self._leases: dict[tuple[str, str], _Lease] = {}
        self._script: Any = redis.client.register_script(_GRANT) if redis else None
        self._topping = OneFlight()

    async def reserve(self, scopes: Sequence[BudgetScope], estimate: int) -> Grant:
        """Reserve ``estimate`` nano-USD on every scope, or on none."""
        if self._redis is None:
            return self._reserve_locally(scopes, estimate)
        committed: dict[BudgetScope, int] = {}
        confirmed = False
        tries, waited = 0, False
        while tries < TOP_UP_TRIES:
            if not self._due(scopes, estimate) or not self._redis.available:
                break
            # One top-up at a time: concurrent requests then find the slice it brought, and
            # a grant is never applied out of order.
            if not waited and await self._topping.wait():
                waited = True
                continue
            tries += 1
            async with self._topping.turn():
                due = self._due(scopes, estimate)
                if not due:
                    continue  # the turn before this one brought enough
                reported = await self._top_up(due, estimate)
            if reported is None:
                break
            committed.update(reported)
            confirmed = True
            if not any(self._short(s, estimate) for s in scopes):
                break
        for scope in scopes:
            if self._short(scope, estimate):
                return Grant(False, scope, confirmed, committed)
        for scope in scopes:
            self._lease(scope).reserved += estimate
        return Grant(True, committed=committed)

    def settle(self, scopes: Sequence[BudgetScope], estimate: int, cost: int) -> None:
        """A call is over: its reservation goes, its real cost comes off the lease."""
        for scope in scopes:
            lease = self._lease(scope)
            lease.reserved = max(0, lease.reserved - estimate)
            if self._redis is not None:
                lease.held -= cost

    def committed(self, scope: BudgetScope) -> int:
        """Committed spend of ``scope`` as last known (shared when Redis is configured)."""
        if self._redis is None:
            return self._ledger.local(scope.pid, scope.field) + self._lease(scope).reserved
        return self._lease(scope).committed

    async def give_back(self) -> None:
        """Shutdown, every cost already in Redis: free what this replica holds for the others
        (a lease left behind would only be freed by ``lease_ttl_s``)."""
        if self._redis is None or not self._leases:
            return
        redis, jid = self._redis, self._ledger.journal.id
        keys = [redis.key("lease", pid, field, tag=TAG) for field, pid in self._leases]

        async def delete(client: Any) -> bool:
            async with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hdel(key, jid, f"{jid}:exp")
                await pipe.execute()
            return True

        await redis.run(delete, False)
        self._leases.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        """What this replica holds, for ``GET /health/shared-state``."""
        return [
            {
                "scope": f,
                "period": p,
                "held_usd": lease.held / 1e9,
                "reserved_usd": lease.reserved / 1e9,
            }
            for (f, p), lease in sorted(self._leases.items())
        ]

    def _due(self, scopes: Sequence[BudgetScope], estimate: int) -> list[BudgetScope]:
        """Scopes whose lease is too short for ``estimate`` or due for renewal."""
        now = self._clock()
        return [s for s in scopes if self._short(s, estimate) or now >= self._lease(s).renew_at]

    def _short(self, scope: BudgetScope, estimate: int) -> bool:
        lease = self._lease(scope)
        return lease.held - lease.reserved < estimate

    def _lease(self, scope: BudgetScope) -> _Lease:
        lease = self._leases.get((scope.field, scope.pid))
        if lease is None:
            if len(self._leases) > 1000:  # forget past periods
                self._leases = {k: v for k, v in self._leases.items() if v.reserved}
            lease = self._leases[(scope.field, scope.pid)] = _Lease()
        return lease

    async def _top_up(
        self, scopes: Sequence[BudgetScope], estimate: int
    ) -> dict[BudgetScope, int] | None:
        assert self._redis is not None
        redis, ttl = self._redis, self._settings.lease_ttl_s
        keys: list[str] = []
        args: list[Any] = [self._ledger.journal.id, int(ttl * 1000), LEASE_KEEP_MS]
        for scope in scopes:
            lease = self._lease(scope)
            available = lease.held - lease.reserved
            slice_ = max(math.ceil(scope.cap * self._settings.budget_lease_fraction), estimate)
            keys += [
                redis.key("spend", scope.pid, tag=TAG),
                redis.key("lease", scope.pid, scope.field, tag=TAG),
            ]
            args += [
                scope.field,
                scope.cap,
                max(0, slice_ - available),
                max(0, estimate - available),
            ]
        script = self._script
        raw = await redis.run(lambda c: script(keys=keys, args=args, client=c), None)
        if raw is None:
            return None
        reported: dict[BudgetScope, int] = {}
        renew_at = self._clock() + ttl / 3
        for i, scope in enumerate(scopes):
            granted, committed, mine = (int(v) for v in raw[3 * i : 3 * i + 3])
            lease = self._lease(scope)
            lease.held = min(lease.held, mine) + granted  # a lease Redis let expire is gone
            lease.committed = committed
            lease.renew_at = renew_at
            reported[scope] = committed
        return reported

    def _reserve_locally(self, scopes: Sequence[BudgetScope], estimate: int) -> Grant:
        committed = {s: self.committed(s) + estimate for s in scopes}
        for scope in scopes:
            if committed[scope] > scope.cap:
                return Grant(False, scope, True, committed)
        for scope in scopes:
            self._lease(scope).reserved += estimate
        return Grant(True, committed=committed)
