"""One response of the fake provider: an ``Answer`` sent in OpenAI's or Anthropic's format
(chat, legacy completions, the Responses API, embeddings: ``_fake_formats``), whole or
streamed, with the timing and faults of its mode."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from router_config.testing import _fake_bodies as bodies
from router_config.testing import _fake_formats as formats
from router_config.testing._fake_answer import Choice, answer_for
from router_config.testing._fake_modes import Mode

Send = Any
Receive = Any
JSON = [(b"content-type", b"application/json")]
SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
ERRORS = ("500", "503", "529", "401", "403", "400", "429", "context")
NO_STREAM = (
    "Unsupported value: 'stream' does not support true with this model. "
    "Only the default (false) value is supported."
)


class Aborted(Exception):
    """Raised to make uvicorn drop the connection mid-response (mode ``break``)."""


class Reply:
    """Renders and sends one answer in the mode chosen for the request."""

    def __init__(
        self, req: dict[str, Any], served: str, headers: dict[str, str], mode: Mode, kind: str
    ) -> None:
        """``kind``: chat, anthropic, completions, responses or embeddings."""
        self.req, self.served, self.mode, self.kind = req, served, mode, kind
        self.anthropic = kind == "anthropic"
        messages = formats.messages_of(kind, req)
        prompt = bodies.prompt_tokens(messages, req.get("system"))
        self.timing = mode.timing(prompt)
        asked = {**req, "messages": messages}
        if kind == "responses":  # its length limit has its own name
            asked["max_tokens"] = req.get("max_output_tokens")
        self.answer = answer_for(asked, headers, self.timing.tokens, anthropic=self.anthropic)
        self.stream = bool(req.get("stream"))
        self.created = int(time.time())

    async def send(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        name = self.mode.name
        if name == "split":
            send = _in_pieces(send, max(1, int(self.mode.number(7))))
        if name == "hang":
            return await _hang(receive)
        if name in ERRORS:
            return await self._error(send)
        if name == "nostream" and self.stream:
            error = bodies.openai_error(400, NO_STREAM, "unsupported_value")
            error["error"]["param"] = "stream"
            return await raw(send, 400, JSON, orjson.dumps(error))
        if name == "garbage":
            return await raw(send, 200, JSON, b'{"id": "chatcmpl-x", "choices": [ this is not json')
        if self.kind == "embeddings":
            await self._sleep(self.timing.first_token_s)
            body = formats.embedding_body(self.req, self.served)
            return await raw(send, 200, JSON, orjson.dumps(body))
        if self.stream and self.kind in ("completions", "responses"):
            return await self._send_streamed(receive, send, self._formatted_stream())
        if self.stream:
            await (self._anthropic_stream if self.anthropic else self._openai_stream)(receive, send)
            return None
        if name == "break":
            head = [*JSON, (b"content-length", b"400")]
            await send({"type": "http.response.start", "status": 200, "headers": head})
            partial = {"type": "http.response.body", "body": b'{"id": "chatcmpl-x", "ch'}
            await send({**partial, "more_body": True})
            raise Aborted
        t = self.timing
        if t.hang_after is not None:
            return await _hang(receive)
        longest = max((len(c.tokens) for c in self.answer.choices), default=0)
        await self._sleep(t.first_token_s + t.stall_s + t.per_token_s * longest)
        return await raw(send, 200, JSON, orjson.dumps(self._whole_body()))

    def _whole_body(self) -> dict[str, Any]:
        if self.kind == "completions":
            return formats.completion_body(self.req, self.answer, self.served, self.created)
        if self.kind == "responses":
            rid = f"resp_{self.answer.id[9:]}"
            return formats.response_object(
                self.req, self.answer, self.served, self.created, rid, done=True
            )
        return self._anthropic_body() if self.anthropic else self._openai_body()

    def _formatted_stream(self) -> formats.Streamed:
        if self.kind == "responses":
            return formats.responses_stream(self.req, self.answer, self.served, self.created)
        wants_usage = bool((self.req.get("stream_options") or {}).get("include_usage"))
        return formats.completion_stream(
            self.req,
            self.answer,
            self.served,
            self.created,
            wants_usage and self.mode.name != "nousage",
        )

    async def _send_streamed(self, receive: Receive, send: Send, events: formats.Streamed) -> None:
        """Send a stream of events with the mode's timing: ``head`` at the first token, then
        one group of events per token (breaking, hanging or stalling as the mode says)."""
        await send({"type": "http.response.start", "status": 200, "headers": SSE})
        await self._sleep(self.timing.first_token_s)
        for name, data in events.head:
            await _event(send, name, data)
        for k, group in enumerate(events.tokens):
            if self._stops_at(k):
                return await self._stop(receive, send)
            for name, data in group:
                await _event(send, name, data)
            await self._pause(k, receive)
        for name, data in events.tail:
            await _event(send, name, data)
        await send({"type": "http.response.body", "body": events.done})
        return None

    async def _error(self, send: Send) -> None:
        name = self.mode.name
        status = 400 if name == "context" else int(name)
        extra: list[tuple[bytes, bytes]] = []
        if status == 429:
            extra.append((b"retry-after", str(int(self.mode.number(1))).encode()))
        if name == "context":
            message = (
                "prompt is too long: 200001 tokens > 200000 maximum"
                if self.anthropic
                else "This model's maximum context length is 128000 tokens. However, "
                "your messages resulted in 200001 tokens."
            )
            code: str | None = "context_length_exceeded"
        else:
            message, code = f"fake provider error {status}", None
        body = (
            bodies.anthropic_error(status, message)
            if self.anthropic
            else bodies.openai_error(status, message, code)
        )
        await raw(send, status, [*JSON, *extra], orjson.dumps(body))

    # -- OpenAI --------------------------------------------------------------------
    def _openai_body(self) -> dict[str, Any]:
        a = self.answer
        choices = []
        for c in a.choices:
            message: dict[str, Any] = {"role": "assistant", "content": c.text, "refusal": None}
            if self._reasoning:
                message["reasoning_content"] = "".join(self._reasoning)
            if c.tool is not None:
                message["tool_calls"] = [_tool_json(c, c.tool.arguments)]
            logprobs = (
                {
                    "content": [a.token_logprobs(p, k) for k, p in enumerate(c.pieces)],
                    "refusal": None,
                }
                if a.logprobs
                else None
            )
            choices.append(
                {
                    "index": c.index,
                    "message": message,
                    "logprobs": logprobs,
                    "finish_reason": c.finish,
                }
            )
        body = {
            "id": a.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.served,
            "system_fingerprint": "fp_fake",
            "choices": choices,
            "usage": a.usage(),
        }
        if self.mode.name == "nousage":
            del body["usage"]
        return body

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self.answer.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.served,
            "system_fingerprint": "fp_fake",
            "choices": choices,
            **extra,
        }

    async def _openai_stream(self, receive: Receive, send: Send) -> None:
        a, t = self.answer, self.timing
        await send({"type": "http.response.start", "status": 200, "headers": SSE})
        roles = [_role_delta(c) for c in a.choices]
        if t.role_first:
            for delta in roles:
                await _event(send, None, self._chunk([delta]))
        await self._sleep(t.first_token_s)
        if not t.role_first:
            for delta in roles:
                await _event(send, None, self._chunk([delta]))
        for piece in self._reasoning:  # a reasoning model thinks aloud before it answers
            thought = {"reasoning_content": piece}
            await _event(send, None, self._chunk([_delta(c.index, thought) for c in a.choices]))
        longest = max((len(c.tokens) for c in a.choices), default=0)
        for k in range(longest):
            if self._stops_at(k):
                return await self._stop(receive, send)
            for c in a.choices:
                if k < len(c.tokens):
                    await _event(send, None, self._chunk([self._token_delta(c, k)]))
            await self._pause(k, receive)
        for c in a.choices:
            finish = {"index": c.index, "delta": {}, "logprobs": None, "finish_reason": c.finish}
            await _event(send, None, self._chunk([finish]))
        wants_usage = (self.req.get("stream_options") or {}).get("include_usage")
        if wants_usage and self.mode.name != "nousage":
            await _event(send, None, self._chunk([], usage=a.usage()))
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        return None

    @property
    def _reasoning(self) -> tuple[str, ...]:
        """A model named like a reasoning model (``-r1``, ``reasoner``) answers as vLLM and
        DeepSeek serve them: its thinking in ``reasoning_content``, apart from the answer."""
        model = str(self.req.get("model", "")).lower()
        thinks = "-r1" in model or "reasoner" in model
        return REASONING if thinks and not self.anthropic else ()

    def _token_delta(self, c: Choice, k: int) -> dict[str, Any]:
        piece = c.tokens[k]
        if c.tool is not None:
            delta: dict[str, Any] = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        else:
            delta = {"content": piece}
        logprobs = None
        if self.answer.logprobs and c.tool is None:
            logprobs = {"content": [self.answer.token_logprobs(piece, k)], "refusal": None}
        return {"index": c.index, "delta": delta, "logprobs": logprobs, "finish_reason": None}

    def _stops_at(self, k: int) -> bool:
        """Stop sending before token ``k``: ``break:N`` drops the connection, ``cut:N`` ends
        the body cleanly without the stream's end, a hang stalls."""
        if self.mode.name in ("break", "cut"):
            return k >= int(self.mode.number(2))
        return self.timing.hang_after is not None and k >= self.timing.hang_after

    async def _stop(self, receive: Receive, send: Send) -> None:
        """End a stream where ``_stops_at`` said: a dropped connection, a clean close with
        no end event (no finish, no ``[DONE]`` or ``message_stop``), or a hang."""
        if self.mode.name == "break":
            _abort()
        if self.mode.name == "cut":
            await send({"type": "http.response.body", "body": b""})
            return
        await _hang(receive)

    async def _pause(self, k: int, receive: Receive) -> None:
        t = self.timing
        await self._sleep(t.per_token_s + (t.stall_s if k == 0 else 0.0), receive)

    async def _sleep(self, seconds: float, receive: Receive | None = None) -> None:
        """Wait, but stop generating when the client goes away, as a real server does."""
        if seconds <= 0:
            return
        receive = receive or self._receive
        watch = asyncio.ensure_future(receive())
        try:
            done, _ = await asyncio.wait({watch}, timeout=seconds)
        finally:
            if not watch.done():
                watch.cancel()
        if done and watch.result().get("type") == "http.disconnect":
            raise Aborted

    # -- Anthropic -----------------------------------------------------------------
    def _anthropic_body(self) -> dict[str, Any]:
        a, c = self.answer, self.answer.choices[0]
        stop = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}[c.finish]
        body = bodies.anthropic_message(
            self.served,
            c.text or "",
            stop,
            a.prompt - a.cached - a.written,
            a.completion,
            a.cached,
            a.written,
        )
        if c.tool is not None:
            body["content"] = [
                {
                    "type": "tool_use",
                    "id": c.tool.id.replace("call_", "toolu_"),
                    "name": c.tool.name,
                    "input": orjson.loads(c.tool.arguments),
                }
            ]
        return body

    async def _anthropic_stream(self, receive: Receive, send: Send) -> None:
        a, c, t = self.answer, self.answer.choices[0], self.timing
        await send({"type": "http.response.start", "status": 200, "headers": SSE})
        start = bodies.anthropic_message(
            self.served, "", "end_turn", a.prompt - a.cached - a.written, 1, a.cached, a.written
        )
        start["content"], start["stop_reason"] = [], None
        if t.role_first:
            await _event(send, "message_start", {"type": "message_start", "message": start})
        await self._sleep(t.first_token_s)
        if not t.role_first:
            await _event(send, "message_start", {"type": "message_start", "message": start})
        block: dict[str, Any] = {"type": "text", "text": ""}
        if c.tool is not None:
            block = {"type": "tool_use", "id": c.tool.id, "name": c.tool.name, "input": {}}
        await _event(
            send,
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        )
        for k, piece in enumerate(c.tokens):
            if self._stops_at(k):
                return await self._stop(receive, send)
            delta = (
                {"type": "input_json_delta", "partial_json": piece}
                if c.tool is not None
                else {"type": "text_delta", "text": piece}
            )
            await _event(
                send,
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": delta},
            )
            await self._pause(k, receive)
        await _event(send, "content_block_stop", {"type": "content_block_stop", "index": 0})
        stop = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}[c.finish]
        await _event(
            send,
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": a.completion},
            },
        )
        await _event(send, "message_stop", {"type": "message_stop"})
        await send({"type": "http.response.body", "body": b""})
        return None


def _role_delta(c: Choice) -> dict[str, Any]:
    delta: dict[str, Any] = {
        "role": "assistant",
        "content": None if c.tool else "",
        "refusal": None,
    }
    if c.tool is not None:
        delta["tool_calls"] = [_tool_json(c, "")]
    return {"index": c.index, "delta": delta, "logprobs": None, "finish_reason": None}


def _tool_json(c: Choice, arguments: str) -> dict[str, Any]:
    assert c.tool is not None
    return {
        "index": 0,
        "id": c.tool.id,
        "type": "function",
        "function": {"name": c.tool.name, "arguments": arguments},
    }


def _abort() -> None:
    raise Aborted


async def _hang(receive: Receive) -> None:
    """Keep the connection open, sending nothing, until the client goes away."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def raw(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


REASONING = ("Let", " me", " think", " about", " it.")


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": None}


def _in_pieces(send: Send, size: int) -> Send:
    """``send`` that writes each part of a body ``size`` bytes at a time, a millisecond
    apart, so the reader gets events and lines cut anywhere (mode ``split``)."""

    async def pieces(message: dict[str, Any]) -> None:
        body = message.get("body", b"")
        if message["type"] != "http.response.body" or len(body) <= size:
            await send(message)
            return
        for at in range(0, len(body), size):
            await send({**message, "body": body[at : at + size], "more_body": True})
            await asyncio.sleep(0.001)
        if not message.get("more_body", False):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return pieces


async def _event(send: Send, name: str | None, data: Any) -> None:
    head = f"event: {name}\n".encode() if name else b""
    await send(
        {
            "type": "http.response.body",
            "body": head + b"data: " + orjson.dumps(data) + b"\n\n",
            "more_body": True,
        }
    )
