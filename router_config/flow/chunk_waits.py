"""Limits on each wait for a provider's next chunk, while a stream is relayed to its caller
or read into one body.

Every wait is bounded by the idle limit (from when the wait began), the attempt's total
limit and the caller's deadline. A fresh ``asyncio.timeout`` per chunk did that, and cost
about a seventh of the CPU of relaying a 300-token stream. Here one timer serves the
whole stream: a wait only notes when it began, and the timer, when it fires, cuts the wait
that is late or re-arms itself for the next bound. Only a wait is ever cut: the time the
relay spends handing a chunk to a slow caller is not the provider's.

The cut cancels the relaying task, as ``asyncio.timeout`` does, and tells its own
cancellation from anyone else's the same way (``Task.uncancel``): a caller leaving at the
same moment is still a caller leaving.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any

from router_config.flow.hooks import Clock


class WaitTooLong(Exception):
    """The provider sent nothing within the bound of one wait; ``reason`` names the bound:
    ``timeout`` (idle or total limit) or ``caller_deadline``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChunkWaits:
    """``await waits.next(chunks)`` for each chunk; ``close()`` when the relay ends."""

    def __init__(
        self, clock: Clock, idle_s: float, total_at: float, caller_at: float | None
    ) -> None:
        self._clock = clock
        self._idle_s = idle_s
        self._total_at = total_at
        self._caller_at = caller_at if caller_at is not None else math.inf
        self._began: float | None = None  # when the current wait began; None between waits
        self._task: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._cut = False

    async def next(self, chunks: AsyncIterator[dict[str, Any]]) -> dict[str, Any] | None:
        """The next chunk, or None at the stream's end; ``WaitTooLong`` past a bound."""
        now = self._clock()
        if now >= min(self._total_at, self._caller_at):
            raise WaitTooLong(self._bound(now)[1])
        self._began = now
        self._task = asyncio.current_task()  # the task that waits is the one a cut cancels
        if self._timer is None:
            self._arm(self._bound(now)[0] - now)
        try:
            return await anext(chunks)
        except StopAsyncIteration:
            return None
        except asyncio.CancelledError:
            if self._cut and self._task is not None and self._task.uncancel() == 0:
                raise WaitTooLong(self._bound(self._clock())[1]) from None
            raise
        finally:
            self._began = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _bound(self, now: float) -> tuple[float, str]:
        """The instant the current wait (or one beginning now) is cut, and why."""
        began = self._began if self._began is not None else now
        return min(
            (began + self._idle_s, "timeout"),
            (self._total_at, "timeout"),
            (self._caller_at, "caller_deadline"),
            key=lambda bound: bound[0],
        )

    def _arm(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(max(delay, 0.0), self._fire)

    def _fire(self) -> None:
        now = self._clock()
        deadline = self._bound(now)[0]
        if self._began is not None and now >= deadline and self._task is not None:
            self._cut = True
            self._task.cancel()
            return
        self._arm(deadline - now)
