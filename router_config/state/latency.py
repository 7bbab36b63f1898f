"""Time to first token per deployment, learned from real calls and shared through Redis.

The hedge point and the first-token limit of a deployment come from how fast
it usually starts answering: a fixed limit either cuts off slow-but-healthy
providers (a 100k-token prompt, a reasoning model) or waits far too long for a
dead one. Each attempt's time to first token, less the prompt's expected
prefill time, goes into a log-bucketed histogram per deployment and
five-minute window. Replicas add theirs to the same Redis hashes in a
background flush once a second and read the sum back every two seconds, so
nothing here costs a request a Redis round trip. Without Redis (or while it is
down) each process learns from its own calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from router_config.flow.hooks import Clock
from router_config.state.shared_redis import SharedRedis

WINDOW_S = 300  # the distribution is the current and the previous window together
FLUSH_S = 1.0
REFRESH_S = 2.0
# Bucket k holds samples up to BASE_S * GROWTH**k seconds: 10 ms to ~12 minutes in 60 buckets,
# each 25 % wider than the one before (a quantile is off by at most that much).
BASE_S = 0.01
GROWTH = 1.25
BUCKETS = 60


def bucket_of(seconds: float) -> int:
    """The histogram bucket a duration falls in."""
    if seconds <= BASE_S:
        return 0
    return min(BUCKETS - 1, math.ceil(math.log(seconds / BASE_S, GROWTH)))


def upper_bound(bucket: int) -> float:
    return float(BASE_S * GROWTH**bucket)


class LatencyStats:
    """Quantiles of each deployment's time to first token; ``record`` never waits."""

    def __init__(self, redis: SharedRedis | None, now: Clock, *, min_samples: int = 20) -> None:
        self._redis = redis
        self._now = now
        self._min = min_samples
        self._pending: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self._local: dict[tuple[str, int], dict[int, int]] = {}  # (deployment, window) -> counts
        self._shared: dict[str, dict[int, int]] = {}  # last sum read from Redis
        self._task: asyncio.Task[None] | None = None

    def record(self, deployment: str, seconds: float) -> None:
        """One attempt's time to first token (prefill already taken out)."""
        bucket = bucket_of(seconds)
        window = int(self._now() // WINDOW_S)
        counts = self._local.setdefault((deployment, window), defaultdict(int))
        counts[bucket] += 1
        self._pending[deployment][bucket] += 1

    def quantile(self, deployment: str, q: float) -> float | None:
        """The ``q`` quantile in seconds, or None while there are fewer than ``min_samples``."""
        counts = self._counts(deployment)
        total = sum(counts.values())
        if total < self._min:
            return None
        rank = q * total
        seen = 0
        for bucket in sorted(counts):
            seen += counts[bucket]
            if seen >= rank:
                return upper_bound(bucket)
        return upper_bound(max(counts))

    def samples(self, deployment: str) -> int:
        return sum(self._counts(deployment).values())

    def _counts(self, deployment: str) -> dict[int, int]:
        shared = self._shared.get(deployment)
        if shared is not None and self._redis is not None and not self._redis.down:
            return shared
        window = int(self._now() // WINDOW_S)
        out: dict[int, int] = defaultdict(int)
        for w in (window - 1, window):
            for bucket, n in self._local.get((deployment, w), {}).items():
                out[bucket] += n
        return out

    async def start(self, deployments: Iterable[str]) -> None:
        self._ids = tuple(deployments)
        if self._redis is not None:
            self._task = asyncio.create_task(self._sync_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._flush()

    async def _sync_forever(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(FLUSH_S)
            self._forget_old_windows()
            await self._flush()
            ticks += 1
            if ticks * FLUSH_S >= REFRESH_S:
                ticks = 0
                await self._refresh()

    def _forget_old_windows(self) -> None:
        window = int(self._now() // WINDOW_S)
        for key in [k for k in self._local if k[1] < window - 1]:
            del self._local[key]

    async def _flush(self) -> None:
        """Add what this process saw since the last flush to the shared histograms."""
        if self._redis is None or not self._pending or not self._redis.available:
            return
        pending, self._pending = self._pending, defaultdict(lambda: defaultdict(int))
        window = int(self._now() // WINDOW_S)
        redis = self._redis

        async def op(client: Any) -> bool:
            async with client.pipeline(transaction=False) as pipe:
                for dep, counts in pending.items():
                    key = redis.key("ttft", dep, str(window))
                    for bucket, n in counts.items():
                        pipe.hincrby(key, str(bucket), n)
                    pipe.expire(key, 3 * WINDOW_S)
                await pipe.execute()
            return True

        await redis.run(op, False)

    async def _refresh(self) -> None:
        """Read the current and previous windows of every deployment in one round trip."""
        if self._redis is None or not self._redis.available:
            return
        window = int(self._now() // WINDOW_S)
        redis, ids = self._redis, self._ids

        async def op(client: Any) -> list[dict[str, str]]:
            async with client.pipeline(transaction=False) as pipe:
                for dep in ids:
                    for w in (window - 1, window):
                        pipe.hgetall(redis.key("ttft", dep, str(w)))
                return list(await pipe.execute())

        found = await redis.run(op, None)
        if found is None:
            return
        for n, dep in enumerate(ids):
            merged: dict[int, int] = defaultdict(int)
            for raw in found[2 * n : 2 * n + 2]:
                for bucket, count in raw.items():
                    merged[int(bucket)] += int(count)
            self._shared[dep] = merged
