"""From the file's shape (``RawConfig``) to the gateway's shape (``RouterConfig``).

Here live the checks that span keys: deployment ids are unique, every group a
fallback names exists, client keys are usable. LiteLLM accepts fallbacks in
``router_settings`` or ``litellm_settings``; we read both, as its proxy does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import litellm

from router_config.config.failover_budget import budget_issues
from router_config.config.pinning import pin_issues
from router_config.config.redis_settings import redis_settings
from router_config.config.schema import ClientKey, Deployment, ModelEntry, RawConfig, RouterConfig
from router_config.errors import ConfigIssue
from router_config.keyhash import sha256_hex
from router_config.providers.pricing import declared_prices

FALLBACK_KINDS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")

# LiteLLM settings that would bypass or fight our own hooks; ignored with a warning.
_IGNORED_CALLBACKS = {"langfuse", "langfuse_otel"}


def normalize(
    raw: RawConfig, *, source: str, environ: Mapping[str, str], issues: list[ConfigIssue]
) -> RouterConfig:
    """Build the frozen config, appending every cross-key problem to ``issues``."""
    warnings: list[str] = []
    deployments = _deployments(raw.model_list, issues)
    groups: dict[str, list[str]] = {}
    for dep in sorted(deployments, key=_priority):
        groups.setdefault(dep.group, []).append(dep.id)
    fallbacks = {kind: _fallbacks(raw, kind, set(groups), issues) for kind in FALLBACK_KINDS}
    litellm_settings = _strip_callbacks(raw.litellm_settings, warnings)
    master = raw.general_settings.master_key
    warnings += _ignored_litellm_settings(raw)
    config = RouterConfig(
        source=source,
        deployments=tuple(deployments),
        groups={name: tuple(ids) for name, ids in groups.items()},
        fallbacks=fallbacks["fallbacks"],
        context_window_fallbacks=fallbacks["context_window_fallbacks"],
        content_policy_fallbacks=fallbacks["content_policy_fallbacks"],
        router_settings=dict(raw.router_settings),
        litellm_settings=litellm_settings,
        master_key=master if master is not None and master.get_secret_value() else None,
        client_keys=_client_keys(raw, issues),
        plugins=raw.router_plugins,
        redis=redis_settings(raw.router_settings, raw.litellm_settings, environ, issues),
        warnings=tuple(warnings),
    )
    issues.extend(budget_issues(config))
    issues.extend(_price_issues(config))
    pin_errors, pin_warnings = pin_issues(
        config.deployments, dt.date.today(), raw.router_plugins.pinning.retire_warn_days
    )
    issues.extend(pin_errors)
    return config.model_copy(update={"warnings": (*config.warnings, *pin_warnings)})


def _price_issues(config: RouterConfig) -> list[ConfigIssue]:
    """LiteLLM prices unknown models at $0 silently: we refuse a deployment with no price."""
    out = []
    for dep in config.deployments:
        if declared_prices(dep) or dep.model_info.get("free") is True:
            continue
        out.append(
            ConfigIssue(
                f"model_list[{dep.index}].model_info",
                f"deployment {dep.id!r} declares no price, so its spend would be counted as $0",
                "set model_info.input_cost_per_token and output_cost_per_token (USD per token), "
                "or model_info.free: true for a model you do not pay per token",
            )
        )
    return out


# LiteLLM settings our own attempt loop replaces: accepted for compatibility, not applied.
_REPLACED = (
    "num_retries",
    "timeout",
    "stream_timeout",
    "allowed_fails",
    "cooldown_time",
    "retry_policy",
    "request_timeout",
)


def _ignored_litellm_settings(raw: RawConfig) -> list[str]:
    out = []
    for section in ("router_settings", "litellm_settings"):
        for key in _REPLACED:
            if key in getattr(raw, section):
                out.append(
                    f"{section}.{key} is not applied: llm-router's own failover "
                    "(router_plugins.failover / breaker) replaces it"
                )
    return out


def _priority(dep: Deployment) -> tuple[int, int]:
    return (dep.order if dep.order is not None else 1_000_000, dep.index)


def _deployments(entries: tuple[ModelEntry, ...], issues: list[ConfigIssue]) -> list[Deployment]:
    out: list[Deployment] = []
    seen: set[str] = set()
    per_group: dict[str, int] = {}
    for i, entry in enumerate(entries):
        path = f"model_list[{i}]"
        params = entry.litellm_params
        try:
            model, provider, _, _ = litellm.get_llm_provider(params.model, api_base=params.api_base)
        except Exception:  # LiteLLM raises bare Exception subclasses of its own here
            issues.append(
                ConfigIssue(
                    f"{path}.litellm_params.model",
                    f"cannot tell which provider serves {params.model!r}",
                    "prefix it with the provider, e.g. openai/, anthropic/, "
                    "hosted_vllm/ or ollama/",
                )
            )
            continue
        n = per_group.get(entry.model_name, 0)
        per_group[entry.model_name] = n + 1
        dep_id = str(entry.model_info.get("id") or f"{entry.model_name}.{provider}.{n}")
        if dep_id in seen:
            issues.append(
                ConfigIssue(
                    f"{path}.model_info.id",
                    f"id {dep_id!r} is used twice",
                    "give every deployment a unique model_info.id",
                )
            )
        seen.add(dep_id)
        if params.api_keys and params.api_key is not None:
            issues.append(
                ConfigIssue(
                    f"{path}.litellm_params.api_keys",
                    "api_key and api_keys are both set",
                    "list every key under api_keys and remove api_key",
                )
            )
        out.append(
            Deployment(
                id=dep_id,
                group=entry.model_name,
                index=i,
                provider=provider,
                model=params.model,
                pinned_model=model,
                api_base=params.api_base,
                order=params.order,
                litellm_params=_plain_params(entry),
                model_info=dict(entry.model_info),
                api_keys=params.api_keys or ((params.api_key,) if params.api_key else ()),
            )
        )
    return out


def _plain_params(entry: ModelEntry) -> dict[str, Any]:
    params = entry.litellm_params.model_dump(exclude_none=True, exclude={"api_keys"})
    key = entry.litellm_params.api_key
    if key is not None:
        params["api_key"] = key.get_secret_value()
    return params


def _fallbacks(
    raw: RawConfig, kind: str, groups: set[str], issues: list[ConfigIssue]
) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for section in ("router_settings", "litellm_settings"):
        value = getattr(raw, section).get(kind)
        if value is None:
            continue
        path = f"{section}.{kind}"
        if not isinstance(value, list):
            issues.append(
                ConfigIssue(
                    path,
                    "must be a list like [{chat: [chat-backup]}]",
                    "write one mapping per source group",
                )
            )
            continue
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                issues.append(
                    ConfigIssue(
                        f"{path}[{i}]",
                        "must map a group to a list of groups",
                        "write it as {chat: [chat-backup]}",
                    )
                )
                continue
            for source, targets in item.items():
                names = [targets] if isinstance(targets, str) else list(targets or [])
                for name in [source, *names]:
                    if name not in groups:
                        issues.append(
                            ConfigIssue(
                                f"{path}[{i}].{source}",
                                f"model group {name!r} is not in model_list",
                                f"use one of: {', '.join(sorted(groups))}",
                            )
                        )
                out[str(source)] = (*out.get(str(source), ()), *map(str, names))
    return out


def _strip_callbacks(settings: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    out = dict(settings)
    for key in ("success_callback", "failure_callback", "callbacks"):
        names = out.get(key)
        if isinstance(names, list) and _IGNORED_CALLBACKS & set(map(str, names)):
            out[key] = [n for n in names if n not in _IGNORED_CALLBACKS]
            warnings.append(
                f"litellm_settings.{key}: LiteLLM's langfuse callback needs the old "
                "Langfuse SDK and is ignored; llm-router traces to Langfuse itself"
            )
    return out


def _client_keys(raw: RawConfig, issues: list[ConfigIssue]) -> tuple[ClientKey, ...]:
    out: list[ClientKey] = []
    for i, ck in enumerate(raw.router_plugins.client_keys):
        path = f"router_plugins.client_keys[{i}]"
        if (ck.key is None) == (ck.key_sha256 is None):
            issues.append(
                ConfigIssue(
                    path,
                    "needs exactly one of key or key_sha256",
                    "set key: os.environ/NAME, or key_sha256: <hex digest>",
                )
            )
            continue
        digest = ck.key_sha256 or sha256_hex(ck.key or "")
        alias = ck.alias or f"{ck.team}-{digest[:8]}"
        if alias in {k.alias for k in out}:
            issues.append(
                ConfigIssue(
                    f"{path}.alias",
                    f"alias {alias!r} is used by another client key",
                    "give every client key its own alias (logs, traces and limits use it)",
                )
            )
        out.append(
            ClientKey(
                sha256=digest, team=ck.team, alias=alias, models=ck.models, rpm=ck.rpm, tpm=ck.tpm
            )
        )
    return tuple(out)
