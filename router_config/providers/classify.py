"""Which provider errors fail over, which go back to the caller: one table.

| error                                   | reason            | fail over | note                   |
|-----------------------------------------|-------------------|-----------|------------------------|
| raised before the request was sent,     | invalid_request   | no        | 400: the caller's, not |
|   or a body too deep to encode          |                   |           |   the provider's fault |
| context window exceeded (400)           | context_window    | yes       | to context fallbacks   |
| content policy violation (400)          | content_policy    | yes       | to policy fallbacks    |
| other 400 / 422 (caller's fault)        | bad_request       | no        | 400 to the caller      |
| 401 / 403                               | auth              | yes       | the key is marked bad  |
| 401 / 403, deployment has more keys     | key_refused       | next key  | key quarantined        |
| 404 from the provider                   | not_found         | yes       | model gone at provider |
| 429                                     | rate_limited      | yes       | Retry-After kept       |
| timeout (connect, first token, total)   | timeout           | yes       | and a provider's 408   |
| connection refused / reset              | connection        | yes       |                        |
| 5xx                                     | server_error      | yes       |                        |
| malformed response, anything else       | malformed         | yes       |                        |
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import aiohttp
import httpx
import litellm
from litellm.litellm_core_utils.exception_mapping_utils import ExceptionCheckers

from router_config.providers.direct_openai import ProviderHTTPError


@dataclass(frozen=True)
class Failure:
    """How one failed attempt is handled."""

    reason: str
    fail_over: bool
    status: int | None
    retry_after_s: float | None = None
    key_bad: bool = False


def classify(exc: BaseException) -> Failure:
    """Map an exception from a provider call to its row in the table above."""
    status = _status(exc)
    if _callers_fault(exc, status):
        return Failure("invalid_request", False, 400)
    # A direct call's error body is read with LiteLLM's own checks, so both paths agree.
    text = exc.body_text if isinstance(exc, ProviderHTTPError) and status == 400 else ""
    if (
        isinstance(exc, litellm.ContextWindowExceededError)
        or _code(exc) == "context_length_exceeded"
        or (text and ExceptionCheckers.is_error_str_context_window_exceeded(text))
    ):
        return Failure("context_window", True, status)
    if isinstance(exc, litellm.ContentPolicyViolationError) or (
        text and ExceptionCheckers.is_azure_content_policy_violation_error(text)
    ):
        return Failure("content_policy", True, status)
    timed_out = isinstance(exc, asyncio.TimeoutError | litellm.Timeout | httpx.TimeoutException)
    if timed_out or status == 408:
        return Failure("timeout", True, status)
    if isinstance(exc, litellm.RateLimitError) or status == 429:
        return Failure("rate_limited", True, 429, retry_after_s=_retry_after(exc))
    if status in (401, 403):
        return Failure("auth", True, status, key_bad=True)
    if status in (400, 422):
        return Failure("bad_request", False, status)
    if status == 404:
        return Failure("not_found", True, status)
    if _transport_failed(exc) or (
        isinstance(exc, litellm.APIConnectionError) and status in (None, 500)
    ):
        return Failure("connection", True, status)
    if _in_chain(exc, json.JSONDecodeError) and status in (None, 500):
        # An answer that is not JSON: LiteLLM reports it as its own 500 (seen for whole calls
        # and embeddings), the direct path as MalformedResponse; both are this row.
        return Failure("malformed", True, status)
    if status is not None and status >= 500:
        return Failure("server_error", True, status)
    return Failure("malformed", True, status)


def stream_refused(exc: BaseException) -> bool:
    """A provider's 400 saying this model cannot stream (OpenAI: ``param: stream``)."""
    if _status(exc) != 400:
        return False
    if getattr(exc, "param", None) == "stream" or _code(exc) == "unsupported_value":
        return "stream" in str(exc).lower()
    text = str(getattr(exc, "message", None) or exc).lower()
    return "'stream'" in text and ("not support" in text or "unsupported" in text)


def _callers_fault(exc: BaseException, status: int | None) -> bool:
    """Raised before anything left this process (not a connection or time-out failure), or
    a body nested too deep to encode: no provider saw it, so no provider is to blame."""
    if _in_chain(exc, RecursionError) or "maximum recursion depth" in str(exc):
        return True
    text = str(exc).lower()
    if any(word in text for word in ("credential", "api_key", "api key")):
        return False  # a deployment without a usable key: the config's problem
    timed_out = isinstance(exc, asyncio.TimeoutError | litellm.Timeout | httpx.TimeoutException)
    sent = getattr(exc, "llm_router_sent", True)
    # LiteLLM gives its own statuses to errors it raised itself; a missing or refused key
    # (401/403) is the config's problem, and the deployment's, never the caller's.
    own = status not in (401, 403, 404, 429)
    return not sent and own and not timed_out and not _transport_failed(exc)


def _in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# Connection failures: httpx's (under LiteLLM), aiohttp's (direct calls; their timeouts are
# asyncio.TimeoutError, classified as timeouts above).
_TRANSPORT_ERRORS = (
    httpx.TransportError,
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    aiohttp.ClientResponseError,  # an answer that is not valid HTTP
)


def _transport_failed(exc: BaseException) -> bool:
    """A connection that failed, raised directly or under LiteLLM's wrapping: LiteLLM reports
    a refused connection as its own 500, caused by the openai SDK's error, caused by httpx's."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, _TRANSPORT_ERRORS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _code(exc: BaseException) -> str | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else None


def _retry_after(exc: BaseException) -> float | None:
    headers = exc.headers if isinstance(exc, ProviderHTTPError) else None
    headers = headers or getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
