"""A request body read and parsed as JSON within structural limits, before any validation.

Everything here costs O(size) and answers 400/413, never 500, whatever arrives:

* bytes are counted as they arrive: past ``max_body_bytes`` the request is refused (413)
  without waiting for the rest; a declared Content-Length over the limit is refused
  before reading at all;
* orjson parses in C and refuses invalid UTF-8, lone surrogates, NaN/Infinity and
  nesting past 1024 levels;
* one iterative walk then holds every array and object to ``max_items``, every object key
  to ``max_key_chars`` and nesting to ``max_depth``. Deeper bodies would break later, in
  places that must not fail on a caller's input: ``orjson.dumps`` (cache keys) stops at
  255 levels, LiteLLM copies and transforms requests recursively, and Python's own
  recursion limit is 1000.

A client that leaves while its body is being read raises ``ClientClosed`` (logged once by
the caller), not Starlette's ``ClientDisconnect`` with a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from router_config.config.plugin_settings import ServerSettings
from router_config.errors import ClientClosed, InvalidRequest, PayloadTooLarge


@dataclass(frozen=True)
class BodyLimits:
    """The structural limits of one body (``router_plugins.server``)."""

    max_bytes: int = 1_000_000
    max_depth: int = 64
    max_items: int = 10_000
    max_key_chars: int = 256

    @classmethod
    def of(cls, settings: ServerSettings) -> BodyLimits:
        return cls(
            max_bytes=settings.max_body_bytes,
            max_depth=settings.max_depth,
            max_items=settings.max_items,
            max_key_chars=settings.max_key_chars,
        )


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, or ``PayloadTooLarge`` as soon as it is known to be over the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The request body is over the {max_bytes}-byte limit.")
    body = bytearray()
    try:
        async for part in request.stream():
            body += part
            if len(body) > max_bytes:
                raise PayloadTooLarge(f"The request body is over the {max_bytes}-byte limit.")
    except ClientDisconnect:
        raise ClientClosed("The client closed the connection before sending its body.") from None
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """The decoded body; 400 for anything orjson refuses (it says why, never with our data)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = str(exc).split(":", 1)[0]
        raise InvalidRequest(f"The request body is not valid JSON ({reason}).") from None


def check_structure(body: dict[str, Any], limits: BodyLimits) -> None:
    """Hold a decoded object body to the limits; errors name the top-level parameter."""
    _check_container(body, limits, None, 1)
    for name, value in body.items():
        if type(value) is dict or type(value) is list:
            _check_container(value, limits, name, 2)


def _check_container(root: Any, limits: BodyLimits, param: str | None, depth: int) -> None:
    """Iterative (a recursive walk would itself be the stack overflow it guards against)."""
    max_depth, max_items, max_key = limits.max_depth, limits.max_items, limits.max_key_chars
    top_only = param is None  # the body itself: its values are walked one parameter each
    stack: list[tuple[Any, int]] = [(root, depth)]
    while stack:
        node, level = stack.pop()
        if level > max_depth:
            raise InvalidRequest(
                f"'{param}' is nested too deeply (more than {max_depth} levels).", param=param
            )
        if len(node) > max_items:
            raise InvalidRequest(
                f"'{param or 'body'}' has more than {max_items} items.", param=param
            )
        if type(node) is dict:
            for key, value in node.items():
                if len(key) > max_key:
                    raise InvalidRequest(
                        f"A key in '{param or 'body'}' is longer than {max_key} characters.",
                        param=param,
                    )
                if not top_only and (type(value) is dict or type(value) is list):
                    stack.append((value, level + 1))
        elif not top_only:
            for value in node:
                if type(value) is dict or type(value) is list:
                    stack.append((value, level + 1))
