"""``BudgetAlerts``: count spend, and alert before a budget is spent, not after.

Every attempt's cost is added to the ledger per provider, model group, team
and deployment, per UTC day and month. For budgeted scopes (providers, teams)
each call first reserves its worst-case cost; a reservation that would cross
the limit is refused (route away to a fallback, or 429), so concurrent calls
cannot overshoot. Thresholds (50/80/95 %) alert exactly once per period across
replicas, checked on reservations so they fire before the spend arrives; a
burn-rate forecast alerts when the current rate would spend the budget early.
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
from router_config.state.alerts import Alert, Alerter
from router_config.state.spend_ledger import SpendLedger, period_bounds, periods

Scope = tuple[str, str, float]  # (ledger field, period kind, limit in USD)
FORECAST_MIN_ELAPSED = 0.02  # no forecast from the first 2 % of a period: too little data


class BudgetAlerts(GatewayPlugin):
    """Ledger writes, reservations, threshold and forecast alerts, budget policy."""

    name = "budget_alerts"

    def __init__(
        self,
        settings: BudgetSettings,
        ledger: SpendLedger,
        alerter: Alerter,
        metrics: Metrics,
        now: Clock,
    ) -> None:
        self._s = settings
        self._ledger = ledger
        self._alerter = alerter
        self._gauge = metrics.budget_utilisation
        self._now = now
        self._reserved: dict[tuple[int, str], tuple[float, list[tuple[str, str]]]] = {}

    def _scopes(self, ctx: RequestContext, dep: Deployment) -> list[Scope]:
        limits: list[tuple[str, BudgetLimit | None]] = [
            (f"provider:{dep.provider}", self._s.providers.get(dep.provider)),
            (f"team:{ctx.team}", self._s.teams.get(ctx.team)),
        ]
        out: list[Scope] = []
        for field, limit in limits:
            if limit is None:
                continue
            for kind, cap in (("day", limit.daily_usd), ("month", limit.monthly_usd)):
                if cap is not None:
                    out.append((field, kind, cap))
        return out

    def _worst_case(self, ctx: RequestContext, dep: Deployment) -> float:
        prices = declared_prices(dep)
        prompt = ctx.prompt_tokens_estimate
        out = ctx.max_output_tokens or self._s.default_max_tokens
        return prompt * prices.get("input_cost_per_token", 0.0) + out * prices.get(
            "output_cost_per_token", 0.0
        )

    def _when(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._now(), dt.UTC)

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        scopes = self._scopes(ctx, deployment)
        if not scopes:
            return
        estimate = self._worst_case(ctx, deployment)
        when = self._when()
        done: list[tuple[str, str]] = []
        for field, kind, cap in scopes:
            pid = periods(when)[kind]
            committed = await self._ledger.add(pid, f"committed:{field}", estimate)
            if committed > cap + 1e-12:
                await self._ledger.add(pid, f"committed:{field}", -estimate)
                for done_pid, done_field in done:
                    await self._ledger.add(done_pid, f"committed:{done_field}", -estimate)
                await self._exhausted(ctx, field, kind, pid, cap, when)
            done.append((pid, field))
            await self._thresholds(field, kind, pid, committed, cap, when)
        self._reserved[(ctx.state_key, deployment.id)] = (estimate, done)

    async def _exhausted(
        self, ctx: RequestContext, field: str, kind: str, pid: str, cap: float, when: dt.datetime
    ) -> None:
        await self._alert(field, kind, pid, 1.0, cap, when, "exhausted")
        emit(
            "budget_exceeded",
            logging.WARNING,
            request_id=ctx.request_id,
            scope=field,
            period=pid,
            limit_usd=cap,
            policy=self._s.on_exceeded,
        )
        message = f"The {kind}ly budget for {field} (${cap:g}) is spent."
        if self._s.on_exceeded == "reject":
            raise BudgetExceeded(message)
        raise SkipDeployment(f"budget spent: {field}")

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        if attempt.outcome in ("streaming", "pending"):
            return  # a stream is settled when it ends, with its real usage
        dep, cost, when = attempt.deployment, attempt.cost_usd, self._when()
        estimate, reserved = self._reserved.pop((ctx.state_key, dep.id), (0.0, []))
        if not reserved:  # a retry of a reserved attempt: count its cost as committed too
            reserved = [(periods(when)[kind], field) for field, kind, _ in self._scopes(ctx, dep)]
        changes = [(pid, f"committed:{field}", cost - estimate) for pid, field in reserved]
        for pid in periods(when).values():
            changes += [
                (pid, field, cost)
                for field in (
                    f"provider:{dep.provider}",
                    f"group:{ctx.group}",
                    f"team:{ctx.team}",
                    f"deployment:{dep.id}",
                )
            ]
            changes.append((pid, f"attempts:provider:{dep.provider}", 1))
        values = await self._ledger.add_many(changes)  # one round trip for all of them
        committed = dict(zip(reserved, values, strict=False))
        for field, kind, cap in self._scopes(ctx, dep):
            pid = periods(when)[kind]
            spent = committed.get((pid, field))
            if spent is None:
                spent = (await self._ledger.read(pid)).get(f"committed:{field}", 0)
            self._gauge.labels(field, kind).set(spent / cap)
            await self._forecast(field, kind, pid, spent, cap, when)

    async def _thresholds(
        self, field: str, kind: str, pid: str, committed: float, cap: float, when: dt.datetime
    ) -> None:
        for threshold in sorted(self._s.thresholds):
            if committed >= threshold * cap:
                await self._alert(field, kind, pid, threshold, cap, when, "threshold")

    async def _forecast(
        self, field: str, kind: str, pid: str, spent: float, cap: float, when: dt.datetime
    ) -> None:
        start, end = period_bounds(kind, when)
        elapsed = (when - start) / (end - start)
        if not self._s.forecast or elapsed < FORECAST_MIN_ELAPSED or spent >= cap:
            return
        projected = spent / elapsed
        if projected > cap:
            await self._alert(field, kind, pid, projected / cap, cap, when, "forecast")

    async def _alert(
        self,
        field: str,
        kind: str,
        pid: str,
        share: float,
        cap: float,
        when: dt.datetime,
        what: str,
    ) -> None:
        _, end = period_bounds(kind, when)
        ttl = int((end - when).total_seconds()) + 86_400
        if what == "forecast":
            title = f"llm-router: {field} on track to spend its {kind}ly budget early"
            key = f"budget_forecast:{field}:{pid}"
            text = f"At the current rate {field} would spend {share:.0%} of ${cap:g} this {kind}."
        else:
            title = f"llm-router: {field} {kind}ly budget {share:.0%} used"
            key = f"budget:{field}:{pid}:{share:g}"
            text = f"{field} has committed {share:.0%} of its {kind}ly budget of ${cap:g}."
        await self._alerter.fire(
            Alert(
                kind=f"budget_{what}",
                title=title,
                message=text,
                dedupe_key=key,
                dedupe_ttl_s=ttl,
                severity="critical" if share >= 0.95 else "warning",
                fields={"scope": field, "period": pid, "share": round(share, 4), "limit_usd": cap},
            )
        )
