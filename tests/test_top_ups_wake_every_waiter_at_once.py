"""A top-up from Redis runs one at a time, and the requests waiting for it wake together.

With an ``asyncio.Lock`` each waiter was woken by the release of the one before it, one
event-loop pass per waiter: at concurrency 64 the last request behind a window's first
top-up waited 1.5 s to find it had nothing to do. These tests count loop passes, not time.
"""

from __future__ import annotations

import asyncio

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


def test_requests_that_still_need_their_own_top_up_take_turns_in_arrival_order() -> None:
    async def scenario() -> list[int]:
        flight = OneFlight()
        release = asyncio.Event()
        entered: list[int] = []

        async def first() -> None:
            async with flight.turn():
                await release.wait()

        async def later(n: int) -> None:
            async with flight.turn():
                entered.append(n)

        owning = asyncio.create_task(first())
        await asyncio.sleep(0)
        queued = []
        for n in range(5):
            queued.append(asyncio.create_task(later(n)))
            await asyncio.sleep(0)
        release.set()
        await asyncio.gather(owning, *queued)
        assert not await flight.wait()  # all over: nothing in flight
        return entered

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4]


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
