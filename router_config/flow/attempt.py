"""One attempt: send the call, wait for its first token, and (for a caller that did not
ask for a stream) read and assemble the rest.

Every call streams from the provider, so a deployment is judged by when it
starts answering, never by how long a healthy answer takes. A chunk that only
announces the role (some servers send it at once) is not a token. The first
token's arrival is reported to the attempt loop (``on_first_token``) the moment
it happens: that is what ends a hedged race. A deployment that cannot stream is
called whole, with a limit that grows with ``max_tokens``; so is an embedding
(no output tokens: its limit is the first-token limit, prefill of its input
included). Legacy completions stream like chat, in their own chunk shape.

Time limits are clock instants in ``Limits``; which one cut an attempt decides
what the cut means: the deployment's own first-token limit is a provider fault
(``timeout``), the failover deadline only moves on (``deadline``), and the
caller's own ``x-router-timeout-ms`` is the caller's (``caller_deadline``, 504).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from router_config.config.plugin_settings import FailoverSettings
from router_config.flow.chunk_waits import ChunkWaits, WaitTooLong
from router_config.flow.hooks import Attempt, Clock, RequestContext
from router_config.flow.phases import Phases
from router_config.flow.replay import replay_as_chunks
from router_config.logs import emit
from router_config.providers.assemble import assembler_for
from router_config.providers.classify import Failure, classify, stream_refused
from router_config.providers.direct_openai import MalformedResponse
from router_config.providers.pricing import cost_usd, counted_usage, usage_from
from router_config.providers.provider_call import ProviderCall
from router_config.providers.provider_calls import ProviderCalls

log = logging.getLogger("llm_router.attempt")
DEFAULT_MAX_TOKENS = 4096  # for a whole-answer limit when the caller set no max_tokens


@dataclass
class Served:
    """A successful attempt: a full body, or a stream whose first token has arrived."""

    attempt: Attempt
    body: dict[str, Any] | None = None
    chunks: AsyncIterator[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Limits:
    """Clock instants bounding one attempt (None: no such bound)."""

    first_token_at: float  # the deployment's own limit (prefill included)
    failover_at: float | None  # the failover deadline; None for the plan's last deployment
    caller_at: float | None  # the caller's own deadline (x-router-timeout-ms)


class _Cut(Exception):
    """A limit of ``Limits`` ran out; ``reason`` says which kind."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


CUT_FAILURES = {
    "timeout": Failure("timeout", True, None),
    "deadline": Failure("deadline", True, None),
    "caller_deadline": Failure("caller_deadline", False, 504),
}


class AttemptRunner:
    """Makes attempts with one gateway's provider calls and settings."""

    def __init__(
        self,
        calls: ProviderCalls,
        phases: Phases,
        settings: FailoverSettings,
        clock: Clock,
        redact: Callable[[str], str],
    ) -> None:
        self._calls = calls
        self._phases = phases
        self._s = settings
        self._clock = clock
        self._redact = redact

    async def run(
        self,
        ctx: RequestContext,
        attempt: Attempt,
        key_index: int,
        limits: Limits,
        on_first_token: Callable[[], None],
    ) -> tuple[Served | None, Failure | None]:
        """The attempt's outcome, with ``attempt`` filled in either way."""
        dep = attempt.deployment
        try:
            if self._calls.can_stream(dep, ctx.call) and not whole_only(ctx):
                try:
                    served = await self._streamed(ctx, attempt, key_index, limits, on_first_token)
                except Exception as exc:
                    if not stream_refused(exc):
                        raise
                    self._calls.refuses_streams(dep)
                    emit("stream_refused", logging.WARNING, deployment=dep.id)
                    served = await self._whole(ctx, attempt, key_index, limits, on_first_token)
            else:
                served = await self._whole(ctx, attempt, key_index, limits, on_first_token)
        except _Cut as cut:
            failure = CUT_FAILURES[cut.reason]
            self._fail(attempt, failure, _CUT_MESSAGES[cut.reason])
            return None, failure
        except Exception as exc:  # every provider error is classified, none escapes raw
            failure = classify(exc)
            self._fail(attempt, failure, self._redact(safe_message(exc))[:300])
            return None, failure
        return served, None

    def _call(
        self, ctx: RequestContext, attempt: Attempt, key_index: int, *, stream: bool
    ) -> ProviderCall:
        params = dict(ctx.params)
        if stream:
            params["stream_options"] = {
                **(params.get("stream_options") or {}),
                "include_usage": True,
            }
        else:
            params.pop("stream_options", None)
        read_s = max(self._s.total_timeout_s, self._s.first_token_ceiling_s)
        return ProviderCall(
            attempt.deployment,
            key_index,
            ctx.messages,
            params,
            read_s=read_s,  # our own timers below bound each phase; this is the backstop
            connect_s=self._s.connect_timeout_s,
            stream=stream,
            caller_streams=ctx.stream,
            call=ctx.call,
        )

    async def _streamed(
        self,
        ctx: RequestContext,
        attempt: Attempt,
        key_index: int,
        limits: Limits,
        on_first_token: Callable[[], None],
    ) -> Served:
        call = self._call(ctx, attempt, key_index, stream=True)
        buffered: list[dict[str, Any]] = []
        stream: AsyncIterator[dict[str, Any]] | None = None
        try:
            async with _until(self._clock, _first_token_cut(limits)):
                stream = await self._calls.stream(call)
                attempt.answering = False
                async for chunk in stream:
                    attempt.answering = True
                    buffered.append(chunk)
                    if is_token(chunk):
                        break
                else:
                    raise MalformedResponse("the provider's stream ended without an answer")
        except BaseException:
            if stream is not None:
                await _close(stream)
            raise
        assert stream is not None
        self._first_token(ctx, attempt, buffered[-1].get("model"), on_first_token)
        if ctx.stream:
            attempt.outcome = "streaming"
            return Served(attempt=attempt, chunks=Buffered(buffered, stream))
        return await self._assemble(ctx, attempt, buffered, stream, limits)

    async def _assemble(
        self,
        ctx: RequestContext,
        attempt: Attempt,
        buffered: list[dict[str, Any]],
        stream: AsyncIterator[dict[str, Any]],
        limits: Limits,
    ) -> Served:
        """Read the rest of a stream for a caller that wants one body."""
        assembler = assembler_for(ctx.call)
        for chunk in buffered:
            assembler.add(chunk)
        total_at = attempt.started + self._s.total_timeout_s
        waits = ChunkWaits(self._clock, self._s.idle_timeout_s, total_at, limits.caller_at)
        try:
            while (more := await waits.next(stream)) is not None:
                assembler.add(more)
        except WaitTooLong as late:
            raise _Cut(late.reason) from None
        finally:
            waits.close()
            await _close(stream)
        body = assembler.body()
        usage = usage_from(assembler.usage)
        if not usage.total_tokens:  # a provider that ignores stream_options
            usage = counted_usage(attempt.deployment, ctx.prompt_messages, assembler.text)
            body["usage"] = usage_dict(usage)
        self._succeed(attempt, body, body.get("model"), assembler.litellm_cost, usage)
        return Served(attempt=attempt, body=body)

    async def _whole(
        self,
        ctx: RequestContext,
        attempt: Attempt,
        key_index: int,
        limits: Limits,
        on_first_token: Callable[[], None],
    ) -> Served:
        """A deployment that cannot stream: its whole answer is its first token."""
        call = self._call(ctx, attempt, key_index, stream=False)
        tokens = 0 if ctx.call == "embedding" else ctx.max_output_tokens or DEFAULT_MAX_TOKENS
        own = limits.first_token_at + tokens * self._s.nonstream_s_per_token
        own = min(own, attempt.started + self._s.total_timeout_s)
        cut = _earliest((own, "timeout"), (limits.caller_at, "caller_deadline"))
        async with _until(self._clock, cut):
            done = await self._calls.complete(call)
        self._first_token(ctx, attempt, done.served_model, on_first_token)
        usage = usage_from(done.body.get("usage"))
        if ctx.call == "embedding" and not usage.total_tokens:  # budgets never see it free
            usage = counted_usage(attempt.deployment, ctx.prompt_messages, "")
        self._succeed(attempt, done.body, done.served_model, done.litellm_cost, usage)
        if not ctx.stream:
            return Served(attempt=attempt, body=done.body)
        attempt.outcome = "streaming"
        return Served(attempt=attempt, chunks=_as_chunks(done.body))

    def _first_token(
        self,
        ctx: RequestContext,
        attempt: Attempt,
        served: str | None,
        on_first_token: Callable[[], None],
    ) -> None:
        elapsed = self._clock() - attempt.started
        attempt.first_token_ms = elapsed * 1000
        attempt.latency_ms = elapsed * 1000
        attempt.served_model = served or attempt.served_model
        self._phases.record(attempt.deployment, elapsed, ctx.prompt_tokens_estimate)
        on_first_token()

    def _succeed(
        self,
        attempt: Attempt,
        body: dict[str, Any],
        served: str | None,
        litellm_cost: float | None,
        usage: Any,
    ) -> None:
        attempt.latency_ms = (self._clock() - attempt.started) * 1000
        attempt.outcome = "ok"
        attempt.served_model = served or body.get("model") or attempt.served_model
        if attempt.served_model:
            body["model"] = attempt.served_model
        attempt.usage = usage if usage is not None else usage_from(body.get("usage"))
        attempt.cost_usd = cost_usd(
            attempt.deployment, attempt.usage, litellm_cost, attempt.latency_ms / 1000
        )

    def _fail(self, attempt: Attempt, failure: Failure, message: str) -> None:
        attempt.latency_ms = (self._clock() - attempt.started) * 1000
        attempt.outcome = "error"
        attempt.reason = failure.reason
        attempt.status = failure.status
        attempt.retry_after_s = failure.retry_after_s
        attempt.message = message


_CUT_MESSAGES = {
    "timeout": "the provider did not answer in time",
    "deadline": "the failover deadline ran out before the provider answered",
    "caller_deadline": "the request's own deadline (x-router-timeout-ms) ran out",
}


def whole_only(ctx: RequestContext) -> bool:
    """LiteLLM's legacy-completion streams keep one choice and no log probabilities: a text
    completion that needs more (``n``, ``best_of``, several prompts, ``logprobs``, ``echo``)
    is called whole when its caller did not ask for a stream, so it loses nothing."""
    if ctx.call != "text_completion" or ctx.stream:
        return False
    p = ctx.params
    prompt = p.get("prompt")
    several = isinstance(prompt, list) and len(prompt) > 1 and not isinstance(prompt[0], int)
    return bool(
        several
        or (p.get("n") or 1) > 1
        or (p.get("best_of") or 1) > 1
        or p.get("logprobs") is not None
        or p.get("echo")
    )


def is_token(chunk: dict[str, Any]) -> bool:
    """A chunk that carries part of the answer, or the provider's usage (an empty answer
    still reports usage), not only the role or a bare finish: LiteLLM makes up a finish
    chunk for a stream that carried nothing it could parse. A legacy completion's chunk
    carries ``text`` instead of a ``delta``."""
    if chunk.get("usage"):
        return True
    for choice in chunk.get("choices") or ():
        if choice.get("text"):
            return True
        delta = choice.get("delta") or {}
        if any(value not in (None, "", [], {}) for key, value in delta.items() if key != "role"):
            return True
    return False


def usage_dict(usage: Any) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


class Buffered:
    """The chunks read before the first token, then the rest of the stream. Closing it closes
    the stream at once, even before iteration began: its connection goes back now."""

    def __init__(self, first: list[dict[str, Any]], rest: AsyncIterator[dict[str, Any]]) -> None:
        self._first = list(first)
        self._rest = rest

    def __aiter__(self) -> Buffered:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._first:
            return self._first.pop(0)
        return await anext(self._rest)

    async def aclose(self) -> None:
        self._first = []
        await _close(self._rest)


async def _as_chunks(body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    async for chunk in replay_as_chunks(body, True):
        yield chunk


async def _close(stream: AsyncIterator[dict[str, Any]]) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()


def _earliest(*bounds: tuple[float | None, str]) -> tuple[float, str]:
    return min(((at, why) for at, why in bounds if at is not None), key=lambda b: b[0])


def _first_token_cut(limits: Limits) -> tuple[float, str]:
    return _earliest(
        (limits.first_token_at, "timeout"),
        (limits.failover_at, "deadline"),
        (limits.caller_at, "caller_deadline"),
    )


class _until:
    """``asyncio.timeout`` until a clock instant, raising ``_Cut`` with the bound's kind.

    The instant is on the injected clock; the wait itself runs on the event loop's."""

    def __init__(self, clock: Clock, cut: tuple[float, str]) -> None:
        self._remaining = cut[0] - clock()
        self._reason = cut[1]
        self._timeout: Any = None

    async def __aenter__(self) -> None:
        if self._remaining <= 0:
            raise _Cut(self._reason)
        self._timeout = asyncio.timeout(self._remaining)
        await self._timeout.__aenter__()

    async def __aexit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        try:
            await self._timeout.__aexit__(kind, exc, tb)
        except TimeoutError:
            raise _Cut(self._reason) from None
        return False


def safe_message(exc: BaseException) -> str:
    """The provider's own reason, without LiteLLM's trailers (redact, then cut to 300 chars)."""
    if isinstance(exc, asyncio.TimeoutError | httpx.TimeoutException):
        return "the provider did not answer in time"
    if isinstance(exc, RecursionError) or "maximum recursion depth" in str(exc):
        return "the request is nested too deeply to be encoded for the provider"
    text = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    for trailer in ("\n\nLiteLLM:", "\nReceived Model Group", "\nmodel=", "\nTraceback"):
        text = text.split(trailer, 1)[0]
    return _provider_words(_LITELLM_PREFIXES.sub("", text).strip())


def _provider_words(text: str) -> str:
    """The openai SDK's "Error code: 400 - {'error': {'message': ...}}" (LiteLLM passes it on
    as is for embeddings) as the provider's own message, as a direct call reports it."""
    found = _SDK_STATUS.match(text)
    if found is None:
        return text
    try:
        body = ast.literal_eval(found.group(1))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) and message else text


_SDK_STATUS = re.compile(r"^Error code: \d{3} - (\{.*\})$", re.DOTALL)


# LiteLLM's wrapping of a provider's message: "ContextWindowExceededError: litellm.BadRequestError:
# OpenAIException - <the provider's words>". Direct calls carry the provider's words alone.
_LITELLM_PREFIXES = re.compile(r"^(?:(?:litellm\.)?[A-Za-z]+(?:Error|Exception)(?::| -) )+")
