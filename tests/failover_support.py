"""Helpers for failover tests: a controllable clock and a loopback webhook receiver."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAST_FAILOVER = """
router_plugins:
  failover:
    first_token_timeout_s: 1.0  # headroom for LiteLLM's cold first call on a loaded CI box
  breaker:
    cooldown_s: 30
"""


def wait_for(predicate: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Poll ``predicate`` until it holds or ``seconds`` pass; whether it held."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class MidPeriodClock:
    """Wall time that keeps running but starts at noon UTC on the 15th of this month.

    Budget periods are UTC days and months; a test that spends and then reads its period
    would see the budget reset if it ran across midnight (CI once did, at a month's end).
    """

    def __init__(self) -> None:
        now = time.time()
        start = dt.datetime.fromtimestamp(now, dt.UTC).replace(
            day=15, hour=12, minute=0, second=0, microsecond=0
        )
        self.offset = start.timestamp() - now

    def __call__(self) -> float:
        return time.time() + self.offset


class WebhookReceiver:
    """Collects JSON POSTs on a loopback port, like a Slack or PagerDuty endpoint would."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def kinds(self, wait_s: float = 1.0, expect: int = 0) -> list[str]:
        """Alert kinds received so far, waiting up to ``wait_s`` for ``expect`` of them."""
        end = time.monotonic() + wait_s
        while len(self.received) < expect and time.monotonic() < end:
            time.sleep(0.02)
        return [r["kind"] for r in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
