"""What the failover settings imply per model group, for ``llm-router check``.

The failover phase of a request (until some deployment's first token) is
bounded by ``deadline_s`` by construction: no deployment is started after it,
and one that is not its plan's last is cut at it. So a config is refused only
when that deadline itself can exceed the 5 s target in a group that has
somewhere to fail over to. The rest are the phases each attempt runs through,
printed so an engineer sees what the defaults mean before any latency has been
learned (after it, hedge points and limits follow each deployment's own p99).
"""

from __future__ import annotations

from dataclasses import dataclass

from router_config.config.plugin_settings import FailoverSettings
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


def budgets(config: RouterConfig) -> list[GroupBudget]:
    """One ``GroupBudget`` per model group, in config order."""
    f = config.plugins.failover
    planner = Planner(config)
    out = []
    for group in config.groups:
        plan = planner.plan(group)
        worst = _worst_failover_s(f, len(plan)) if len(plan) > 1 else None
        out.append(GroupBudget(group, len(plan), worst))
    return out


def _worst_failover_s(f: FailoverSettings, deployments: int) -> float:
    """Until a fallback is started when every earlier deployment hangs: its hedge point (or,
    with hedging off or its budget spent, its first-token limit), at most the deadline."""
    per_step = f.hedge_after_s if f.hedge else f.first_token_timeout_s
    return min(f.deadline_s, per_step * (deployments - 1))


def budget_issues(config: RouterConfig) -> list[ConfigIssue]:
    """Refuse a config whose failover phase can last the target time or more."""
    issues = []
    f = config.plugins.failover
    for b in budgets(config):
        if b.worst_case_s is not None and f.deadline_s > FAILOVER_TARGET_S:
            issues.append(
                ConfigIssue(
                    "router_plugins.failover.deadline_s",
                    f"model group {b.group!r} may spend {f.deadline_s:g} s before a fallback "
                    f"answers (target < {FAILOVER_TARGET_S:.0f} s)",
                    f"keep deadline_s at {FAILOVER_TARGET_S:.0f} or below: it bounds failover "
                    "only, never a healthy answer (see first_token_ceiling_s and "
                    "total_timeout_s for those)",
                )
            )
    return issues


def budget_lines(config: RouterConfig) -> list[str]:
    """Human-readable lines for ``llm-router check``."""
    f = config.plugins.failover
    hedging = (
        f"hedge after {f.hedge_after_s:g} s (learned: p99, at least {f.hedge_floor_s:g} s), "
        f"budget {f.hedge_budget:.0%} of calls"
        if f.hedge
        else "hedging off"
    )
    lines = [
        f"failover phase: deadline {f.deadline_s:g} s; {hedging}",
        f"  first token: {f.first_token_timeout_s:g} s until learned, then "
        f"{f.first_token_factor:g} x p99 within {f.first_token_floor_s:g}-"
        f"{f.first_token_ceiling_s:g} s; a plan's last deployment waits up to "
        f"{f.first_token_ceiling_s:g} s",
        f"  long prompts: +{f.prefill_s_per_1k_tokens:g} s per 1,000 prompt tokens to hedge "
        "points, limits and the deadline",
        f"  after the first token: {f.idle_timeout_s:g} s between chunks, "
        f"{f.total_timeout_s:g} s for a whole answer; retries {f.max_retries} "
        "(last deployment only)",
    ]
    for b in budgets(config):
        worst = "no fallback" if b.worst_case_s is None else f"{b.worst_case_s:.1f} s"
        lines.append(f"  {b.group}: a fallback is started within {worst} when all before it hang")
    return lines
