"""Connections held to time and size limits, which uvicorn does not have for slow clients.

uvicorn (0.54, httptools) closes a connection only when it idles *between* requests. A
client that opens a connection and sends nothing, sends its headers or its body a byte at
a time, or sends megabytes of headers, holds a socket, a task and memory for as long as it
likes (measured: 300 such connections, none closed in 20 s; after SIGTERM the process
waited for them). This protocol is uvicorn's own with four bounds added:

* the headers of a request must arrive within ``header_timeout_s`` (of the connection
  opening, or of the request's first byte) and within ``max_header_bytes``, else 408 / 431;
* its body within ``body_timeout_s`` of its headers, else 408; time the gateway itself
  keeps the body waiting (reading paused while the request waits for a slot) is not counted;
* an idle keep-alive connection is closed after ``keepalive_timeout_s``;
* on shutdown, connections still open ``shutdown_timeout_s`` (less half a second) after it
  began are closed, so shutdown ends within that bound whoever is connected.

The answers are written here, OpenAI-shaped, with ``connection: close``; the request, if
the app was already running, sees a disconnect. Each timeout is one ``client_timeout``
log line.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from router_config.logs import emit

if TYPE_CHECKING:  # the --workers supervisor builds these options without the config layer
    from router_config.config.plugin_settings import ServerSettings

# Set in a request's ASGI scope state when this protocol ended it (the app then does not
# log a second line for the disconnect it sees).
TIMED_OUT = "llm_router.timed_out"
_SHUTDOWN_GRACE_S = 0.5  # between closing connections and uvicorn cancelling what is left
# After an error answer, how long what the client still sends is read and dropped, so it
# reads the answer rather than a reset (a close with unread data sends RST): nginx's
# "lingering close".
LINGER_S = 2.0


@dataclass(frozen=True)
class ConnectionLimits:
    """The bounds one server process holds every connection to (``router_plugins.server``)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keepalive_timeout_s: float = 5.0
    max_header_bytes: int = 65_536
    shutdown_timeout_s: float = 30.0


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header, body, idle and shutdown bounds."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._timer: asyncio.TimerHandle | None = None
        self._phase = "idle"  # idle -> headers -> body -> app -> idle
        self._header_bytes = 0
        self._shutting_down = False
        self._lingering = False
        self.app = self._quiet_on_shutdown(self.app)

    # -- connection events ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm(self._limits.header_timeout_s, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        before = self._phase
        super().data_received(data)
        if self._phase != "headers" or self.transport.is_closing():
            return
        self._header_bytes = self._header_bytes + len(data) if before == "headers" else len(data)
        if self._header_bytes > self._limits.max_header_bytes:
            self._disarm()
            self._answer(431, "request_header_too_large", "The request headers are too large.")

    # -- parser callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = "headers"
        if self._timer is None:  # a keep-alive connection's next request: timed from here
            self._arm(self._limits.header_timeout_s, self._headers_late)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase = "body"
        self._arm(self._limits.body_timeout_s, self._body_late)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._phase = "idle" if self.cycle.response_complete else "app"

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._phase == "app":
            self._phase = "idle"
        if self.timeout_keep_alive_task is not None:  # uvicorn's whole seconds -> ours
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = self.loop.call_later(
                self._limits.keepalive_timeout_s, self.timeout_keep_alive_handler
            )

    def shutdown(self) -> None:
        super().shutdown()
        if not self.transport.is_closing():
            self._shutting_down = True
            close_at = max(0.0, self._limits.shutdown_timeout_s - _SHUTDOWN_GRACE_S)
            self.loop.call_later(close_at, self._close)

    # -- timeouts ------------------------------------------------------------------------
    def _headers_late(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._phase != "headers":  # nothing sent at all: just an idle connection
            self.transport.close()
            return
        self._timed_out("headers", self._limits.header_timeout_s)
        self._answer(408, "request_timeout", "The request headers did not arrive in time.")

    def _body_late(self) -> None:
        self._timer = None
        if self.transport.is_closing() or self._phase != "body":
            return
        cycle = self.cycle
        if self.flow.read_paused and not cycle.response_complete:
            # The app has not asked for the body yet (waiting for a slot): not the client's
            # delay. Look again shortly.
            self._arm(1.0, self._body_late)
            return
        self._timed_out("body", self._limits.body_timeout_s)
        if cycle.response_started:
            self._close()
            return
        self._answer(408, "request_timeout", "The request body did not arrive in time.")

    def _timed_out(self, phase: str, limit_s: float) -> None:
        state = self.scope.get("state") if self.scope else None
        if isinstance(state, dict):
            state[TIMED_OUT] = phase
        emit("client_timeout", logging.WARNING, phase=phase, limit_s=limit_s)

    # -- helpers -------------------------------------------------------------------------
    def _answer(self, status: int, code: str, message: str) -> None:
        """Write an OpenAI-shaped error and end the connection, lingering (``LINGER_S``);
        a running request sees a disconnect."""
        body = orjson.dumps(
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": code,
                }
            }
        )
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % (status, reason, len(body))
        )
        self._end_cycle()
        self.transport.write(head + body)
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads the answer, then its end
        self._arm(LINGER_S, self.transport.close)

    def _close(self) -> None:
        if not self.transport.is_closing():
            self._end_cycle()
            self.transport.close()

    def _end_cycle(self) -> None:
        """The running request, if any, sees a disconnect and its writes go nowhere."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _quiet_on_shutdown(self, app: Any) -> Any:
        """A request still running when uvicorn cancels it at the end of shutdown ends with
        one log line, not uvicorn's traceback: its connection is already closed."""

        async def guarded(scope: Any, receive: Any, send: Any) -> None:
            try:
                await app(scope, receive, send)
            except asyncio.CancelledError:
                if not self._shutting_down:
                    raise
                state = scope.get("state") or {}
                emit(
                    "request_cancelled",
                    logging.WARNING,
                    request_id=state.get("request_id"),
                    reason="shutdown",
                )

        return guarded


def connection_limits(settings: ServerSettings) -> ConnectionLimits:
    """``router_plugins.server`` as the limits the protocol holds connections to."""
    return ConnectionLimits(
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
        keepalive_timeout_s=settings.keepalive_timeout_s,
        max_header_bytes=settings.max_header_bytes,
        shutdown_timeout_s=settings.shutdown_timeout_s,
    )


def uvicorn_options(limits: ConnectionLimits) -> dict[str, Any]:
    """The options ``uvicorn.run`` needs to hold connections to ``limits``.

    uvicorn's own graceful-shutdown timeout (whole seconds) is the backstop: connections
    are closed half a second before it, so requests end by themselves, not by cancellation.
    """
    return {
        "http": functools.partial(BoundedHttpProtocol, limits=limits),
        "timeout_keep_alive": max(1, math.ceil(limits.keepalive_timeout_s)),
        "timeout_graceful_shutdown": max(1, math.ceil(limits.shutdown_timeout_s)),
    }
