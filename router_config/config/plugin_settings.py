"""Typed settings for our own ``router_plugins:`` section.

These models are strict (``extra="forbid"``): a typo in our section is an
error naming the key path, unlike LiteLLM's own sections, which we must accept
as LiteLLM's proxy does. Defaults are chosen so that most users never tune
them: they already meet the product targets (failover < 5 s).
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from router_config.config.shared_state_settings import SharedStateSettings


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Strict):
    """Limits of the HTTP layer, applied before any provider is called."""

    max_body_bytes: int = Field(default=1_000_000, gt=0)
    max_messages: int = Field(default=500, gt=0)
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
    """Time limits and retries for one client request across every attempt.

    ``deadline_s`` bounds all attempts, backoff sleeps and fallbacks together.
    A deployment that is not the last in the plan must show its first token
    (streams) or its whole answer (non-streaming) within
    ``first_token_timeout_s``, so a hung primary costs at most that before the
    fallback is tried; the last deployment may use the rest of the deadline,
    up to ``attempt_timeout_s``. Retries of the same deployment happen only
    when no other deployment is left (a fallback answers sooner than a retry),
    with exponential backoff and full jitter, and only if they fit the deadline.
    """

    deadline_s: float = Field(default=5.0, gt=0, le=600)
    attempt_timeout_s: float = Field(default=30.0, gt=0, le=600)
    first_token_timeout_s: float = Field(default=2.0, gt=0, le=600)
    connect_timeout_s: float = Field(default=1.0, gt=0, le=60)
    max_retries: int = Field(default=1, ge=0, le=10)
    backoff_base_s: float = Field(default=0.1, gt=0, le=10)
    backoff_cap_s: float = Field(default=1.0, gt=0, le=60)
    min_attempt_s: float = Field(default=0.05, ge=0, le=5)


class BreakerSettings(_Strict):
    """Circuit breaker per deployment (state in Redis when configured).

    Opens after ``failure_threshold`` consecutive failures, or when over
    ``window_s`` at least ``min_requests`` attempts ran and more than
    ``failure_rate`` of them failed. Open deployments are skipped at once;
    after ``cooldown_s`` one half-open probe request decides.
    """

    enabled: bool = True
    failure_threshold: int = Field(default=2, ge=1, le=100)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    min_requests: int = Field(default=10, ge=1)
    window_s: float = Field(default=30.0, gt=0)
    cooldown_s: float = Field(default=10.0, gt=0, le=3600)
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
    fresh_ttl_s: float = Field(default=300, gt=0)
    max_stale_s: float = Field(default=86_400, gt=0)
    max_entries: int = Field(default=10_000, gt=0)


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
    the next deployment, ``reject`` answers 502 ``version_drift``. Pins are
    recorded in Redis (when configured) or ``history_file``.
    """

    on_drift: Literal["warn", "fail_over", "reject"] = "warn"
    retire_warn_days: int = Field(default=30, ge=0)
    history_file: str = Field(
        default_factory=lambda: os.environ.get(
            "LLM_ROUTER_VERSIONS_FILE", "~/.local/state/llm-router/versions.jsonl"
        )
    )


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
    log_content: bool = False
    flush_timeout_s: float = Field(default=2.0, gt=0, le=30)
    # Spans per export batch. The SDK's 512 made each export hold the GIL for ~30 ms
    # under load (p99 at concurrency 1: 35 ms); 128 gave 15 ms at the same throughput,
    # while 64 cost 20 % of throughput at concurrency 64 (bench/, 2 cores).
    flush_at: int = Field(default=128, ge=1, le=10_000)


class TransportSettings(_Strict):
    """How provider requests are sent.

    With ``direct_openai`` (the default), a plain request (text messages, parameters
    LiteLLM passes through) to a deployment LiteLLM would send in OpenAI's format
    unchanged (``openai/`` models with LiteLLM's plain OpenAI config, including
    OpenAI-compatible servers declared that way) is sent over one pooled HTTP client
    instead of ``Router.acompletion``: the same request and answer, without LiteLLM's
    per-call logging, metadata and cost work (about half our CPU per request). Every
    other call goes through LiteLLM's Router. ``false`` sends everything through it.
    """

    direct_openai: bool = True


class PluginsConfig(_Strict):
    """The whole ``router_plugins:`` section."""

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
