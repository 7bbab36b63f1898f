"""Typed settings for our own ``router_plugins:`` section.

These models are strict (``extra="forbid"``): a typo in our section is an
error naming the key path, unlike LiteLLM's own sections, which we must accept
as LiteLLM's proxy does. Defaults are chosen so that most users never tune
them: they already meet the product targets (failover < 5 s).
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from router_config.config.shared_state_settings import SharedStateSettings


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Strict):
    """Limits of the HTTP layer, applied before any provider is called.

    Admission runs before any work, in this order: the key is authenticated; a key or
    team already over its requests per minute is refused at once; the key's requests in
    flight are held to ``max_in_flight_per_key`` and the process's to ``max_in_flight``
    (when full, waiting requests are admitted fairly: the key with the fewest in flight
    first); only then is the body read and parsed, with the structural limits enforced
    before any message is validated. Slow clients are bounded by the three timeouts, and
    a shutdown waits at most ``shutdown_timeout_s`` for requests in flight.
    """

    max_body_bytes: int = Field(default=1_000_000, gt=0)
    max_messages: int = Field(default=500, gt=0)
    # JSON nesting anywhere in a body (messages, content parts, tools, schemas, metadata).
    max_depth: int = Field(default=64, ge=4, le=200)
    # Items of any one JSON array, or keys of any one JSON object.
    max_items: int = Field(default=10_000, gt=0)
    # Characters of any JSON object key (parameter and schema property names).
    max_key_chars: int = Field(default=256, gt=0)
    max_in_flight: int = Field(default=1024, gt=0)
    max_in_flight_per_key: int = Field(default=128, gt=0)
    # How long a request may wait for a slot when the process is at ``max_in_flight``.
    queue_timeout_s: float = Field(default=10.0, gt=0, le=600)
    # A refusal for a key already known over its limit is answered after this pause (never
    # longer than its Retry-After): a client that ignores Retry-After then costs nothing.
    refusal_pause_s: float = Field(default=1.0, ge=0, le=60)
    max_header_bytes: int = Field(default=65_536, ge=1024)
    header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    body_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    keepalive_timeout_s: float = Field(default=5.0, gt=0, le=600)
    shutdown_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    public_metrics: bool = False
    # A key that opens ``GET /metrics`` only (for the Prometheus scraper), besides the master
    # key: an ``os.environ/NAME`` reference.
    metrics_key: str | None = None
    docs: bool = False  # /docs and /redoc; /openapi.json is always public
    log_content: bool = False


class ClientKeySettings(_Strict):
    """A client (application) key and the team it bills to.

    The key is given either as an ``os.environ/NAME`` reference (resolved at
    load) or already hashed as ``key_sha256``, so the plain key need not be
    stored anywhere the config is readable.
    """

    team: str = Field(min_length=1)
    key: str | None = None
    key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    alias: str | None = None
    models: tuple[str, ...] = ()
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class RateLimit(_Strict):
    """Requests and tokens per minute; unset means unlimited."""

    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class RateLimitSettings(_Strict):
    """Client rate limits shared by every replica (Redis), in memory without Redis.

    A client key's own ``rpm``/``tpm`` and its team's limits here both apply.
    Over a limit the caller gets 429 ``rate_limit_exceeded`` with Retry-After and
    the ``x-ratelimit-*`` headers OpenAI sends. Tokens are reserved before the
    call (prompt estimate plus ``max_tokens``) and settled to the real usage after.
    """

    teams: dict[str, RateLimit] = Field(default_factory=dict)


class KeySettings(_Strict):
    """Provider key rotation: a deployment may list several keys in ``api_keys``.

    A key answered with 401/403 is quarantined for ``quarantine_s`` (shared
    through Redis, alerted once) and the same request is retried at once with
    the next key. Keys are re-read on ``SIGHUP`` or ``POST /admin/reload``.
    """

    quarantine_s: float = Field(default=3600, gt=0)


class FailoverSettings(_Strict):
    """When to give up on a deployment, and when to start the next one, per request.

    Failover is about liveness, never about how long a healthy answer takes: every
    call streams from the provider (a non-streaming caller gets the assembled body),
    so a deployment is judged by its first token. The phases of one attempt:

    * **hedge point**: the first token is late (past this deployment's learned p99
      time to first token, at least ``hedge_floor_s``; ``hedge_after_s`` until it has
      ``latency_min_samples`` samples): the next deployment is started in parallel and
      the first to produce a token serves. ``hedge_budget`` (a token bucket of that share
      of a deployment's calls, ``hedge_burst`` deep) bounds the extra calls.
    * **first-token limit**: ``first_token_factor`` x the learned p99, between
      ``first_token_floor_s`` and ``first_token_ceiling_s`` (``first_token_timeout_s``
      until learned); past it the attempt failed (``timeout``). The last deployment of a
      plan, with nowhere else to go, waits up to the ceiling.
    * long prompts: ``prefill_s_per_1k_tokens`` per 1,000 prompt tokens is added to the
      hedge point, the limit and the deadline (a 100k-token prompt takes 5-30 s to start).
    * after the first token: ``idle_timeout_s`` between chunks, ``total_timeout_s`` for the
      whole answer (the openai SDK's own default is 600 s).
    * ``deadline_s`` bounds the failover phase: no new deployment is started after it,
      and a non-last one is cut at it. Retries of the same deployment happen only when
      no other is left, with exponential backoff and full jitter, within the deadline.
    """

    deadline_s: float = Field(default=5.0, gt=0, le=600)
    first_token_timeout_s: float = Field(default=2.0, gt=0, le=600)
    first_token_factor: float = Field(default=3.0, ge=1, le=100)
    first_token_floor_s: float = Field(default=1.0, gt=0, le=600)
    first_token_ceiling_s: float = Field(default=60.0, gt=0, le=3600)
    prefill_s_per_1k_tokens: float = Field(default=0.25, ge=0, le=60)
    hedge: bool = True
    hedge_after_s: float = Field(default=1.0, gt=0, le=600)
    hedge_floor_s: float = Field(default=0.25, gt=0, le=600)
    hedge_budget: float = Field(default=0.05, ge=0, le=1)
    hedge_burst: int = Field(default=20, ge=0, le=10_000)
    latency_min_samples: int = Field(default=20, ge=1)
    idle_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    total_timeout_s: float = Field(
        default=600.0,
        gt=0,
        le=86_400,
        validation_alias=AliasChoices("total_timeout_s", "attempt_timeout_s"),
    )
    nonstream_s_per_token: float = Field(default=0.05, gt=0, le=10)
    connect_timeout_s: float = Field(default=1.0, gt=0, le=60)
    max_retries: int = Field(default=1, ge=0, le=10)
    backoff_base_s: float = Field(default=0.1, gt=0, le=10)
    backoff_cap_s: float = Field(default=1.0, gt=0, le=60)
    min_attempt_s: float = Field(default=0.05, ge=0, le=5)


class BreakerSettings(_Strict):
    """Circuit breaker per deployment (state in Redis when configured).

    Opens after ``failure_threshold`` consecutive failures, or when over ``window_s`` at
    least ``min_requests`` attempts ran and more than ``failure_rate`` of them failed. A
    call that lost a hedged race goes on alone until its first token or its own limit,
    so a hang still shows as time-outs while callers are served by the hedge. Open
    deployments are skipped at once. After the cool-down one probe (across replicas)
    decides: a request's call that races the next deployment, so no caller waits for it,
    or a background health call when there is no traffic. The cool-down is
    ``cooldown_s`` for the first opening and the first failed probe, then doubles with
    each failed probe up to ``cooldown_max_s`` (1, 1, 2, 4... 60 s by default): a flap is
    seen in about a second, a long outage costs few probes. Only provider faults count:
    the caller's own errors and deadlines never move a breaker.
    ``health_check_interval_s`` probes every deployment all the time, to find an outage
    before a request does.
    """

    enabled: bool = True
    failure_threshold: int = Field(default=2, ge=1, le=100)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    min_requests: int = Field(default=10, ge=1)
    window_s: float = Field(default=30.0, gt=0)
    cooldown_s: float = Field(default=1.0, gt=0, le=3600)
    cooldown_max_s: float = Field(default=60.0, gt=0, le=86_400)
    probe_when_idle: bool = True  # a background probe when no request comes to carry one
    health_check_interval_s: float | None = Field(default=None, gt=0)


class AlertSinkSettings(_Strict):
    """One alert destination: the log (default), a JSON webhook, or a Slack webhook."""

    type: Literal["log", "webhook", "slack"] = "log"
    url: str | None = None


class AlertSettings(_Strict):
    """Where alerts go; every alert is de-duplicated across replicas through Redis."""

    sinks: tuple[AlertSinkSettings, ...] = (AlertSinkSettings(),)


class CacheSettings(_Strict):
    """Response cache, and the stale copies served when every provider is down.

    ``mode``: ``off``, ``deterministic`` (temperature 0 or a seed: the only
    requests whose answer a caller expects to repeat) or ``all``. Entries are
    fresh for ``fresh_ttl_s``; after that they are kept until ``max_stale_s``
    and served only when every deployment failed.
    """

    mode: Literal["off", "deterministic", "all"] = "deterministic"
    # Who shares entries: a team's keys (default), one key, or every caller. Only
    # ``global`` lets one tenant's answer (its completion id, usage) reach another.
    scope: Literal["team", "key", "global"] = "team"
    # What a hit costs the caller's team: the original answer's cost, or nothing.
    charge_hits: Literal["original", "zero"] = "original"
    fresh_ttl_s: float = Field(default=300, gt=0)
    max_stale_s: float = Field(default=86_400, gt=0)
    max_entries: int = Field(default=10_000, gt=0)
    # From LiteLLM's cache_params: keys under their own prefix, and caching only for
    # requests that ask (body "cache": {"use-cache": true}, LiteLLM's mode: default_off).
    namespace: str | None = None
    opt_in: bool = False


class AbstainSettings(_Strict):
    """What callers get when every provider failed and no cached answer exists.

    ``error`` (default): 503 ``all_providers_failed`` with each attempt and a
    Retry-After. ``response``: 200 with ``message`` as the assistant's answer
    and ``x-router-abstained: true``, for callers that cannot handle errors.
    """

    mode: Literal["error", "response"] = "error"
    message: str = "I can't answer right now: the service is temporarily unavailable."


class PinningSettings(_Strict):
    """Model version pinning: what happens when a provider serves another version.

    ``on_drift`` is the default policy (a deployment may override it with
    ``model_info.on_drift``): ``warn`` answers and alerts, ``fail_over`` tries
    the next deployment, ``reject`` answers 502 ``version_drift``. A floating
    alias (``gpt-4o``) is accepted and pinned on first sight: the version its
    first answer names is recorded, and drift from it is alerted from then on;
    ``require_pins: true`` refuses floating aliases instead (as ``check --strict``).
    Pins are recorded in Redis (when configured) or ``history_file`` (default: one
    file per namespace in the user's state directory).
    """

    on_drift: Literal["warn", "fail_over", "reject"] = "warn"
    retire_warn_days: int = Field(default=30, ge=0)
    require_pins: bool = False
    # None: $LLM_ROUTER_VERSIONS_FILE, else one file per namespace in the state directory.
    history_file: str | None = None


class BudgetLimit(_Strict):
    """Spend limits in USD per UTC day and/or calendar month."""

    daily_usd: float | None = Field(default=None, gt=0)
    monthly_usd: float | None = Field(default=None, gt=0)


class BudgetSettings(_Strict):
    """Budgets per provider (and optionally per team), alerting before they are spent.

    Every threshold alerts exactly once per period across replicas; a burn-rate
    forecast alerts when the current rate would spend the budget before the
    period ends. At 100 %, ``route_away`` skips that provider (fallbacks answer)
    and ``reject`` answers 429 ``budget_exceeded``. A call reserves its
    worst-case cost before it starts (``max_tokens``, else ``default_max_tokens``),
    so concurrent calls cannot overshoot the limit.
    """

    providers: dict[str, BudgetLimit] = Field(default_factory=dict)
    teams: dict[str, BudgetLimit] = Field(default_factory=dict)
    thresholds: tuple[float, ...] = (0.5, 0.8, 0.95)
    on_exceeded: Literal["route_away", "reject"] = "route_away"
    default_max_tokens: int = Field(default=4096, gt=0)
    forecast: bool = True


class LangfuseSettings(_Strict):
    """Tracing to Langfuse (SDK v5, OTLP). Keys fall back to LANGFUSE_* variables.

    Without keys tracing is off (one ``tracing_off`` line at start). Prompt and
    completion text are sent only with ``log_content: true``.
    """

    enabled: bool = True
    public_key: str | None = None
    secret_key: str | None = None
    host: str | None = None
    # Langfuse's environment dimension (production, staging...); unset: the SDK's
    # LANGFUSE_TRACING_ENVIRONMENT, else Langfuse's "default". Langfuse's format.
    environment: str | None = Field(default=None, pattern=r"^[a-z0-9_-]{1,40}$")
    log_content: bool = False
    flush_timeout_s: float = Field(default=2.0, gt=0, le=30)
    # Spans per export batch. The SDK's 512 made each export hold the GIL for ~30 ms
    # under load (p99 at concurrency 1: 35 ms); 128 gave 15 ms at the same throughput,
    # while 64 cost 20 % of throughput at concurrency 64 (bench/, 2 cores).
    flush_at: int = Field(default=128, ge=1, le=10_000)

    @field_validator("environment")
    @classmethod
    def _not_langfuse(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("langfuse"):
            raise ValueError("must not start with 'langfuse' (reserved by Langfuse)")
        return value


class TransportSettings(_Strict):
    """How provider requests are sent.

    With ``direct_openai`` (the default), a plain request (text messages, parameters
    LiteLLM passes through) to a deployment LiteLLM would send in OpenAI's format
    unchanged (``openai/`` models with LiteLLM's plain OpenAI config, including
    OpenAI-compatible servers declared that way) is sent over one pooled HTTP client
    instead of ``Router.acompletion``: the same request and answer, without LiteLLM's
    per-call logging, metadata and cost work (about half our CPU per request). Every
    other call goes through LiteLLM's Router. ``false`` sends these through it too.

    With ``direct_anthropic`` (the default), a plain request (text messages; temperature,
    top_p, max_tokens, stop, user) to an ``anthropic/`` deployment is translated by
    LiteLLM's own Anthropic code and sent over the same pool, without ``Router.acompletion``
    (about 10 ms of CPU per call). ``false`` sends them through the Router. Both ``false``:
    every call goes through LiteLLM's Router.
    """

    direct_openai: bool = True
    direct_anthropic: bool = True


class ResponsesSettings(_Strict):
    """The Responses API's stored responses (``previous_response_id``, ``GET /v1/responses``).

    A response is stored unless the request says ``store: false``, in Redis when
    configured (else in memory, at most ``max_entries``), for ``store_ttl_s`` (OpenAI
    keeps them 30 days), scoped to the caller's team. Stored turns hold prompts and
    answers: ``store: false`` here keeps none (``previous_response_id`` is then refused).
    """

    store: bool = True
    store_ttl_s: float = Field(default=30 * 86_400, gt=0)
    max_entries: int = Field(default=10_000, gt=0)


class PluginsConfig(_Strict):
    """The whole ``router_plugins:`` section.

    ``namespace`` prefixes every Redis key and names the pin history: replicas of
    one gateway share it; two gateways sharing one Redis need different ones, or
    they share spend, breakers, limits and cache.
    """

    namespace: str = Field(default="llm-router", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    server: ServerSettings = ServerSettings()
    transport: TransportSettings = TransportSettings()
    client_keys: tuple[ClientKeySettings, ...] = ()
    rate_limits: RateLimitSettings = RateLimitSettings()
    keys: KeySettings = KeySettings()
    failover: FailoverSettings = FailoverSettings()
    breaker: BreakerSettings = BreakerSettings()
    alerts: AlertSettings = AlertSettings()
    cache: CacheSettings = CacheSettings()
    abstain: AbstainSettings = AbstainSettings()
    pinning: PinningSettings = PinningSettings()
    budgets: BudgetSettings = BudgetSettings()
    langfuse: LangfuseSettings = LangfuseSettings()
    shared_state: SharedStateSettings = Field(default_factory=SharedStateSettings)
    responses: ResponsesSettings = ResponsesSettings()
