"""A top-up from Redis runs one at a time, and the requests waiting for it wake together.

With an ``asyncio.Lock`` each waiter was woken by the release of the one before it, one
event-loop pass per waiter: at concurrency 64 the last request behind a window's first
top-up waited 1.5 s to find it had nothing to do. These tests count loop passes, not time.
"""

from __future__ import annotations

import asyncio

import pytest

from router_config.state.one_flight import OneFlight
from router_config.state.rate_windows import Limit, RateWindows
from router_config.state.shared_redis import SharedRedis


def test_every_waiter_wakes_within_a_few_loop_passes_of_the_top_up() -> None:
    async def scenario() -> int:
        flight = OneFlight()
        release = asyncio.Event()

        async def owner() -> None:
            assert not await flight.wait()
            async with flight.turn():
                await release.wait()

        owning = asyncio.create_task(owner())
        await asyncio.sleep(0)
        waiters = [asyncio.create_task(flight.wait()) for _ in range(200)]
        await asyncio.sleep(0)
        release.set()
        passes = 0
        while not all(w.done() for w in waiters):
            await asyncio.sleep(0)
            passes += 1
        await owning
        assert all(w.result() for w in waiters)  # each saw a top-up in flight
        return passes

    assert asyncio.run(scenario()) <= 5  # an asyncio.Lock hand-off needs one per waiter


def test_a_second_turn_while_one_is_in_flight_is_a_bug() -> None:
    async def scenario() -> None:
        flight = OneFlight()
        async with flight.turn():
            with pytest.raises(RuntimeError, match="wait"):
                async with flight.turn():
                    pass
        assert not await flight.wait()  # over: nothing in flight

    asyncio.run(scenario())


def test_a_window_rollover_under_load_takes_one_top_up_and_admits_everyone(
    redis_url: str,
) -> None:
    async def scenario() -> tuple[list[bool], int]:
        shared = SharedRedis(redis_url, prefix="t:")
        client = shared.client
        windows = RateWindows(shared, lambda: 120.0)  # the start of a window
        limit = Limit("key:k", rpm=10_000, tpm=None)
        verdicts = await asyncio.gather(*(windows.admit([limit], 10) for _ in range(64)))
        granted = int(await client.hget(shared.key("rl", "2"), "key:k:r") or 0)
        await shared.close()
        return [v.allowed for v in verdicts], granted

    allowed, granted = asyncio.run(scenario())
    assert all(allowed)
    assert granted == 1_000  # one slice (10 % of the limit): one top-up served all 64
