"""What ``llm-router versions`` prints: current pins, retirements, history of changes."""

from __future__ import annotations

from plugins.version_history import VersionHistory
from router_config.config.pinning import (
    base_name,
    catalog,
    is_floating_deployment,
    pinned_version,
)
from router_config.config.schema import RouterConfig
from router_config.state.shared_state import shared_redis


async def pins_report(config: RouterConfig) -> str:
    """Current pins as a table, then each recorded change, oldest first."""
    lines = [
        "deployment                      provider     pinned version                   retires"
    ]
    for dep in config.deployments:
        retires = catalog().retires.get(base_name(dep.pinned_model))
        floating = " (floating: pinned on first sight)" if is_floating_deployment(dep) else ""
        lines.append(
            f"{dep.id:<31} {dep.provider:<12} {pinned_version(dep):<32} "
            f"{retires.isoformat() if retires else '-'}{floating}"
        )
    redis = shared_redis(config)
    try:
        history = await VersionHistory.of(config, redis).entries()
    finally:
        if redis is not None:
            await redis.close()
    lines += ["", f"history ({len(history)} entries):"]
    for entry in history:
        lines.append(f"  {entry['time']}  config {entry['config_hash']}  ({entry['source']})")
        for change in entry["changes"]:
            lines.append(
                f"    {change['deployment']}: {change['from'] or '(new)'} -> "
                f"{change['to'] or '(removed)'}"
            )
    return "\n".join(lines)
