"""``BudgetAlerts``: count spend, and alert before a budget is spent, not after.

Every attempt's cost goes to the spend ledger (journal first, then Redis) per
provider, model group, team, deployment, client key and end user, per UTC day
and month. For budgeted scopes (providers, teams) each call first reserves its
worst-case cost from this replica's lease of the budget (``budget_leases``); a
call that does not fit is refused (route away to a fallback, or 429), so
concurrent calls on any number of replicas cannot overshoot, and a replica cut
off from Redis overshoots by at most its lease. Thresholds (50/80/95 %) alert
exactly once per period across replicas, checked on committed spend (spent plus
every lease) so they fire before the spend arrives; a burn-rate forecast alerts
when the current rate would spend the budget early.
"""

from __future__ import annotations

import datetime as dt
import logging

from router_config.config.plugin_settings import BudgetLimit, BudgetSettings
from router_config.config.schema import Deployment
from router_config.errors import BudgetExceeded
from router_config.flow.hooks import Attempt, Clock, GatewayPlugin, RequestContext, SkipDeployment
from router_config.logs import emit
from router_config.metrics import Metrics
from router_config.providers.pricing import declared_prices
from router_config.state.alerts import Alerter
from router_config.state.budget_leases import BudgetLeases, BudgetScope
from router_config.state.budget_messages import budget_alert, refusal
from router_config.state.periods import period_bounds, periods
from router_config.state.spend_journal import Label
from router_config.state.spend_ledger import NANO, SpendLedger, to_nano

FORECAST_MIN_ELAPSED = 0.02  # no forecast from the first 2 % of a period: too little data
USER_MAX = 128
_ADJECTIVE = {
    "day": "daily",
    "month": "monthly",
}  # an end-user id longer than this is cut: it is a label, not a payload


class BudgetAlerts(GatewayPlugin):
    """Ledger writes, reservations, threshold and forecast alerts, budget policy."""

    name = "budget_alerts"

    def __init__(
        self,
        settings: BudgetSettings,
        ledger: SpendLedger,
        leases: BudgetLeases,
        alerter: Alerter,
        metrics: Metrics,
        now: Clock,
    ) -> None:
        self._s = settings
        self._ledger = ledger
        self._leases = leases
        self._alerter = alerter
        self._gauge = metrics.budget_utilisation
        self._now = now
        self._reserved: dict[tuple[int, str], tuple[int, list[BudgetScope]]] = {}
        self._recorded: dict[int, set[int]] = {}  # per request: attempts already in the ledger

    def _scopes(self, ctx: RequestContext, dep: Deployment, when: dt.datetime) -> list[BudgetScope]:
        limits: list[tuple[str, BudgetLimit | None]] = [
            (f"provider:{dep.provider}", self._s.providers.get(dep.provider)),
            (f"team:{ctx.team}", self._s.teams.get(ctx.team)),
        ]
        pids = periods(when)
        return [
            BudgetScope(field, pids[kind], to_nano(cap))
            for field, limit in limits
            if limit is not None
            for kind, cap in (("day", limit.daily_usd), ("month", limit.monthly_usd))
            if cap is not None
        ]

    def _worst_case(self, ctx: RequestContext, dep: Deployment) -> float:
        """The prompt (estimated high) once, plus every choice's output cap."""
        prices = declared_prices(dep)
        output = (ctx.max_output_tokens or self._s.default_max_tokens) * ctx.choices
        return ctx.prompt_tokens_estimate * prices.get(
            "input_cost_per_token", 0.0
        ) + output * prices.get("output_cost_per_token", 0.0)

    def _when(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._now(), dt.UTC)

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        when = self._when()
        scopes = self._scopes(ctx, deployment, when)
        if not scopes:
            return
        estimate = to_nano(self._worst_case(ctx, deployment))
        grant = await self._leases.reserve(scopes, estimate)
        for scope, committed in grant.committed.items():
            await self._thresholds(scope, committed, when)
        if grant.refused is not None:
            await self._exhausted(ctx, grant.refused, grant.confirmed, when)
        self._reserved[(ctx.state_key, deployment.id)] = (estimate, scopes)

    async def _exhausted(
        self, ctx: RequestContext, scope: BudgetScope, confirmed: bool, when: dt.datetime
    ) -> None:
        if confirmed:
            await self._alert(scope, 1.0, when, "exhausted")
        message = refusal(scope, confirmed)
        emit(
            "budget_exceeded" if confirmed else "budget_unconfirmed",
            logging.WARNING,
            request_id=ctx.request_id,
            scope=scope.field,
            period=scope.pid,
            limit_usd=scope.cap / NANO,
            policy=self._s.on_exceeded,
        )
        if self._s.on_exceeded == "reject":
            raise BudgetExceeded(message)
        raise SkipDeployment(f"budget spent: {scope.field}" if confirmed else "budget_unconfirmed")

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        if attempt.outcome in ("streaming", "pending"):
            return  # a stream is settled when it ends, with its real usage
        await self._settle(ctx, attempt)

    async def on_request_end(self, ctx: RequestContext) -> None:
        """Nothing stays reserved after a request: an attempt never settled (a stream that
        ended without its final hook) is settled now with what it has, else released."""
        for key in [k for k in self._reserved if k[0] == ctx.state_key]:
            done = self._recorded.get(ctx.state_key, set())
            unsettled = [a for a in ctx.attempts if a.deployment.id == key[1] and id(a) not in done]
            if unsettled:
                await self._settle(ctx, unsettled[-1])
            else:
                estimate, scopes = self._reserved.pop(key)
                self._leases.settle(scopes, estimate, 0)
        self._recorded.pop(ctx.state_key, None)

    async def _settle(self, ctx: RequestContext, attempt: Attempt) -> None:
        """Journal the attempt's cost, then take it off the leases its reservation used."""
        dep, when = attempt.deployment, self._when()
        estimate, scopes = self._reserved.pop((ctx.state_key, dep.id), (0, []))
        if not scopes:  # a retry of a reserved attempt: its cost is committed too
            scopes = self._scopes(ctx, dep, when)
        pids = periods(when)
        fields = [f"provider:{dep.provider}", f"group:{ctx.group}", f"team:{ctx.team}"]
        fields.append(f"deployment:{dep.id}")
        if ctx.key_alias:
            fields.append(f"key:{ctx.key_alias}")
        user = ctx.params.get("user")
        if isinstance(user, str) and user:
            fields.append(f"user:{user[:USER_MAX]}")
        label = Label(
            pids["day"],
            pids["month"],
            tuple(fields),
            f"attempts:provider:{dep.provider}",
            tuple(dict.fromkeys(s.field for s in scopes)),
        )
        cost = self._ledger.record(self._now(), attempt.cost_usd, label)
        self._recorded.setdefault(ctx.state_key, set()).add(id(attempt))
        self._leases.settle(scopes, estimate, cost)
        for scope in scopes:
            committed = self._leases.committed(scope)
            kind = scope.pid.split(":", 1)[0]
            self._gauge.labels(scope.field, kind).set(committed / scope.cap)
            await self._forecast(scope, committed, when)

    async def _thresholds(self, scope: BudgetScope, committed: int, when: dt.datetime) -> None:
        for threshold in sorted(self._s.thresholds):
            if committed >= threshold * scope.cap:
                await self._alert(scope, threshold, when, "threshold")

    async def _forecast(self, scope: BudgetScope, spent: int, when: dt.datetime) -> None:
        start, end = period_bounds(scope.pid.split(":", 1)[0], when)
        elapsed = (when - start) / (end - start)
        if not self._s.forecast or elapsed < FORECAST_MIN_ELAPSED or spent >= scope.cap:
            return
        projected = spent / elapsed
        if projected > scope.cap:
            await self._alert(scope, projected / scope.cap, when, "forecast")

    async def _alert(self, scope: BudgetScope, share: float, when: dt.datetime, what: str) -> None:
        await self._alerter.fire(budget_alert(scope, share, when, what))
