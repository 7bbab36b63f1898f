"""Whether a call's request left this process: the line between the caller's errors and the
provider's.

An error raised before the request is handed to the network (LiteLLM or an SDK
refusing the request, a body nested too deep to encode) says nothing about the
provider: it must never count against its breaker or trigger a failover. Each
call runs with a fresh marker in a context variable; the direct path sets it
right before sending, LiteLLM's Router through ``SentMarker``, which LiteLLM
calls from ``log_pre_api_call`` just before it hands the request to the
provider's SDK (also from its worker threads, which run in a copy of the context
and share the marker object).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

_SENT: ContextVar[list[bool] | None] = ContextVar("llm_router_sent", default=None)


def new_marker() -> list[bool]:
    """A fresh marker for the call about to be made in this task."""
    holder = [False]
    _SENT.set(holder)
    return holder


def mark_sent() -> None:
    holder = _SENT.get()
    if holder is not None:
        holder[0] = True


class SentMarker(CustomLogger):  # type: ignore[misc]
    """Registered with LiteLLM by ``build_router``."""

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        mark_sent()
