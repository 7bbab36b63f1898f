"""Requests and tokens per minute, counted in one-minute windows shared through Redis.

One Lua script checks every limit that applies to a request (its key, its
team) and only then counts it against all of them, so replicas sharing Redis
enforce one limit together and a refused request is counted nowhere. Tokens
are reserved before the call (prompt estimate plus the caller's ``max_tokens``)
and settled to the real usage after it. Without Redis, or while it is down,
the same arithmetic runs in this process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from router_config.flow.hooks import Clock
from router_config.state.shared_redis import SharedRedis

WINDOW_S = 60

# KEYS: per limit a request counter and a token counter. ARGV: ttl, estimate, then per
# limit rpm and tpm (0 = none). Returns {allowed, refused limit (1-based) or 0, then per
# limit the requests and tokens used in this window}.
_ADMIT = """
local n = #KEYS / 2
local est = tonumber(ARGV[2])
local out = {1, 0}
for i = 1, n do
  local r = tonumber(redis.call('GET', KEYS[2*i-1]) or '0')
  local t = tonumber(redis.call('GET', KEYS[2*i]) or '0')
  local rpm = tonumber(ARGV[1+2*i])
  local tpm = tonumber(ARGV[2+2*i])
  if (rpm > 0 and r + 1 > rpm) or (tpm > 0 and t + est > tpm) then
    out[1] = 0
    out[2] = i
  end
  out[1+2*i] = r
  out[2+2*i] = t
end
if out[1] == 1 then
  for i = 1, n do
    out[1+2*i] = redis.call('INCR', KEYS[2*i-1])
    redis.call('EXPIRE', KEYS[2*i-1], ARGV[1])
    out[2+2*i] = redis.call('INCRBY', KEYS[2*i], est)
    redis.call('EXPIRE', KEYS[2*i], ARGV[1])
  end
end
return out
"""


@dataclass(frozen=True)
class Limit:
    """One limit: ``scope`` names who it binds (``key:alias``, ``team:name``, ``deployment:id``)."""

    scope: str
    rpm: int | None
    tpm: int | None


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
    """Admits requests against limits and settles their token reservations."""

    def __init__(self, redis: SharedRedis | None, now: Clock) -> None:
        self._redis = redis
        self._now = now
        self._local: dict[str, int] = {}  # counters of the current window only
        self._local_window = -1
        self._script: Any = redis.client.register_script(_ADMIT) if redis else None

    async def admit(self, limits: Sequence[Limit], estimate: int) -> Verdict:
        """Count one request of ``estimate`` tokens against every limit, if all have room."""
        now = self._now()
        window = int(now // WINDOW_S)
        keys = [k for limit in limits for k in self._keys(limit, window)]
        args: list[int] = [2 * WINDOW_S, estimate]
        for limit in limits:
            args += [limit.rpm or 0, limit.tpm or 0]
        raw: list[int] | None = None
        if self._redis is not None and self._redis.available:
            script = self._script
            raw = await self._redis.run(lambda c: script(keys=keys, args=args, client=c), None)
        if raw is None:
            raw = self._admit_locally(window, keys, args)
        usage = tuple(
            Usage(limit, int(raw[2 + 2 * i]), int(raw[3 + 2 * i])) for i, limit in enumerate(limits)
        )
        return Verdict(
            allowed=bool(raw[0]),
            refused=limits[int(raw[1]) - 1] if raw[1] else None,
            usage=usage,
            reset_s=WINDOW_S - now % WINDOW_S,
            window=window,
            estimate=estimate,
        )

    async def settle(self, verdict: Verdict, actual_tokens: int) -> None:
        """Replace an admitted request's token estimate with what it really used."""
        if verdict.allowed:
            await self._adjust(verdict, 0, actual_tokens - verdict.estimate)

    async def release(self, verdict: Verdict) -> None:
        """An admitted request that was never sent: count neither it nor its tokens."""
        if verdict.allowed:
            await self._adjust(verdict, -1, -verdict.estimate)

    async def _adjust(self, verdict: Verdict, requests: int, tokens: int) -> None:
        changes = [
            (key, delta)
            for u in verdict.usage
            for key, delta, limited in zip(
                self._keys(u.limit, verdict.window),
                (requests, tokens),
                (u.limit.rpm, u.limit.tpm),
                strict=True,
            )
            if limited and delta
        ]
        if not changes:
            return
        if self._redis is not None and self._redis.available:

            async def adjust(client: Any) -> bool:
                async with client.pipeline(transaction=False) as pipe:
                    for key, delta in changes:
                        pipe.incrby(key, delta)
                        pipe.expire(key, 2 * WINDOW_S)  # a late settle must not leave it forever
                    await pipe.execute()
                return True

            if await self._redis.run(adjust, False):
                return
        if verdict.window == self._local_window:
            for key, delta in changes:
                self._local[key] = self._local.get(key, 0) + delta

    def _keys(self, limit: Limit, window: int) -> tuple[str, str]:
        base = f"rl:{limit.scope}:{window}"
        if self._redis is not None:
            base = self._redis.key(base)
        return f"{base}:r", f"{base}:t"

    def _admit_locally(self, window: int, keys: list[str], args: list[int]) -> list[int]:
        """The Lua script's arithmetic, for when there is no Redis."""
        if window != self._local_window:
            self._local, self._local_window = {}, window
        estimate = args[1]
        out = [1, 0]
        for i in range(len(keys) // 2):
            r, t = self._local.get(keys[2 * i], 0), self._local.get(keys[2 * i + 1], 0)
            rpm, tpm = args[2 + 2 * i], args[3 + 2 * i]
            if (rpm and r + 1 > rpm) or (tpm and t + estimate > tpm):
                out[:2] = [0, i + 1]
            out += [r, t]
        if out[0]:
            for i in range(len(keys) // 2):
                self._local[keys[2 * i]] = out[2 + 2 * i] = out[2 + 2 * i] + 1
                self._local[keys[2 * i + 1]] = out[3 + 2 * i] = out[3 + 2 * i] + estimate
        return out


def _duration(seconds: float) -> str:
    """OpenAI's reset format: ``1s``, ``6m0s``."""
    whole = max(1, math.ceil(seconds))
    return f"{whole // 60}m{whole % 60}s" if whole >= 60 else f"{whole}s"
