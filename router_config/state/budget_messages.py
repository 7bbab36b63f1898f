"""What budget alerts and refusals say: one place for their wording and de-duplication keys.

Each alert is claimed once per period across replicas (its key names the scope, the
period and the threshold), and lives until a day after its period ends.
"""

from __future__ import annotations

import datetime as dt

from router_config.state.alerts import Alert
from router_config.state.budget_leases import BudgetScope
from router_config.state.periods import period_bounds
from router_config.state.spend_ledger import NANO

ADJECTIVE = {"day": "daily", "month": "monthly"}


def budget_alert(scope: BudgetScope, share: float, when: dt.datetime, what: str) -> Alert:
    """``what``: ``threshold`` (``share`` of the budget committed), ``exhausted`` (share 1)
    or ``forecast`` (``share`` is where the current rate would end the period)."""
    kind, cap, field, pid = scope.pid.split(":", 1)[0], scope.cap / NANO, scope.field, scope.pid
    _, end = period_bounds(kind, when)
    if what == "forecast":
        title = f"llm-router: {field} on track to spend its {ADJECTIVE[kind]} budget early"
        key = f"budget_forecast:{field}:{pid}"
        text = f"At the current rate {field} would spend {share:.0%} of ${cap:g} this {kind}."
    else:
        title = f"llm-router: {field} {ADJECTIVE[kind]} budget {share:.0%} used"
        key = f"budget:{field}:{pid}:{share:g}"
        text = f"{field} has committed {share:.0%} of its {ADJECTIVE[kind]} budget of ${cap:g}."
    return Alert(
        kind=f"budget_{what}",
        title=title,
        message=text,
        dedupe_key=key,
        dedupe_ttl_s=int((end - when).total_seconds()) + 86_400,
        severity="critical" if share >= 0.95 else "warning",
        fields={"scope": field, "period": pid, "share": round(share, 4), "limit_usd": cap},
    )


def refusal(scope: BudgetScope, confirmed: bool) -> str:
    """The caller's message when ``scope`` has no room (or none this replica may confirm)."""
    kind, cap = ADJECTIVE[scope.pid.split(":", 1)[0]], scope.cap / NANO
    if confirmed:
        return f"The {kind} budget for {scope.field} (${cap:g}) is spent."
    return (
        f"The {kind} budget for {scope.field} (${cap:g}) cannot be confirmed while Redis is "
        "unreachable, and this replica's share of it is used up."
    )
