"""Reading a provider's server-sent events stream the way the openai SDK does.

An event is every ``data:`` line up to a blank line, joined with newlines;
``[DONE]`` ends the stream, and so does the connection closing cleanly (the
SDK accepts a stream without ``[DONE]``). A chunk with a truthy ``error`` is a
provider failure. A connection that breaks mid-stream is an error, but every
whole event received before it is still handed on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import aiohttp
import orjson


class StreamError(Exception):
    """The provider's stream carried an error or something that is not a chunk."""


async def read_chunks(reply: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """Chunk dicts from ``reply``; the connection goes back to the pool however it ends."""
    data: list[bytes] = []
    try:
        try:
            async for line in reply.content:
                for chunk in _feed(line, data):
                    if chunk is None:
                        return
                    yield chunk
        except aiohttp.ClientPayloadError:
            # aiohttp forgets what it had already received once it learns the connection
            # broke (a private read gets it back): hand on every whole event, then fail.
            left: bytes = getattr(reply.content, "_read_nowait", lambda n: b"")(-1)
            for line in left.split(b"\n")[:-1]:  # what follows the last newline is cut off
                for chunk in _feed(line + b"\n", data):
                    if chunk is None:
                        return  # [DONE] arrived before the break: the stream is complete
                    yield chunk
            raise
        for chunk in _feed(b"\n", data):  # a last event not followed by a blank line
            if chunk is not None:
                yield chunk
    finally:
        reply.release()


def _feed(line: bytes, data: list[bytes]) -> Iterable[dict[str, Any] | None]:
    """Consume one line; yields a finished event's chunk, or None for ``[DONE]``."""
    line = line.rstrip(b"\r\n")
    if line:
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        return  # comments (":"), "event:", "id:", "retry:" lines carry nothing we use
    if not data:
        return
    payload = b"\n".join(data)
    data.clear()
    if payload.strip() == b"[DONE]":
        yield None
        return
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise StreamError("the provider sent an event that is not JSON") from None
    if not isinstance(chunk, dict):
        raise StreamError("the provider sent an event that is not an object")
    if chunk.get("error"):
        error = chunk["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise StreamError(f"the provider's stream failed: {message}")
    yield chunk
