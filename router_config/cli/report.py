"""What ``llm-router check`` prints about a valid config.

A platform engineer reads this to confirm what an edit implies: which
deployments serve each model group and in which order, which provider and
pinned model each is, what it costs and where that price comes from (the
config or LiteLLM's price map), how traffic is shared, and which callbacks fire.
"""

from __future__ import annotations

from collections.abc import Sequence

from router_config.config.failover_budget import budget_lines
from router_config.config.schema import Deployment, RouterConfig
from router_config.flow.planner import Planner
from router_config.providers.direct_anthropic import is_direct_anthropic
from router_config.providers.direct_openai import is_direct
from router_config.providers.pricing import declared_prices, price_source


def summary(config: RouterConfig) -> str:
    """A plain-text table: model groups -> ordered deployments, then fallbacks and warnings."""
    rows: list[tuple[str, ...]] = [
        (
            "group",
            "#",
            "deployment",
            "provider",
            "pinned model",
            "api host",
            "$/1M in",
            "$/1M out",
            "price source",
        )
    ]
    planner = Planner(config)
    for group in config.groups:
        for n, dep in enumerate(planner.plan(group), start=1):
            rows.append((group if n == 1 else "", str(n), *_cells(dep)))
    for dep in (*config.wildcards, *config.others):
        kind = "wildcard" if dep in config.wildcards else f"({dep.mode})"
        rows.append((dep.group, kind, *_cells(dep)))
    lines = [
        f"{config.source}: OK, {len(config.deployments)} deployments in "
        f"{len(config.groups)} model groups",
        "",
        *_table(rows),
        "",
        *_routing_lines(config),
    ]
    for kind, table in (
        ("context-window fallbacks", config.context_window_fallbacks),
        ("content-policy fallbacks", config.content_policy_fallbacks),
    ):
        for source, targets in table.items():
            lines.append(f"{kind}: {source} -> {', '.join(targets)}")
    lines += ["", *budget_lines(config), *_call_lines(config), *_limit_lines(config)]
    lines.append(
        f"shared state: Redis {config.redis.describe()}, source {config.redis.source}"
        if config.redis
        else "shared state: this process only (no Redis configured)"
    )
    lines += [f"warning: {w}" for w in config.warnings]
    return "\n".join(lines)


def _cells(dep: Deployment) -> tuple[str, ...]:
    prices = declared_prices(dep)
    per_second = prices.get("input_cost_per_second") or prices.get("output_cost_per_second")
    return (
        dep.id,
        dep.provider,
        dep.pinned_model,
        dep.api_host or "(provider default)",
        _per_million(prices.get("input_cost_per_token")),
        _per_million(prices.get("output_cost_per_token")),
        f"{price_source(dep)}" + (f", ${per_second}/s" if per_second else ""),
    )


def _routing_lines(config: RouterConfig) -> list[str]:
    """How groups share traffic, aliases, default fallbacks and the callbacks that fire."""
    routing = config.routing
    out = [f"routing: {routing.strategy} among deployments of one order"]
    if routing.tag_filtering:
        out[0] += ", tag filtering on"
    out += [f"alias: {alias} -> {target}" for alias, target in config.aliases.items()]
    if config.default_fallbacks:
        out.append(f"default fallbacks: {', '.join(config.default_fallbacks)}")
    for source, targets in config.fallbacks.items():
        out.append(f"fallbacks: {source} -> {', '.join(targets)}")
    for kind, names in config.callbacks.items():
        out.append(f"litellm_settings.{kind}: {', '.join(names)} (fired for every attempt)")
    return out


def _call_lines(config: RouterConfig) -> list[str]:
    """Which deployments are called directly (OpenAI's format unchanged, or Anthropic's
    translated by LiteLLM) and which via LiteLLM's Router."""
    transport = config.plugins.transport
    direct = [d.id for d in config.deployments if transport.direct_openai and is_direct(d)]
    anthropic = [
        d.id for d in config.deployments if transport.direct_anthropic and is_direct_anthropic(d)
    ]
    other = [d.id for d in config.deployments if d.id not in direct and d.id not in anthropic]
    out = [f"calls, direct (OpenAI format, pooled): {', '.join(direct)}"] if direct else []
    if anthropic:
        out.append(
            "calls, direct (Anthropic, LiteLLM's translation, pooled; plain text requests): "
            + ", ".join(anthropic)
        )
    if other:
        out.append(f"calls, through LiteLLM's Router: {', '.join(other)}")
    return out


def _limit_lines(config: RouterConfig) -> list[str]:
    """Rate limits and key rotation, so an engineer sees what the file turns on."""
    out: list[str] = []
    for dep in config.deployments:
        if dep.rpm or dep.tpm:
            out.append(f"outbound limit: {dep.id} {_rate(dep.rpm, dep.tpm)} (shared by replicas)")
        if len(dep.api_keys) > 1:
            out.append(f"key rotation: {dep.id} has {len(dep.api_keys)} keys")
    for key in config.client_keys:
        if key.rpm or key.tpm:
            out.append(f"client limit: key {key.alias} (team {key.team}) {_rate(key.rpm, key.tpm)}")
    for team, limit in config.plugins.rate_limits.teams.items():
        out.append(f"client limit: team {team} {_rate(limit.rpm, limit.tpm)}")
    return out


def _rate(rpm: int | None, tpm: int | None) -> str:
    return ", ".join(f"{v} {unit}" for v, unit in ((rpm, "rpm"), (tpm, "tpm")) if v)


def _per_million(value: float | None) -> str:
    return "-" if value is None else f"{value * 1_000_000:.4g}"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out
