"""The request context and the hook points plugins attach to.

Data flows one way: request -> auth -> ``on_request`` (admission, cache) ->
for each planned deployment ``before_attempt`` -> provider call ->
``after_attempt`` (or ``on_skipped``) -> ``on_success`` or ``on_failure`` (degradation) ->
``on_request_end`` (logging, tracing). A plugin subclasses ``GatewayPlugin``
and overrides only the hooks it needs; it never imports another plugin.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router_config.config.schema import Deployment

Clock = Callable[[], float]
# What a non-text content part (an image) is counted as before the call: OpenAI charges a
# high-detail image up to about 1,100 tokens.
PART_TOKENS = 1_100


class SkipDeployment(Exception):
    """Raised by ``before_attempt``: do not call this deployment for this request.

    ``retry_after_s`` says when it takes calls again, if known (breaker open until, rate
    window reset): a 503 for a request whose every deployment was skipped says so.
    """

    def __init__(self, reason: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class RejectAttempt(Exception):
    """Raised by ``after_attempt`` on a successful call whose answer we must not use."""

    def __init__(
        self, reason: str, *, fail_over: bool = True, error: Exception | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fail_over = fail_over
        self.error = error  # raised to the caller instead when not failing over


@dataclass
class Usage:
    """Token counts as the provider reported them (zeros when it did not).

    OpenAI's convention, which LiteLLM maps Anthropic's usage into: ``prompt_tokens``
    includes the cache reads (``cached_tokens``) and the cache writes
    (``cache_creation_tokens``); ``completion_tokens`` includes ``reasoning_tokens``.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_creation_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Attempt:
    """One call to one deployment: what it was, how long it took, how it ended."""

    number: int
    deployment: Deployment
    started: float
    latency_ms: float = 0.0
    outcome: str = "pending"
    reason: str | None = None
    status: int | None = None
    message: str = ""
    served_model: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    retry_after_s: float | None = None
    key: str = ""  # the provider key's fingerprint (last 4 characters), never the key
    first_token_ms: float | None = None
    answering: bool = False  # the provider had sent something (it may bill the prompt)
    hedge: bool = False  # started in parallel because an earlier deployment was late
    probe: bool = False  # a half-open breaker's probe

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass
class RequestContext:
    """Everything known about one client request while it is served.

    ``call`` is what is asked of a provider: ``chat`` (chat completions, and the Responses
    and Messages APIs translated to it), ``text_completion`` (legacy completions: the
    prompt is ``params["prompt"]``) or ``embedding`` (``params["input"]``); the last two
    have no ``messages``.
    """

    request_id: str
    team: str
    key_alias: str
    group: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    stream: bool
    headers: Mapping[str, str]
    started: float
    deadline: float  # end of the failover phase (the prompt's prefill time is added to it)
    attempts: list[Attempt] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # When (on the request's clock) each skipped deployment that said so takes calls again.
    skipped_until: list[float] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    response_headers: dict[str, str] = field(default_factory=dict)
    outcome: str = "pending"
    status: int = 200
    wants_usage: bool = False
    required_version: str | None = None
    caller_deadline: float | None = None  # x-router-timeout-ms: the caller's own limit
    # Deployments whose half-open probe this request carries (the breaker says so in
    # before_attempt): the attempt loop races each against the next deployment.
    probes: set[str] = field(default_factory=set)
    # LiteLLM's request metadata (logs, Langfuse) and tags (tag routing: metadata.tags or tags).
    metadata: dict[str, Any] = field(default_factory=dict)
    request_tags: tuple[str, ...] = ()
    # Per group, the load balancer's ranking of deployment ids for this request (planner).
    routing: dict[str, list[str]] = field(default_factory=dict)
    call: str = "chat"  # chat | text_completion | embedding

    @property
    def state_key(self) -> int:
        """Names this request in a plugin's per-request state. Not ``request_id``: a client
        may send the same ``x-request-id`` twice at once; this is unique while in flight."""
        return id(self)

    @property
    def final(self) -> Attempt | None:
        """The attempt that answered, if one did."""
        return next((a for a in reversed(self.attempts) if a.ok), None)

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts)

    @property
    def prompt_messages(self) -> list[dict[str, Any]]:
        """The prompt as chat messages: ``messages``, or for a text completion or an
        embedding each input text as a user message (for counting tokens, and traces)."""
        if self.call == "chat":
            return self.messages
        given = self.params.get("prompt" if self.call == "text_completion" else "input")
        return [{"role": "user", "content": text} for text in input_texts(given)]

    @property
    def prompt_tokens_estimate(self) -> int:
        """Prompt tokens estimated before any call: errs high, never low. Text counts by its
        length; an image (or other non-text part) as ``PART_TOKENS``, not as its base64;
        a token array (embeddings, completions) by its length."""
        if self.call != "chat":
            given = self.params.get("prompt" if self.call == "text_completion" else "input")
            return sum(_input_tokens(item) for item in _input_items(given))
        chars = parts = 0
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "text":
                        chars += len(str(part.get("text") or ""))
                    else:
                        parts += 1
            else:
                chars += len(str(content or ""))
        return math.ceil(chars / 3) + 4 * len(self.messages) + PART_TOKENS * parts

    @property
    def max_output_tokens(self) -> int | None:
        """The caller's cap on output tokens, if it gave one."""
        caps = [self.params.get(k) for k in ("max_tokens", "max_completion_tokens")]
        given = [int(v) for v in caps if isinstance(v, int) and not isinstance(v, bool) and v > 0]
        return max(given) if given else None

    @property
    def choices(self) -> int:
        """How many answers the caller asked for (``n``): each may use the whole output cap."""
        n = self.params.get("n")
        return max(1, n) if isinstance(n, int) and not isinstance(n, bool) else 1

    @property
    def tokens_to_reserve(self) -> int:
        """What a rate limit reserves before the call: the prompt estimate plus the caller's
        output cap for each of the ``n`` choices (settled to the real usage afterwards)."""
        return self.prompt_tokens_estimate + (self.max_output_tokens or 0) * self.choices

    @property
    def tokens_used(self) -> int:
        """Tokens every attempt of this request consumed, as the providers reported them."""
        return sum(a.usage.total_tokens for a in self.attempts)


def _input_items(value: Any) -> list[Any]:
    """The items of an OpenAI ``input``/``prompt``: a string, a list of strings, one token
    array, or a list of token arrays."""
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [value]
    return list(value) if isinstance(value, list) else [value]


def _input_tokens(item: Any) -> int:
    if isinstance(item, list):
        return len(item)  # a token array: exactly its tokens
    return math.ceil(len(str(item or "")) / 3) + 1


def input_texts(value: Any) -> list[str]:
    """Each input as text (a token array as its numbers, so it still has a length)."""
    return [
        " ".join(map(str, item)) if isinstance(item, list) else str(item or "")
        for item in _input_items(value)
    ]


class GatewayPlugin:
    """Base class of our own plugins: every hook is a no-op until overridden."""

    name = "plugin"
    # Its ``on_request_end`` only records what happened (logs, traces, metrics): for a whole
    # answer it runs once the answer is sent. The others settle state the next request
    # reads (load balancing, rate limits, breakers, budgets) and run before it is sent.
    records = False

    async def start(self) -> None:
        """Called once when the gateway starts (open connections, start probes)."""

    async def close(self) -> None:
        """Called once on shutdown; must return quickly."""

    async def on_request(self, ctx: RequestContext) -> Mapping[str, Any] | None:
        """Admission; may return a ready answer (a cache hit) to skip the providers."""
        return None

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        """May raise ``SkipDeployment`` (breaker open, budget spent, wrong version)."""

    async def on_skipped(self, ctx: RequestContext, deployment: Deployment, reason: str) -> None:
        """A later plugin skipped a deployment this one had let through in ``before_attempt``:
        undo what letting it through took (a probe claim, a rate-limit slot, a span)."""

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        """Sees every attempt; may raise ``RejectAttempt`` on a successful one."""

    async def on_success(self, ctx: RequestContext, body: Mapping[str, Any]) -> None:
        """A complete answer (streams: assembled after the last chunk)."""

    async def on_failure(self, ctx: RequestContext, error: Exception) -> Mapping[str, Any] | None:
        """Every deployment failed; may return an answer to serve instead (stale cache)."""
        return None

    async def on_request_end(self, ctx: RequestContext) -> None:
        """The request is over (logging, tracing). Must never raise into the request."""

    async def health(self) -> dict[str, dict[str, Any]]:
        """Per-deployment state for ``GET /health/providers`` (merged across plugins)."""
        return {}


def monotonic() -> float:
    """The default clock; tests inject their own."""
    return time.monotonic()
