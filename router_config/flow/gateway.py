"""The gateway service: plugins around the attempt loop, independent of HTTP.

The HTTP layer builds a ``RequestContext`` and asks ``Gateway.serve`` for a
``Reply``; everything between (admission, attempts, degradation, the end of a
stream) happens here, so the same flow serves tests, the drill and the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from router_config.config.schema import RouterConfig
from router_config.errors import AllProvidersFailed, RouterError
from router_config.flow.attempt import AttemptRunner, Served
from router_config.flow.chunk_waits import ChunkWaits, WaitTooLong
from router_config.flow.dispatch import Dispatcher, Sleep
from router_config.flow.hooks import Attempt, Clock, GatewayPlugin, RequestContext, Usage
from router_config.flow.phases import Phases
from router_config.flow.planner import Planner
from router_config.flow.replay import replay_as_chunks
from router_config.metrics import Metrics
from router_config.providers.assemble import Assembler, assembler_for
from router_config.providers.assemble_text import TextAssembler
from router_config.providers.build import RouterHandle
from router_config.providers.key_ring import KeyRing
from router_config.providers.pricing import cost_usd, counted_usage, usage_from
from router_config.providers.provider_calls import ProviderCalls
from router_config.redact import Redactor, config_secrets
from router_config.state.alerts import Alerter
from router_config.state.response_store import ResponseStore
from router_config.state.shared_redis import SharedRedis
from router_config.state.spend_ledger import SpendLedger

log = logging.getLogger("llm_router.gateway")


_STALLED = "the provider stopped sending before the answer was complete"


class StreamStalled(Exception):
    """No chunk within the idle limit (or the total limit ran out) after the first token."""


def _stream_failure(exc: Exception) -> str:
    return "stalled" if isinstance(exc, StreamStalled) else "broken_stream"


class StreamBroken(RouterError):
    """The provider failed after the first chunk was sent: the stream ends with an error event."""

    status_code = 502
    error_type = "api_error"
    code = "stream_interrupted"


@dataclass
class Reply:
    """What the HTTP layer sends: a JSON body, or an async stream of chunk dicts."""

    body: Mapping[str, Any] | None = None
    chunks: AsyncIterator[dict[str, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Gateway:
    """Serves chat requests through its provider calls with the configured plugins."""

    def __init__(
        self,
        config: RouterConfig,
        handle: RouterHandle,
        calls: ProviderCalls,
        plugins: Sequence[GatewayPlugin],
        *,
        clock: Clock,
        metrics: Metrics,
        alerter: Alerter,
        redis: SharedRedis | None,
        ledger: SpendLedger,
        keys: KeyRing,
        phases: Phases,
        sleep: Sleep,
        jitter: Callable[[], float],
    ) -> None:
        self.config = config
        self.handle = handle
        self.calls = calls
        self.plugins = tuple(plugins)
        self.clock = clock
        self.metrics = metrics
        self.alerter = alerter
        self.redis = redis
        self.ledger = ledger
        self.keys = keys
        self.phases = phases
        self.planner = Planner(config)
        self.redact = Redactor(config_secrets(config))
        stored = config.plugins.responses  # the Responses API's stored turns
        self.responses = ResponseStore(
            redis, stored.store_ttl_s, stored.max_entries, enabled=stored.store
        )
        failover = config.plugins.failover
        runner = AttemptRunner(calls, phases, failover, clock, self.redact)
        self.dispatcher = Dispatcher(
            runner,
            self.planner,
            self.plugins,
            failover,
            clock,
            keys,
            phases,
            sleep=sleep,
            jitter=jitter,
        )

    async def start(self) -> None:
        await self.calls.warm_up(self.config.deployments)
        await self.phases.stats.start(d.id for d in self.config.deployments)
        for plugin in self.plugins:
            await plugin.start()

    async def close(self) -> None:
        await self.dispatcher.aclose()
        for plugin in reversed(self.plugins):
            try:
                await plugin.close()
            except Exception:  # shutdown goes on whatever one plugin does
                log.exception("plugin %s failed to close", plugin.name)
        await self.phases.stats.close()
        await self.alerter.close()
        if self.redis is not None:
            await self.redis.close()
        await self.calls.aclose()
        await self.handle.aclose()

    async def serve(self, ctx: RequestContext) -> Reply:
        """Answer ``ctx``; raises a ``RouterError`` when it cannot."""
        for plugin in self.plugins:
            ready = await plugin.on_request(ctx)
            if ready is not None:
                ctx.outcome = "cached"
                return self._ready(ctx, ready)
        try:
            served = await self.dispatcher.run(ctx)
        except AllProvidersFailed as exc:
            for plugin in self.plugins:
                alternative = await plugin.on_failure(ctx, exc)
                if alternative is not None:
                    ctx.outcome = "abstained" if "abstained" in ctx.tags else "degraded"
                    return self._ready(ctx, alternative)
            raise
        headers = {**_served_headers(ctx, served), **ctx.response_headers}
        if served.body is not None:
            ctx.outcome = "ok"
            for plugin in self.plugins:
                await plugin.on_success(ctx, served.body)
            headers["x-router-cost-usd"] = f"{ctx.cost_usd:.9f}"  # every attempt so far
            return Reply(body=served.body, headers=headers)
        return Reply(chunks=self._stream(ctx, served), headers=headers)

    def _ready(self, ctx: RequestContext, body: Mapping[str, Any]) -> Reply:
        """A body that did not come from a provider now (cache, abstention); streamed if asked."""
        headers = {"x-router-attempts": str(len(ctx.attempts)), **ctx.response_headers}
        if not ctx.stream:
            return Reply(body=body, headers=headers)
        return Reply(chunks=replay_as_chunks(body, ctx.wants_usage), headers=headers)

    async def settle(self, ctx: RequestContext) -> None:
        """The ``on_request_end`` hooks that settle state the next request reads."""
        await self._request_end(ctx, records=False)

    async def record(self, ctx: RequestContext) -> None:
        """The ``on_request_end`` hooks that only record (logs, traces, metrics)."""
        await self._request_end(ctx, records=True)

    async def _request_end(self, ctx: RequestContext, *, records: bool) -> None:
        """Run those hooks in plugin order; a failing hook is logged, never raised."""
        for plugin in self.plugins:
            if plugin.records is not records:
                continue
            try:
                await plugin.on_request_end(ctx)
            except Exception:  # logging must never break a served request
                log.exception("plugin %s failed in on_request_end", plugin.name)

    async def _stream(self, ctx: RequestContext, served: Served) -> AsyncIterator[dict[str, Any]]:
        """Relay chunks, keep usage, and settle the attempt however the stream ends: done,
        broken by the provider, stalled, or left by the client (then the provider's stream is
        closed at once and what was generated until then is counted and paid for)."""
        assert served.chunks is not None
        chunks, attempt = served.chunks, served.attempt
        assembler = assembler_for(ctx.call)
        usage_sent = False  # the caller has had a usage figure (on a chunk with choices)
        usage_chunk: dict[str, Any] | None = None  # the provider's own, sent once at the end
        s = self.config.plugins.failover
        waits = ChunkWaits(
            self.clock, s.idle_timeout_s, attempt.started + s.total_timeout_s, ctx.caller_deadline
        )
        try:
            while True:
                try:
                    chunk = await waits.next(chunks)
                except WaitTooLong:
                    raise StreamStalled(_STALLED) from None
                if chunk is None:
                    break
                assembler.add(chunk)
                if chunk.get("usage"):
                    attempt.usage = usage_from(chunk["usage"])
                if attempt.served_model:
                    chunk["model"] = attempt.served_model
                if chunk.get("choices"):
                    usage_sent = usage_sent or bool(attempt.usage.total_tokens and "usage" in chunk)
                    yield chunk
                elif "usage" in chunk:
                    usage_chunk = chunk  # sent once, at the end
                elif ctx.wants_usage:
                    yield chunk
        except (GeneratorExit, asyncio.CancelledError):
            await self._abandoned(ctx, attempt, chunks, assembler)
            raise
        except Exception as exc:  # anything after the first chunk: end with an error event
            attempt.outcome, attempt.reason = "error", _stream_failure(exc)
            attempt.message = self.redact(str(exc) or _STALLED)[:300]
            ctx.outcome, ctx.status = "broken_stream", 502
            await self._close_and_settle(ctx, attempt, chunks, assembler)
            raise StreamBroken(
                "The provider failed after the stream started; the answer is incomplete."
            ) from None
        finally:
            waits.close()
        attempt.outcome = "ok"
        if not attempt.usage.total_tokens:  # a provider that ignores stream_options
            attempt.usage = counted_usage(attempt.deployment, ctx.prompt_messages, assembler.text)
            usage_chunk = None  # its zeros, if it sent any, are replaced by the count
        if ctx.wants_usage and not usage_sent:  # one usage chunk, last, as OpenAI sends it
            yield usage_chunk or {
                "id": assembler.body().get("id"),
                "object": assembler.chunk_object,
                "created": assembler.body().get("created"),
                "model": attempt.served_model,
                "choices": [],
                "usage": _usage_dict(attempt.usage),
            }
        duration_s = self.clock() - attempt.started  # per-second prices: the whole stream
        attempt.cost_usd = cost_usd(
            attempt.deployment, attempt.usage, assembler.litellm_cost, duration_s
        )
        ctx.outcome = "ok"
        await self._settled(ctx, attempt)
        body = assembler.body()
        body["usage"] = _usage_dict(attempt.usage)
        for plugin in self.plugins:
            await plugin.on_success(ctx, body)

    async def _abandoned(
        self,
        ctx: RequestContext,
        attempt: Attempt,
        chunks: AsyncIterator[dict[str, Any]],
        assembler: Assembler | TextAssembler,
    ) -> None:
        """The client left: close the provider's stream, count what it generated, settle."""
        attempt.outcome, attempt.reason = "client_closed", "client_closed"
        ctx.outcome, ctx.status = "client_closed", 499
        ctx.tags.add("client_closed")
        await self._close_and_settle(ctx, attempt, chunks, assembler)

    async def _close_and_settle(
        self,
        ctx: RequestContext,
        attempt: Attempt,
        chunks: AsyncIterator[dict[str, Any]],
        assembler: Assembler | TextAssembler,
    ) -> None:
        with anyio.CancelScope(shield=True):  # a leaving client must not cut the bookkeeping
            closer = getattr(chunks, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
            if not attempt.usage.total_tokens:  # the provider's usage, else what was received
                attempt.usage = counted_usage(
                    attempt.deployment, ctx.prompt_messages, assembler.text
                )
            duration_s = self.clock() - attempt.started
            attempt.cost_usd = cost_usd(
                attempt.deployment, attempt.usage, assembler.litellm_cost, duration_s
            )
            await self._settled(ctx, attempt)

    async def _settled(self, ctx: RequestContext, attempt: Attempt) -> None:
        """A stream's attempt is over: plugins see it again with its final outcome."""
        attempt.latency_ms = (self.clock() - attempt.started) * 1000
        for plugin in self.plugins:
            try:
                await plugin.after_attempt(ctx, attempt)
            except Exception:  # the answer is already sent: nothing may be rejected now
                log.exception("plugin %s failed after a stream", plugin.name)

    async def health(self) -> dict[str, dict[str, Any]]:
        """Per-deployment state from every plugin, for ``GET /health/providers``."""
        out: dict[str, dict[str, Any]] = {
            d.id: {
                "group": d.group,
                "provider": d.provider,
                "model": d.pinned_model,
                "api_host": d.api_host,
            }
            for d in self.config.deployments
        }
        reports = [await self.keys.health()] + [await p.health() for p in self.plugins]
        for report in reports:
            for dep_id, fields in report.items():
                out.setdefault(dep_id, {}).update(fields)
        return out


def _usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def _served_headers(ctx: RequestContext, served: Served) -> dict[str, str]:
    attempt = served.attempt
    return {
        "x-router-provider": attempt.deployment.provider,
        "x-router-deployment": attempt.deployment.id,
        "x-router-model": attempt.served_model or attempt.deployment.pinned_model,
        "x-router-attempts": str(len(ctx.attempts)),
    }
