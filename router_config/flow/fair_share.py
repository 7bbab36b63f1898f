"""One process shared fairly between tenants: a cap per key, and fair admission when full.

Every request holds one slot from admission until it is over (a stream: its last chunk).
A key may hold (or wait for) at most its cap; past it, it is refused at once with 429,
which costs nothing. While the process holds fewer than ``capacity`` slots every request
is admitted at once, so this costs a dict update when nobody floods. At capacity,
requests wait, and each freed slot goes to the waiting key that holds the fewest slots
(ties: the one that has waited longest): max-min fairness, as a weighted fair queue with
equal weights gives. A flood by one key can then only take its own share of a full
process, and a newcomer is admitted before the flooder's next request. A request that
waits longer than its timeout is refused (503, Retry-After), so waiting is bounded too.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque

from router_config.errors import Overloaded, TooManyInFlight


class FairShare:
    """Slots per tenant (a key's alias) in one process."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._held: dict[str, int] = {}
        self._queued: dict[str, deque[tuple[int, asyncio.Future[None]]]] = {}
        self._running = 0
        self._waiting = 0
        self._order = itertools.count()

    def held(self, tenant: str) -> int:
        """Slots ``tenant`` holds now."""
        return self._held.get(tenant, 0)

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return self._waiting

    async def enter(self, tenant: str, *, cap: int, timeout_s: float) -> None:
        """Take a slot for ``tenant``: at once when there is room, else fairly, in turn.

        Raises ``TooManyInFlight`` when the tenant already holds or waits for ``cap``
        slots, ``Overloaded`` when no slot came free within ``timeout_s``.
        """
        queue = self._queued.get(tenant)
        if self.held(tenant) + (len(queue) if queue else 0) >= cap:
            raise TooManyInFlight(
                f"This key already has {cap} requests in flight; wait for one to finish."
            )
        if self._running < self.capacity and not self._waiting:
            self._grant(tenant)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (next(self._order), waiter)
        self._queued.setdefault(tenant, deque()).append(entry)
        self._waiting += 1
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
        except TimeoutError:
            if self._granted(waiter):  # the slot came at the last moment: keep it
                return
            self._forget(tenant, entry)
            raise Overloaded(
                f"The gateway is at capacity: no slot came free within {timeout_s:g} s."
            ) from None
        except asyncio.CancelledError:
            if self._granted(waiter):
                self.leave(tenant)
            else:
                self._forget(tenant, entry)
            raise

    def leave(self, tenant: str) -> None:
        """Give ``tenant``'s slot back; the next waiter, fairly chosen, takes it."""
        left = self._held.get(tenant, 0) - 1
        if left > 0:
            self._held[tenant] = left
        else:
            self._held.pop(tenant, None)
        self._running -= 1
        while self._waiting and self._running < self.capacity:
            self._admit_next()

    def _admit_next(self) -> None:
        tenant = min(self._queued, key=lambda t: (self.held(t), self._queued[t][0][0]))
        queue = self._queued[tenant]
        _, waiter = queue.popleft()
        if not queue:
            del self._queued[tenant]
        self._waiting -= 1
        if not waiter.done():  # a cancelled waiter forgets itself; this one is live
            self._grant(tenant)
            waiter.set_result(None)

    def _grant(self, tenant: str) -> None:
        self._held[tenant] = self._held.get(tenant, 0) + 1
        self._running += 1

    def _forget(self, tenant: str, entry: tuple[int, asyncio.Future[None]]) -> None:
        queue = self._queued.get(tenant)
        if queue is not None and entry in queue:
            queue.remove(entry)
            self._waiting -= 1
            if not queue:
                del self._queued[tenant]

    @staticmethod
    def _granted(waiter: asyncio.Future[None]) -> bool:
        return waiter.done() and not waiter.cancelled()
