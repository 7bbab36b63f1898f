"""What llm-router does with each setting of a LiteLLM proxy config: the one list.

``docs/coming-from-litellm.md`` prints this table and a test holds the two
together, so the documentation cannot drift from the code. ``check`` and
start-up name every key a config sets that is not honoured (``compat_check``).

A row is ``honoured`` (applied as LiteLLM's proxy applies it), ``different``
(applied, in a way the note explains) or ``unsupported`` (not applied: the note
says what to do instead). Keys of LiteLLM's sections without a row of their own
fall under the ``*`` row of their section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["honoured", "different", "unsupported"]


@dataclass(frozen=True)
class Support:
    status: Status
    note: str


def _h(note: str = "") -> Support:
    return Support("honoured", note)


def _d(note: str) -> Support:
    return Support("different", note)


def _u(note: str) -> Support:
    return Support("unsupported", note)


_FAILOVER = "not applied: llm-router's own failover replaces it (router_plugins.failover, .breaker)"
_NO_DB = "not applied: llm-router has no database; keys and teams are router_plugins.client_keys"

TABLE: dict[str, Support] = {
    # Top-level sections.
    "model_list": _h("deployments; wildcard model names and model_info.mode are read as LiteLLM"),
    "litellm_settings": _h("per key, below"),
    "router_settings": _h("per key, below"),
    "general_settings": _h("per key, below"),
    "environment_variables": _h("set for the gateway process, and used by os.environ/ references"),
    "include": _h("the listed files are merged into the config, as LiteLLM merges them"),
    "router_plugins": _h("llm-router's own settings (README)"),
    "guardrails": _u("not applied: write a CustomLogger with async_pre_call_hook instead"),
    "callback_settings": _u("not applied: configure the callback through its own environment"),
    "credential_list": _u("not applied: put keys on each deployment as os.environ/ references"),
    "files_settings": _u("not applied: llm-router serves chat completions only"),
    "finetune_settings": _u("not applied: llm-router serves chat completions only"),
    "assistant_settings": _u("not applied: llm-router serves chat completions only"),
    "pass_through_endpoints": _u("not applied: call the provider directly"),
    "mcp_servers": _u("not applied: llm-router has no MCP gateway"),
    "*": _u("not applied: a LiteLLM proxy feature llm-router does not have"),
    # model_list entries.
    "model_list[].model_name": _h("a model group; '*' and 'provider/*' are wildcard routes"),
    "model_list[].litellm_params.*": _h("passed to LiteLLM's provider call as written"),
    "model_list[].litellm_params.order": _h("priority: lower order first, then the next order"),
    "model_list[].litellm_params.weight": _h("share of traffic among deployments of one order"),
    "model_list[].litellm_params.rpm": _d(
        "counted by llm-router across replicas (the deployment is skipped at its limit); "
        "also a load-balancing weight"
    ),
    "model_list[].litellm_params.tpm": _d(
        "counted by llm-router across replicas (the deployment is skipped at its limit); "
        "also a load-balancing weight"
    ),
    "model_list[].litellm_params.tags": _h("tag routing when router_settings.enable_tag_filtering"),
    "model_list[].litellm_params.timeout": _d("caps this deployment's attempt within the deadline"),
    "model_list[].litellm_params.stream_timeout": _d("caps this deployment's attempt"),
    "model_list[].litellm_params.max_retries": _u(_FAILOVER),
    "model_list[].litellm_params.num_retries": _u(_FAILOVER),
    "model_list[].litellm_params.input_cost_per_token": _h("price; else LiteLLM's map"),
    "model_list[].litellm_params.input_cost_per_second": _h("price per second of the call"),
    "model_list[].model_info.id": _h("the deployment's id (logs, headers, breaker)"),
    "model_list[].model_info.mode": _d(
        "chat (and completion, responses) deployments serve chat, completions, responses and "
        "messages; embedding ones serve /v1/embeddings; other modes are listed by check and "
        "never routed"
    ),
    "model_list[].model_info.base_model": _h("the model priced from LiteLLM's map"),
    "model_list[].model_info.*": _h("prices as in LiteLLM; other keys are informational"),
    "model_list[].model_info.health_check_timeout": _u(
        "not applied: router_plugins.breaker.health_check_interval_s probes deployments"
    ),
    "model_list[].rpm": _u("not read here, nor by LiteLLM: put it under litellm_params"),
    "model_list[].tpm": _u("not read here, nor by LiteLLM: put it under litellm_params"),
    # router_settings.
    "router_settings.routing_strategy": _d(
        "among deployments of one order: simple-shuffle (a smooth weighted round robin: the "
        "same shares, exact), least-busy, latency-based-routing, usage-based-routing(-v2), "
        "cost-based-routing; state shared through Redis"
    ),
    "router_settings.routing_strategy_args": _d("ttl and lowest_latency_buffer are read"),
    "router_settings.model_group_alias": _h("aliases, listed in /v1/models unless hidden"),
    "router_settings.fallbacks": _h(),
    "router_settings.context_window_fallbacks": _h(),
    "router_settings.content_policy_fallbacks": _h(),
    "router_settings.default_fallbacks": _h("for every group without fallbacks of its own"),
    "router_settings.max_fallbacks": _h("fallback groups tried per request"),
    "router_settings.enable_tag_filtering": _h("request tags (metadata.tags or tags) route"),
    "router_settings.tag_filtering_match_any": _h(),
    "router_settings.redis_host": _h("shared state (breakers, limits, spend, cache)"),
    "router_settings.redis_port": _h(),
    "router_settings.redis_password": _h(),
    "router_settings.redis_url": _h(),
    "router_settings.enable_pre_call_checks": _h("context-window check before the call"),
    "router_settings.num_retries": _u(_FAILOVER),
    "router_settings.timeout": _u(_FAILOVER),
    "router_settings.stream_timeout": _u(_FAILOVER),
    "router_settings.allowed_fails": _u(_FAILOVER),
    "router_settings.allowed_fails_policy": _u(_FAILOVER),
    "router_settings.cooldown_time": _u(_FAILOVER),
    "router_settings.disable_cooldowns": _u(_FAILOVER),
    "router_settings.retry_policy": _u(_FAILOVER),
    "router_settings.model_group_retry_policy": _u(_FAILOVER),
    "router_settings.retry_after": _u(_FAILOVER),
    "router_settings.provider_budget_config": _u(
        "not applied: router_plugins.budgets (alerts before the limit, no overshoot)"
    ),
    "router_settings.cache_responses": _u("not applied: use litellm_settings.cache"),
    "router_settings.*": _u("not applied: a LiteLLM Router setting llm-router does not use"),
    # litellm_settings.
    "litellm_settings.drop_params": _h(),
    "litellm_settings.modify_params": _h(),
    "litellm_settings.ssl_verify": _h(),
    "litellm_settings.disable_aiohttp_transport": _h(),
    "litellm_settings.callbacks": _d(
        "CustomLogger instances (module.instance beside the config) and LiteLLM's built-in "
        "loggers fire for every attempt on both call paths; see the callback rows"
    ),
    "litellm_settings.success_callback": _d("as callbacks"),
    "litellm_settings.failure_callback": _d("as callbacks"),
    "litellm_settings.cache": _d(
        "true caches every request (router_plugins.cache.mode: all); Redis when configured"
    ),
    "litellm_settings.cache_params": _d(
        "type (redis or local), host/port/password, ttl, namespace, supported_call_types and "
        "mode: default_off map onto router_plugins.cache; other types fall back to redis"
    ),
    "litellm_settings.fallbacks": _h(),
    "litellm_settings.context_window_fallbacks": _h(),
    "litellm_settings.content_policy_fallbacks": _h(),
    "litellm_settings.default_fallbacks": _h("for every group without fallbacks of its own"),
    "litellm_settings.num_retries": _u(_FAILOVER),
    "litellm_settings.request_timeout": _u(_FAILOVER),
    "litellm_settings.timeout": _u(_FAILOVER),
    "litellm_settings.max_budget": _u("not applied: router_plugins.budgets"),
    "litellm_settings.budget_duration": _u("not applied: router_plugins.budgets"),
    "litellm_settings.default_team_settings": _u(_NO_DB),
    "litellm_settings.set_verbose": _u("not applied: llm-router logs JSON lines (README, Logs)"),
    "litellm_settings.json_logs": _d("llm-router always logs JSON lines"),
    "litellm_settings.telemetry": _d("llm-router sends no telemetry"),
    "litellm_settings.turn_off_message_logging": _d(
        "prompts are never logged; Langfuse gets them only with router_plugins.langfuse.log_content"
    ),
    "litellm_settings.*": _u("not applied: a LiteLLM module setting llm-router does not set"),
    # general_settings.
    "general_settings.master_key": _h("opens everything, admin endpoints included"),
    "general_settings.alerting": _u("not applied: router_plugins.alerts (log, webhook, Slack)"),
    "general_settings.database_url": _u(_NO_DB),
    "general_settings.store_model_in_db": _u(_NO_DB),
    "general_settings.*": _u(
        "not applied: a setting of LiteLLM's proxy server (database, UI, auth...)"
    ),
    # Callbacks, by name.
    "callback: module.instance": _h("a CustomLogger found beside the config, as LiteLLM finds it"),
    "callback: langfuse": _u(
        "not applied: llm-router traces to Langfuse itself (router_plugins.langfuse)"
    ),
    "callback: langfuse_otel": _u("not applied: router_plugins.langfuse"),
    "callback: prometheus": _u("not applied: GET /metrics has llm-router's own metrics"),
    "callback: <LiteLLM built-in logger>": _h("built by LiteLLM, fired through LiteLLM's logging"),
    "callback: <other name>": _u("not applied: LiteLLM has no logger class for it"),
    # Request body.
    "request: metadata": _h("logged and sent to Langfuse; metadata.tags route"),
    "request: tags": _h("tag routing"),
    "request: fallbacks, num_retries, timeout": _d(
        "refused: the config decides fallbacks and retries; lower the deadline with "
        "x-router-timeout-ms"
    ),
    "request: api_key, api_base, base_url, extra_headers...": _d(
        "refused: credentials and endpoints come only from the config"
    ),
}

# Built-in callbacks llm-router replaces with its own (named, not applied).
REPLACED_CALLBACKS = {
    "langfuse": TABLE["callback: langfuse"],
    "langfuse_otel": TABLE["callback: langfuse_otel"],
    "prometheus": TABLE["callback: prometheus"],
}


def support(path: str) -> Support | None:
    """The row for a key path (``router_settings.num_retries``), or None when it has none."""
    return TABLE.get(path)
