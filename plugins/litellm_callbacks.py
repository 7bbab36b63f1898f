"""``LiteLLMCallbacks``: LiteLLM CustomLoggers of ``litellm_settings``, fired as LiteLLM fires them.

LiteLLM fires its loggers from inside its own call path, which our direct calls
bypass, and its proxy-only hooks (``async_pre_call_hook``...) never fire with
``Router.acompletion``. So the callbacks are not registered with LiteLLM at all;
this plugin fires them for every attempt on both paths, building each event
with LiteLLM's own ``Logging`` object, so ``kwargs`` has LiteLLM's shape:
``standard_logging_object``, ``response_cost`` (ours, the figure the ledger
counts), ``litellm_params.metadata`` with the request's metadata and tags.

- ``async_pre_call_hook`` runs before anything else: it may return a modified
  request, a string (the answer, as LiteLLM's proxy returns it), or raise an
  error with a status code (``fastapi.HTTPException``...) to refuse the request.
- success events (sync and async) fire once per answering attempt, at the end
  of a stream with the assembled answer; failure events for each failed attempt.
- ``async_moderation_hook`` runs before the call (LiteLLM runs it beside it): any
  error it raises refuses the request; ``log_pre_api_call`` runs before each attempt.
- ``async_post_call_success_hook`` / ``async_post_call_failure_hook`` are called.
A callback's own error (a bug in it) is logged as ``callback_error`` and never
fails or slows a request: logging events run in the background.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from plugins import litellm_events as events
from router_config.errors import RouterError
from router_config.flow.hooks import Attempt, Clock, GatewayPlugin, RequestContext
from router_config.logs import emit

if TYPE_CHECKING:
    from router_config.config.schema import Deployment


class CallbackRejected(RouterError):
    """An ``async_pre_call_hook`` refused the request (its status and message)."""

    error_type = "invalid_request_error"
    code = "rejected_by_callback"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status_code = status


class LiteLLMCallbacks(GatewayPlugin):
    """Fires LiteLLM CustomLoggers for every attempt, on both call paths."""

    name = "litellm_callbacks"

    def __init__(
        self,
        success: Sequence[Any],
        failure: Sequence[Any],
        hooks: Sequence[Any],
        clock: Clock,
        resolve: Callable[[str], str | None] = lambda name: name,
    ) -> None:
        self._resolve = resolve  # a model name a hook sets -> the group serving it, or None
        self._success = list(success)
        self._failure = list(failure)
        self._hooks = list(hooks)  # CustomLoggers from `callbacks`: the proxy hooks
        self._clock = clock
        self._pending: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        if self._pending:
            await asyncio.wait(self._pending, timeout=2)

    async def on_request(self, ctx: RequestContext) -> Mapping[str, Any] | None:
        for hook in self._hooks:
            if not _overrides(hook, "async_pre_call_hook"):
                continue
            try:
                result = await hook.async_pre_call_hook(
                    user_api_key_dict=events.caller(ctx),
                    cache=events.cache(),
                    data=events.data(ctx),
                    call_type="completion",
                )
            except Exception as exc:  # a refusal when it carries a status, else the hook's bug
                _raise_if_refusal(exc)
                _log_error(hook, "async_pre_call_hook", exc)
                continue
            if isinstance(result, Exception):
                _raise_if_refusal(result)
                raise CallbackRejected(str(result), 400)
            if isinstance(result, str):  # LiteLLM's proxy answers with the string
                ctx.tags.add("callback:rejected")
                return events.answer(ctx, result)
            if isinstance(result, dict):
                events.apply(ctx, result)
                self._reroute(ctx, result.get("model"))
        await self._moderate(ctx)
        return None

    def _reroute(self, ctx: RequestContext, model: Any) -> None:
        """A hook that set ``data["model"]`` sends the request to that model's group."""
        if not isinstance(model, str) or model == ctx.group:
            return
        group = self._resolve(model)
        if group is None:
            raise CallbackRejected(f"The model '{model}' set by a callback does not exist.", 400)
        ctx.group = group

    async def _moderate(self, ctx: RequestContext) -> None:
        """``async_moderation_hook``: LiteLLM runs it beside the call; here before it, so a
        refusal costs no provider call. Any error it raises refuses the request."""
        for hook in self._hooks:
            if not _overrides(hook, "async_moderation_hook"):
                continue
            try:
                await hook.async_moderation_hook(
                    data=events.data(ctx),
                    user_api_key_dict=events.caller(ctx),
                    call_type="completion",
                )
            except Exception as exc:  # the hook's way to refuse
                _raise_if_refusal(exc)
                raise CallbackRejected(str(exc) or type(exc).__name__, 400) from None

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        """``log_pre_api_call`` / ``async_log_pre_api_call``, as LiteLLM calls them."""
        for callback in self._success:
            try:
                if _overrides(callback, "async_log_pre_api_call"):
                    await callback.async_log_pre_api_call(deployment.model, ctx.messages, {})
                if _overrides(callback, "log_pre_api_call"):
                    callback.log_pre_api_call(deployment.model, ctx.messages, {})
            except Exception as exc:  # a logger's bug never reaches the request
                _log_error(callback, "log_pre_api_call", exc)

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        if attempt.outcome in ("error", "rejected") and self._failure:
            self._spawn(self._log_failure(ctx, attempt))

    async def on_success(self, ctx: RequestContext, body: Mapping[str, Any]) -> None:
        attempt = ctx.final
        if attempt is not None and self._success:
            self._spawn(self._log_success(ctx, attempt, dict(body)))
        for hook in self._hooks:
            if _overrides(hook, "async_post_call_success_hook"):
                try:
                    await hook.async_post_call_success_hook(
                        data=events.data(ctx),
                        user_api_key_dict=events.caller(ctx),
                        response=events.response(body, attempt, ctx.call),
                    )
                except Exception as exc:  # observe only: the answer is already decided
                    _log_error(hook, "async_post_call_success_hook", exc)

    async def on_failure(self, ctx: RequestContext, error: Exception) -> Mapping[str, Any] | None:
        for hook in self._hooks:
            if _overrides(hook, "async_post_call_failure_hook"):
                try:
                    await hook.async_post_call_failure_hook(
                        request_data=events.data(ctx),
                        original_exception=error,
                        user_api_key_dict=events.caller(ctx),
                    )
                except Exception as exc:  # observe only
                    _log_error(hook, "async_post_call_failure_hook", exc)
        return None

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _log_success(
        self, ctx: RequestContext, attempt: Attempt, body: dict[str, Any]
    ) -> None:
        start, end = self._times(attempt)
        logging_obj = events.logging_obj(ctx, attempt, start, self._success, success=True)
        response = events.response(body, attempt, ctx.call)
        if ctx.stream:
            logging_obj.model_call_details["complete_streaming_response"] = response
        try:
            await logging_obj.async_success_handler(result=response, start_time=start, end_time=end)
        except Exception as exc:  # LiteLLM's handler guards each callback; this is a last net
            _log_error(None, "async_success_handler", exc)
        await self._sync(self._success, "log_success_event", logging_obj, response, start, end)

    async def _log_failure(self, ctx: RequestContext, attempt: Attempt) -> None:
        start, end = self._times(attempt)
        logging_obj = events.logging_obj(ctx, attempt, start, self._failure, success=False)
        exc = events.exception(attempt)
        try:
            await logging_obj.async_failure_handler(exc, None, start, end)
        except Exception as error:  # last net, as above
            _log_error(None, "async_failure_handler", error)
        await self._sync(self._failure, "log_failure_event", logging_obj, None, start, end)

    @staticmethod
    async def _sync(
        callbacks: Sequence[Any], name: str, logging_obj: Any, response: Any, start: Any, end: Any
    ) -> None:
        """The sync hooks, in a thread (LiteLLM runs them in its executor), same kwargs."""
        for callback in callbacks:
            if not _overrides(callback, name):
                continue
            try:
                await asyncio.to_thread(
                    getattr(callback, name), logging_obj.model_call_details, response, start, end
                )
            except Exception as exc:  # a callback's bug never reaches the request
                _log_error(callback, name, exc)

    def _times(self, attempt: Attempt) -> tuple[dt.datetime, dt.datetime]:
        end = dt.datetime.now()
        elapsed = max(self._clock() - attempt.started, attempt.latency_ms / 1000)
        return end - dt.timedelta(seconds=elapsed), end


def _overrides(callback: Any, name: str) -> bool:
    from litellm.integrations.custom_logger import CustomLogger

    method = getattr(type(callback), name, None)
    return method is not None and method is not getattr(CustomLogger, name, None)


def _raise_if_refusal(exc: BaseException) -> None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 600:
        detail = getattr(exc, "detail", None) or getattr(exc, "message", None) or str(exc)
        if isinstance(detail, dict):
            detail = detail.get("error") or detail.get("message") or str(detail)
        raise CallbackRejected(str(detail), status) from None


def _log_error(callback: Any, hook: str, exc: BaseException) -> None:
    emit(
        "callback_error",
        logging.ERROR,
        callback=type(callback).__name__ if callback is not None else "litellm",
        hook=hook,
        error_class=type(exc).__name__,
        message=str(exc)[:300],
    )
