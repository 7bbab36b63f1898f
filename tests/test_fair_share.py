"""``FairShare``: a cap per key, immediate admission while there is room, and at capacity
each freed slot goes to the waiting key holding the fewest (not first come, first served)."""

from __future__ import annotations

import asyncio

import pytest

from router_config.errors import Overloaded, TooManyInFlight
from router_config.flow.fair_share import FairShare


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_requests_are_admitted_at_once_while_there_is_room() -> None:
    fair = FairShare(capacity=3)
    for tenant in ("a", "a", "b"):
        await fair.enter(tenant, cap=5, timeout_s=1)
    assert (fair.held("a"), fair.held("b"), fair.running, fair.waiting) == (2, 1, 3, 0)


async def test_a_key_past_its_cap_is_refused_at_once() -> None:
    fair = FairShare(capacity=100)
    await fair.enter("a", cap=2, timeout_s=1)
    await fair.enter("a", cap=2, timeout_s=1)
    with pytest.raises(TooManyInFlight):
        await fair.enter("a", cap=2, timeout_s=1)
    await fair.enter("b", cap=2, timeout_s=1)  # another key is not affected
    fair.leave("a")
    await fair.enter("a", cap=2, timeout_s=1)


async def test_at_capacity_a_freed_slot_goes_to_the_key_holding_fewest() -> None:
    fair = FairShare(capacity=2)
    await fair.enter("flood", cap=10, timeout_s=5)
    await fair.enter("flood", cap=10, timeout_s=5)
    flood_3 = asyncio.create_task(fair.enter("flood", cap=10, timeout_s=5))
    flood_4 = asyncio.create_task(fair.enter("flood", cap=10, timeout_s=5))
    await settle()
    quiet = asyncio.create_task(fair.enter("quiet", cap=10, timeout_s=5))  # arrives last
    await settle()
    assert fair.waiting == 3

    fair.leave("flood")
    await settle()
    assert quiet.done() and not flood_3.done() and not flood_4.done()
    fair.leave("flood")
    await settle()
    assert flood_3.done() and not flood_4.done()  # the flooder's own requests stay in order
    fair.leave("quiet")
    await settle()
    assert flood_4.done()
    assert (fair.held("flood"), fair.held("quiet"), fair.waiting) == (2, 0, 0)


async def test_waiting_past_the_timeout_is_a_503_and_leaves_no_trace() -> None:
    fair = FairShare(capacity=1)
    await fair.enter("a", cap=5, timeout_s=1)
    with pytest.raises(Overloaded):
        await fair.enter("b", cap=5, timeout_s=0.01)
    assert (fair.waiting, fair.held("b")) == (0, 0)
    fair.leave("a")
    assert fair.running == 0


async def test_a_waiter_that_is_cancelled_gives_its_place_back() -> None:
    fair = FairShare(capacity=1)
    await fair.enter("a", cap=5, timeout_s=1)
    gone = asyncio.create_task(fair.enter("b", cap=5, timeout_s=5))
    await settle()
    gone.cancel()
    await settle()
    assert fair.waiting == 0
    fair.leave("a")
    assert fair.running == 0  # nobody took the slot
    await fair.enter("c", cap=5, timeout_s=1)


async def test_a_waiter_cancelled_as_its_slot_arrives_returns_the_slot() -> None:
    fair = FairShare(capacity=1)
    await fair.enter("a", cap=5, timeout_s=1)
    late = asyncio.create_task(fair.enter("b", cap=5, timeout_s=5))
    await settle()
    fair.leave("a")  # grants b's slot...
    late.cancel()  # ...but b is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await late
    assert (fair.running, fair.held("b")) == (0, 0)
