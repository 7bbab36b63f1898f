"""Reading a provider's server-sent events stream the way the openai SDK does.

An event is every ``data:`` line up to a blank line, joined with newlines;
``[DONE]`` ends the stream, and so does the connection closing cleanly (the
SDK accepts a stream without ``[DONE]``). A chunk with a truthy ``error`` is a
provider failure. A connection that breaks mid-stream is an error, but every
whole event received before it is still handed on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson


class StreamError(Exception):
    """The provider's stream carried an error or something that is not a chunk."""


async def line_blocks(reply: aiohttp.ClientResponse) -> AsyncIterator[list[bytes]]:
    """The body's lines (without their ``\n``), a list for each read from the network.

    One await per read, not per line: aiohttp's line iterator cost a third of the CPU of
    relaying a 300-token answer. A line that is still incomplete waits for the next read;
    at the end of the body it is the last line. When the connection breaks, the whole
    lines received before the break are handed on, then the error is raised (what
    follows the last newline is cut off)."""
    rest = b""
    try:
        async for block in reply.content.iter_any():
            lines = (rest + block if rest else block).split(b"\n")
            rest = lines.pop()
            if lines:
                yield lines
    except aiohttp.ClientPayloadError:
        # aiohttp forgets what it had already received once it learns the connection
        # broke (a private read gets it back).
        left: bytes = getattr(reply.content, "_read_nowait", lambda n: b"")(-1)
        lines = (rest + left).split(b"\n")[:-1]
        if lines:
            yield lines
        raise
    if rest:
        yield [rest]


async def read_chunks(reply: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """Chunk dicts from ``reply``; the connection goes back to the pool however it ends."""
    data: list[bytes] = []
    try:
        async for lines in line_blocks(reply):
            for line in lines:
                chunk = _feed(line, data)
                if isinstance(chunk, dict):
                    yield chunk
                elif chunk:
                    return  # [DONE]
        chunk = _feed(b"", data)  # a last event not followed by a blank line
        if isinstance(chunk, dict):
            yield chunk
    finally:
        reply.release()


def _feed(line: bytes, data: list[bytes]) -> dict[str, Any] | bool:
    """Consume one line: a finished event's chunk, True for ``[DONE]``, else False."""
    line = line.rstrip(b"\r")
    if line:
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        return False  # comments (":"), "event:", "id:", "retry:" lines carry nothing we use
    if not data:
        return False
    payload = b"\n".join(data) if len(data) > 1 else data[0]
    data.clear()
    if payload.strip() == b"[DONE]":
        return True
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
    return chunk
