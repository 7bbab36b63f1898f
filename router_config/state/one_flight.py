"""One top-up at a time, and every request that finds one running waits for that one.

Rate-limit slices and budget leases are topped up from Redis one at a time, so that
concurrent requests find the slice a top-up brought and a grant is never applied out of
order. An ``asyncio.Lock`` did that, but its hand-off is serial: each waiter is woken only
when the one before it releases, one pass of the event loop per waiter. At saturation a
pass costs tens of milliseconds (every other request's work runs in it), so when a
window rolled over the 60th request behind the top-up waited for 60 passes just to find
it had nothing to do: measured at concurrency 64, requests whose provider answered in
0.1 s took 1.1-1.6 s, one every 40 ms, and p99 was 5x p50. Here a running top-up is a
future every waiter awaits: one pass wakes them all, and each checks for itself whether
it still needs a top-up of its own; the few that do take their turns in arrival order
(they wait for a flight once, then queue: a flight never makes anyone wait twice).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class OneFlight:
    """At most one top-up in flight; the others wait for it together, and those that still
    need their own take turns in arrival order."""

    def __init__(self) -> None:
        self._running: asyncio.Future[None] | None = None
        self._order = asyncio.Lock()  # only requests that still need a top-up queue here

    async def wait(self) -> bool:
        """Wait for the top-up in flight, if any: True if there was one (check again)."""
        running = self._running
        if running is None:
            return False
        await asyncio.shield(running)
        return True

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """This request's own top-up, first come first served. Check again inside: the
        turn before may have brought what this request needs."""
        async with self._order:
            self._running = asyncio.get_running_loop().create_future()
            try:
                yield
            finally:
                running, self._running = self._running, None
                running.set_result(None)
