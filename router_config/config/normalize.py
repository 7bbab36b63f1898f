"""From the file's shape (``RawConfig``) to the gateway's shape (``RouterConfig``).

Here live the checks that span keys: deployment ids are unique, every group a
fallback or alias names exists (directly or through a wildcard route), client
keys are usable, every billed deployment has a price. LiteLLM accepts
fallbacks in ``router_settings`` or ``litellm_settings``; we read both, as its
proxy does. LiteLLM's cache, routing and callback settings are mapped here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from router_config.config.callback_names import configured_callbacks
from router_config.config.deployments import kind_of, sort_deployments
from router_config.config.failover_budget import budget_issues
from router_config.config.litellm_cache import map_cache
from router_config.config.litellm_routing import routing_settings
from router_config.config.pinning import pin_issues, pin_reference
from router_config.config.price_check import price_issues
from router_config.config.redis_settings import redis_settings
from router_config.config.routes import (
    group_kind,
    resolve_group,
    wildcard_issues,
    wildcard_warnings,
)
from router_config.config.schema import ClientKey, Deployment, RawConfig, RouterConfig
from router_config.errors import ConfigIssue
from router_config.keyhash import sha256_hex

FALLBACK_KINDS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")


def normalize(
    raw: RawConfig,
    *,
    source: str,
    environ: Mapping[str, str],
    issues: list[ConfigIssue],
    strict: bool = False,
) -> RouterConfig:
    """Build the frozen config, appending every cross-key problem to ``issues``.

    ``strict`` (``check --strict``) refuses floating aliases as
    ``router_plugins.pinning.require_pins`` does."""
    found = sort_deployments(raw.model_list, issues)
    warnings = list(found.warnings)
    groups: dict[str, list[str]] = {}
    for dep in sorted(found.served, key=_priority):
        groups.setdefault(dep.group, []).append(dep.id)
    aliases, hidden = _aliases(raw.router_settings, issues)
    kinds = _kinds(found.served, issues)
    shape = RouterConfig(
        source=source,
        deployments=tuple(found.served),
        groups={name: tuple(ids) for name, ids in groups.items()},
        kinds=kinds,
        fallbacks={},
        context_window_fallbacks={},
        content_policy_fallbacks={},
        router_settings=dict(raw.router_settings),
        litellm_settings=dict(raw.litellm_settings),
        master_key=None,
        client_keys=(),
        plugins=raw.router_plugins,
        redis=None,
        wildcards=tuple(found.wildcards),
        others=tuple(found.other),
        aliases=aliases,
        hidden_aliases=hidden,
    )
    for alias, target in aliases.items():
        if resolve_group(shape, target, call=None) is None:
            path = f"router_settings.model_group_alias.{alias}"
            issues.append(_unknown_group(path, target, shape))
    fallbacks = {kind: _fallbacks(raw, kind, shape, issues) for kind in FALLBACK_KINDS}
    cache = map_cache(
        raw.litellm_settings,
        raw.router_plugins.cache,
        "cache" in raw.router_plugins.model_fields_set,
        environ,
    )
    warnings += cache.warnings
    master = raw.general_settings.master_key
    config = shape.model_copy(
        update={
            "fallbacks": fallbacks["fallbacks"],
            "context_window_fallbacks": fallbacks["context_window_fallbacks"],
            "content_policy_fallbacks": fallbacks["content_policy_fallbacks"],
            "default_fallbacks": _default_fallbacks(raw, shape, issues),
            "master_key": master if master is not None and master.get_secret_value() else None,
            "client_keys": _client_keys(raw, issues),
            "plugins": raw.router_plugins.model_copy(update={"cache": cache.settings}),
            "redis": redis_settings(raw.router_settings, raw.litellm_settings, environ, issues),
            "routing": routing_settings(raw.router_settings, issues, warnings),
            "callbacks": configured_callbacks(raw.litellm_settings, source, issues, warnings),
            "environment": {k: str(v) for k, v in raw.environment_variables.items()},
        }
    )
    issues.extend(budget_issues(config))
    price_errors, price_warnings = price_issues(config)
    issues.extend(price_errors)
    require = raw.router_plugins.pinning.require_pins or strict
    pin_errors, pin_warnings = pin_issues(
        config.deployments,
        dt.date.today(),
        raw.router_plugins.pinning.retire_warn_days,
        require_pins=require,
    )
    issues.extend(pin_errors)
    issues.extend(wildcard_issues(config, require))
    warnings += price_warnings + pin_warnings + wildcard_warnings(config, require)
    warnings += _mixed_embedding_models(config)
    return config.model_copy(update={"warnings": tuple(warnings)})


def _priority(dep: Deployment) -> tuple[int, int]:
    return (dep.order if dep.order is not None else 1_000_000, dep.index)


def _kinds(deployments: list[Deployment], issues: list[ConfigIssue]) -> dict[str, str]:
    """Each group's kind; a group mixing chat and embedding models is refused (a request
    could be sent to a model that cannot answer it)."""
    kinds: dict[str, str] = {}
    for dep in deployments:
        kind = kind_of(dep.mode)
        known = kinds.setdefault(dep.group, kind)
        if known != kind:
            issues.append(
                ConfigIssue(
                    f"model_list[{dep.index}].model_name",
                    f"model group {dep.group!r} mixes {known} and {kind} models "
                    f"({dep.pinned_model} is a {dep.mode} model)",
                    "give embedding models a model_name of their own",
                )
            )
    return kinds


def _aliases(
    settings: Mapping[str, Any], issues: list[ConfigIssue]
) -> tuple[dict[str, str], frozenset[str]]:
    """``model_group_alias``: ``{alias: group}`` or ``{alias: {model: group, hidden: true}}``."""
    value = settings.get("model_group_alias") or {}
    if not isinstance(value, Mapping):
        issues.append(
            ConfigIssue(
                "router_settings.model_group_alias",
                "must map an alias to a model group",
                'write it as {"gpt-4": "chat"}',
            )
        )
        return {}, frozenset()
    aliases: dict[str, str] = {}
    hidden: set[str] = set()
    for alias, target in value.items():
        if isinstance(target, Mapping):
            aliases[str(alias)] = str(target.get("model"))
            if target.get("hidden"):
                hidden.add(str(alias))
        else:
            aliases[str(alias)] = str(target)
    return aliases, frozenset(hidden)


def _default_fallbacks(
    raw: RawConfig, shape: RouterConfig, issues: list[ConfigIssue]
) -> tuple[str, ...]:
    """``default_fallbacks`` (either section): tried by any group without fallbacks of its own."""
    out: list[str] = []
    for section in ("router_settings", "litellm_settings"):
        value = getattr(raw, section).get("default_fallbacks")
        if value is None:
            continue
        names = [value] if isinstance(value, str) else list(value)
        for name in map(str, names):
            if resolve_group(shape, name, call=None) is None:
                issues.append(_unknown_group(f"{section}.default_fallbacks", name, shape))
            elif name not in out:
                out.append(name)
    return tuple(out)


def _unknown_group(path: str, name: str, shape: RouterConfig) -> ConfigIssue:
    return ConfigIssue(
        path,
        f"model group {name!r} is not in model_list",
        f"use one of: {', '.join(sorted(shape.groups))}",
    )


def _fallbacks(
    raw: RawConfig, kind: str, shape: RouterConfig, issues: list[ConfigIssue]
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
                    if resolve_group(shape, str(name), call=None) is None:
                        issues.append(_unknown_group(f"{path}[{i}].{source}", str(name), shape))
                issues.extend(_kind_issues(shape, f"{path}[{i}].{source}", str(source), names))
                out[str(source)] = (*out.get(str(source), ()), *map(str, names))
    return out


def _mixed_embedding_models(config: RouterConfig) -> list[str]:
    """An embedding group whose deployments or fallbacks are different models would answer
    with vectors callers cannot compare to those they stored: said once per group."""
    by_id = {d.id: d for d in config.deployments}
    out = []
    for group, kind in config.kinds.items():
        if kind != "embedding":
            continue
        names = [group, *config.fallbacks.get(group, config.default_fallbacks)]
        ids = [i for name in names for i in config.groups.get(name, (name,)) if i in by_id]
        models = sorted({pin_reference(by_id[i]) for i in ids if by_id[i].mode == "embedding"})
        if len(models) > 1:
            out.append(
                f"embedding group {group!r} may be answered by different models "
                f"({', '.join(models)}): their vectors cannot be compared with each other; "
                "fall back only to deployments of the same model"
            )
    return out


def _kind_issues(
    shape: RouterConfig, path: str, source: str, targets: list[Any]
) -> list[ConfigIssue]:
    """A fallback serves the same kind of request as its source (chat or embedding)."""
    want = group_kind(shape, source)
    return [
        ConfigIssue(
            path,
            f"{source!r} serves {want} requests but its fallback {name!r} serves {got} ones",
            f"list only {want} model groups as fallbacks of {source!r}",
        )
        for name in map(str, targets)
        if want is not None and (got := group_kind(shape, name)) is not None and got != want
    ]


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
