"""Server-sent events exactly as OpenAI streams them.

``data: {chunk}\n\n`` per chunk and ``data: [DONE]\n\n`` at the end. A failure
after the first chunk cannot change the status code any more, so it is sent as
an event ``data: {"error": {...}}\n\n`` and the stream ends without ``[DONE]``:
the ``openai`` SDK raises ``APIError`` on such an event, so the caller sees the
failure instead of a silently truncated answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from router_config.api.http_errors import error_body
from router_config.errors import RouterError

DONE = b"data: [DONE]\n\n"


async def sse_events(
    chunks: AsyncIterator[dict[str, Any]], on_end: Callable[[], Awaitable[None]]
) -> AsyncIterator[bytes]:
    """Encode ``chunks`` as SSE; ``on_end`` runs once however the stream ends."""
    try:
        async for chunk in chunks:
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        yield DONE
    except RouterError as exc:
        yield b"data: " + error_body(exc.message, exc.error_type, exc.code, None) + b"\n\n"
    finally:
        closer = getattr(chunks, "aclose", None)
        try:
            if closer is not None:
                await closer()  # an abandoned stream gives its provider connection back now
        finally:
            await on_end()
