"""What one provider call is: the deployment and key, what to send, how long to wait.

One value passed from the attempt loop through ``ProviderCalls`` to whichever
transport sends it, so the two transports take the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router_config.config.schema import Deployment


@dataclass(frozen=True)
class ProviderCall:
    """One call; ``read_s`` bounds each read (each chunk of a stream), ``connect_s`` the
    TCP/TLS handshake. The attempt loop bounds the whole call with its own deadline.
    ``call`` is the request's type: ``chat`` (``messages``), ``text_completion`` or
    ``embedding`` (their prompt or input is in ``params``, ``messages`` is empty)."""

    deployment: Deployment
    key_index: int  # into deployment.api_keys (0 when it has one key or none)
    messages: list[dict[str, Any]]
    params: Mapping[str, Any]
    read_s: float
    connect_s: float
    stream: bool = False
    # The caller asked for a stream (``stream`` is how we call the provider: a caller that
    # wants one body is served from a stream too). A deployment's ``stream_timeout`` is
    # LiteLLM's limit for streaming requests, so it applies only when the caller streams.
    caller_streams: bool = False
    call: str = "chat"
