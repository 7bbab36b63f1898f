"""What the timeouts imply: the worst-case time before a fallback answers, per model group.

A deployment that is not the last in its plan gets at most
``first_token_timeout_s`` (its first token, or its whole non-streaming answer)
before the next one is tried, and retries happen only on the last one. So,
when the primary hangs, a fallback has answered (its first token) within
``2 x first_token_timeout_s``, capped by ``deadline_s``. The product target is
< 5 s; a config that can reach it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from router_config.config.schema import RouterConfig
from router_config.errors import ConfigIssue
from router_config.flow.planner import Planner

FAILOVER_TARGET_S = 5.0


@dataclass(frozen=True)
class GroupBudget:
    """The failover arithmetic of one model group."""

    group: str
    deployments: int
    worst_case_s: float | None  # None: no fallback to fail over to
    unreachable: tuple[str, ...]  # deployments the deadline cuts off if every earlier one hangs


def budgets(config: RouterConfig) -> list[GroupBudget]:
    """One ``GroupBudget`` per model group, in config order."""
    f = config.plugins.failover
    planner = Planner(config)
    out = []
    for group in config.groups:
        plan = planner.plan(group)
        worst = min(f.deadline_s, 2 * f.first_token_timeout_s) if len(plan) > 1 else None
        cut = tuple(
            d.id
            for k, d in enumerate(plan)
            if k * f.first_token_timeout_s > f.deadline_s - f.min_attempt_s
        )
        out.append(GroupBudget(group, len(plan), worst, cut))
    return out


def budget_issues(config: RouterConfig) -> list[ConfigIssue]:
    """Refuse a config whose failover can take the target time or more."""
    issues = []
    for b in budgets(config):
        if b.worst_case_s is not None and b.worst_case_s >= FAILOVER_TARGET_S:
            issues.append(
                ConfigIssue(
                    "router_plugins.failover.first_token_timeout_s",
                    f"model group {b.group!r} can take {b.worst_case_s:.1f} s to fail over "
                    f"when its primary hangs (target < {FAILOVER_TARGET_S:.0f} s)",
                    f"keep 2 x first_token_timeout_s under {FAILOVER_TARGET_S:.0f} s "
                    "(the default 2 s gives 4 s)",
                )
            )
    return issues


def budget_lines(config: RouterConfig) -> list[str]:
    """Human-readable lines for ``llm-router check``."""
    f = config.plugins.failover
    lines = [
        f"failover: deadline {f.deadline_s:g} s, first-token timeout "
        f"{f.first_token_timeout_s:g} s, retries {f.max_retries} (last deployment only)"
    ]
    for b in budgets(config):
        worst = "no fallback" if b.worst_case_s is None else f"{b.worst_case_s:.1f} s"
        lines.append(f"  {b.group}: worst case before a fallback answers: {worst}")
        if b.unreachable:
            lines.append(
                f"    warning: if every earlier deployment hangs, the deadline cuts "
                f"off {', '.join(b.unreachable)}"
            )
    return lines
