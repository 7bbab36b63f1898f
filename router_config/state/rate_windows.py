"""Requests and tokens per minute, counted in one-minute windows leased from Redis.

Each replica leases slices of every limit for the current window (one Lua script
tops up every limit a request needs, never past the limit: the sum of every
replica's slices stays within it) and admits requests from its slices without a
round trip. Tokens are reserved before the call (prompt estimate plus the
caller's output cap) and settled to the real usage after it; a request that was
refused, or never sent, counts nowhere.

While Redis is down a replica admits from the slices it holds for the current
window, and in later windows from an equal share of each limit (the limit divided
by the replicas last seen alive), so N replicas together stay within the limit.
Without Redis the whole limit is this process's. The ``x-ratelimit-*`` headers
count other replicas' unused slices as used (never more remaining than there is).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from router_config.flow.hooks import Clock
from router_config.state.one_flight import OneFlight
from router_config.state.shared_redis import SharedRedis

WINDOW_S = 60
TOP_UP_TRIES = 3  # a concurrent request may take what a top-up brought: ask again

# KEYS[1]: this window's hash (fields "<scope>:r" and "<scope>:t": granted to every replica).
# ARGV[1]: ttl; then per limit 9 values: scope, rpm, tpm, want_r, need_r, want_t, need_t,
# sync_r, sync_t (what was admitted while Redis was unreachable, added first).
# Returns per limit: granted requests, total requests, granted tokens, total tokens.
_GRANT = """
local out = {}
for i = 2, #ARGV, 9 do
  for k, kind in ipairs({'r', 't'}) do
    local f = ARGV[i] .. ':' .. kind
    local cap = tonumber(ARGV[i + k])
    local want, need = tonumber(ARGV[i + 1 + 2 * k]), tonumber(ARGV[i + 2 + 2 * k])
    local sync = tonumber(ARGV[i + 6 + k])
    local total = tonumber(redis.call('HGET', KEYS[1], f) or '0')
    if sync > 0 then total = redis.call('HINCRBY', KEYS[1], f, sync) end
    local grant = 0
    if cap > 0 and want > 0 then
      grant = math.min(want, cap - total)
      if grant < need or grant < 0 then grant = 0 end
      if grant > 0 then total = redis.call('HINCRBY', KEYS[1], f, grant) end
    end
    out[#out + 1] = grant
    out[#out + 1] = total
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return out
"""


@dataclass(frozen=True)
class Limit:
    """One limit: ``scope`` names who it binds (``key:alias``, ``team:name``, ``deployment:id``)."""

    scope: str
    rpm: int | None
    tpm: int | None


@dataclass
class _Slice:
    """This replica's share of one limit in one window."""

    granted_r: int = 0
    granted_t: int = 0
    used_r: int = 0
    used_t: int = 0
    total_r: int = 0  # what every replica was granted, as Redis last said
    total_t: int = 0
    leased: bool = False  # Redis granted a slice in this window
    outage: bool = False  # a local share was taken while Redis was unreachable

    def short(self, limit: Limit, estimate: int) -> bool:
        return bool(
            (limit.rpm and self.used_r + 1 > self.granted_r)
            or (limit.tpm and self.used_t + estimate > self.granted_t)
        )


@dataclass(frozen=True)
class Usage:
    """What one limit has used in the current window, this request included if admitted."""

    limit: Limit
    requests: int
    tokens: int

    def of(self, kind: str) -> tuple[int, int]:
        """(limit, used) for ``requests`` or ``tokens``; a limit of 0 means none."""
        if kind == "requests":
            return self.limit.rpm or 0, self.requests
        return self.limit.tpm or 0, self.tokens


@dataclass(frozen=True)
class Verdict:
    """The answer to one request: admitted or not, with what each limit has left."""

    allowed: bool
    refused: Limit | None
    usage: tuple[Usage, ...]
    reset_s: float
    window: int
    estimate: int

    def headers(self) -> dict[str, str]:
        """OpenAI's ``x-ratelimit-*`` headers, for the tightest limit of each kind."""
        out: dict[str, str] = {}
        reset = _duration(self.reset_s)
        for kind in ("requests", "tokens"):
            bound = [(cap, used) for cap, used in (u.of(kind) for u in self.usage) if cap]
            if not bound:
                continue
            cap, used = min(bound, key=lambda b: b[0] - b[1])
            out[f"x-ratelimit-limit-{kind}"] = str(cap)
            out[f"x-ratelimit-remaining-{kind}"] = str(max(0, cap - used))
            out[f"x-ratelimit-reset-{kind}"] = reset
        return out


class RateWindows:
    """Admits requests against limits from leased slices, and settles their tokens."""

    def __init__(
        self,
        redis: SharedRedis | None,
        now: Clock,
        *,
        lease_fraction: float = 0.1,
        replicas: Callable[[], int] = lambda: 1,
    ) -> None:
        self._redis = redis
        self._now = now
        self._fraction = lease_fraction
        self._replicas = replicas
        self._slices: dict[tuple[str, int], _Slice] = {}
        self._script: Any = redis.client.register_script(_GRANT) if redis else None
        self._topping = OneFlight()

    async def admit(self, limits: Sequence[Limit], estimate: int) -> Verdict:
        """Count one request of ``estimate`` tokens against every limit, if all have room."""
        now = self._now()
        window = int(now // WINDOW_S)
        slices = [self._slice(limit, window) for limit in limits]
        pairs = list(zip(limits, slices, strict=True))
        reached = await self._top_ups(window, pairs, estimate)
        if not reached:  # Redis could not be asked: a window without a slice gets a share
            for limit, piece in pairs:
                if piece.short(limit, estimate):
                    self._share(limit, piece)
        refused = next(
            (lim for lim, s in zip(limits, slices, strict=True) if s.short(lim, estimate)), None
        )
        if refused is None:
            for piece in slices:
                piece.used_r += 1
                piece.used_t += estimate
        usage = tuple(
            Usage(
                lim,
                s.total_r - (s.granted_r - s.used_r),
                s.total_t - (s.granted_t - s.used_t),
            )
            for lim, s in zip(limits, slices, strict=True)
        )
        return Verdict(
            allowed=refused is None,
            refused=refused,
            usage=usage,
            reset_s=WINDOW_S - now % WINDOW_S,
            window=window,
            estimate=estimate,
        )

    async def settle(self, verdict: Verdict, actual_tokens: int) -> None:
        """Replace an admitted request's token estimate with what it really used."""
        if verdict.allowed:
            self._adjust(verdict, 0, actual_tokens - verdict.estimate)

    async def release(self, verdict: Verdict) -> None:
        """An admitted request that was never sent: count neither it nor its tokens."""
        if verdict.allowed:
            self._adjust(verdict, -1, -verdict.estimate)

    def snapshot(self) -> list[dict[str, Any]]:
        """This replica's slices of the current windows, for ``GET /health/shared-state``."""
        return [
            {
                "scope": scope,
                "window": window,
                "mode": "leased" if s.leased else "outage_share" if s.outage else "local",
                "requests": {"granted": s.granted_r, "used": s.used_r},
                "tokens": {"granted": s.granted_t, "used": s.used_t},
            }
            for (scope, window), s in sorted(self._slices.items())
        ]

    def _adjust(self, verdict: Verdict, requests: int, tokens: int) -> None:
        for usage in verdict.usage:
            piece = self._slices.get((usage.limit.scope, verdict.window))
            if piece is not None:
                piece.used_r += requests
                piece.used_t += tokens

    def _slice(self, limit: Limit, window: int) -> _Slice:
        piece = self._slices.get((limit.scope, window))
        if piece is None:
            self._slices = {k: v for k, v in self._slices.items() if k[1] >= window - 1}
            piece = self._slices[(limit.scope, window)] = _Slice()
        return piece

    def _share(self, limit: Limit, piece: _Slice) -> None:
        """Redis cannot be asked: a window with no lease gets this replica's equal share."""
        if piece.leased or piece.outage:
            return
        replicas = 1 if self._redis is None else max(1, self._replicas())
        piece.outage = self._redis is not None
        piece.granted_r = piece.total_r = math.ceil((limit.rpm or 0) / replicas)
        piece.granted_t = piece.total_t = math.ceil((limit.tpm or 0) / replicas)

    async def _top_ups(self, window: int, pairs: list[tuple[Limit, _Slice]], estimate: int) -> bool:
        """Top up every slice too short for this request; False if Redis could not be asked."""
        tries, waited = 0, False
        while tries < TOP_UP_TRIES:
            if not any(piece.short(limit, estimate) for limit, piece in pairs):
                return True
            if self._redis is None or not self._redis.available:
                return False
            if not waited and await self._topping.wait():
                waited = True  # one was in flight: it may have brought what this one needs
                continue
            tries += 1
            async with self._topping.turn():
                short = [(lim, p) for lim, p in pairs if p.short(lim, estimate)]
                if short and not await self._top_up(window, short, estimate):
                    return False
        return True

    async def _top_up(self, window: int, short: list[tuple[Limit, _Slice]], estimate: int) -> bool:
        assert self._redis is not None
        args: list[Any] = [2 * WINDOW_S]
        for limit, piece in short:
            sync_r, sync_t = (piece.used_r, piece.used_t) if piece.outage else (0, 0)
            if piece.outage:  # report what was admitted, give up the unused share
                piece.granted_r, piece.granted_t = piece.used_r, piece.used_t
            want_r, need_r = self._want(limit.rpm, piece.granted_r - piece.used_r, 1)
            want_t, need_t = self._want(limit.tpm, piece.granted_t - piece.used_t, estimate)
            args += [limit.scope, limit.rpm or 0, limit.tpm or 0, want_r, need_r, want_t, need_t]
            args += [sync_r, sync_t]
        keys = [self._redis.key("rl", str(window))]
        script = self._script
        raw = await self._redis.run(lambda c: script(keys=keys, args=args, client=c), None)
        if raw is None:
            return False
        for i, (_, piece) in enumerate(short):
            grant_r, total_r, grant_t, total_t = (int(v) for v in raw[4 * i : 4 * i + 4])
            piece.granted_r += grant_r
            piece.granted_t += grant_t
            piece.total_r, piece.total_t = total_r, total_t
            piece.leased, piece.outage = True, False
        return True

    def _want(self, cap: int | None, available: int, needed: int) -> tuple[int, int]:
        """(slice to ask for, least that admits this request), both 0 without a limit."""
        if not cap:
            return 0, 0
        slice_ = max(math.ceil(cap * self._fraction), needed)
        return max(0, slice_ - available), max(0, needed - available)


def _duration(seconds: float) -> str:
    """OpenAI's reset format: ``1s``, ``6m0s``."""
    whole = max(1, math.ceil(seconds))
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"
