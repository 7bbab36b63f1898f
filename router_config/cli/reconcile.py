"""``llm-router reconcile``: the gateway's spend ledger against Langfuse, by provider and team.

The ledger (Redis, or a gateway's ``GET /admin/spend``) is what budgets are enforced on;
Langfuse is what finance reads. Both hold the same per-call costs, so for one UTC day or
month they should agree, and where they do not the rows say by how much. Langfuse's
figures come from its Metrics API v2 (``GET /api/public/v2/metrics``, the only metrics
API a Langfuse v4 deployment in its default events-only write mode answers): the sum of
``totalCost`` over the gateway's generations (``llm:<provider>``) grouped by observation
name (provider) and by user id (team).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import os
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from router_config.config.schema import RouterConfig
from router_config.state.shared_state import shared_redis
from router_config.state.spend_ledger import KEEP_S, period_bounds, periods
from router_config.state.spend_report import redis_reader, spend

GENERATION_PREFIX = "llm:"
ROW_LIMIT = 1000  # Metrics API v2's maximum rows per query


class ReconcileError(Exception):
    """Reconciliation could not run (bad period, Langfuse or the ledger unreachable)."""


@dataclass(frozen=True)
class Period:
    """One UTC day or month, as the ledger names it and as a time range."""

    kind: str
    start: dt.datetime
    end: dt.datetime  # exclusive

    @property
    def ledger_id(self) -> str:
        return periods(self.start)[self.kind]

    @classmethod
    def parse(cls, kind: str, at: str | None, now: dt.datetime) -> Period:
        """``at`` is ``YYYY-MM`` (month) or ``YYYY-MM-DD`` (day); absent: the current one."""
        if kind not in ("day", "month"):
            raise ReconcileError(f"--period must be day or month, not {kind!r}")
        when = now
        if at is not None:
            pattern = "%Y-%m-%d" if kind == "day" else "%Y-%m"
            try:
                when = dt.datetime.strptime(at, pattern).replace(tzinfo=dt.UTC)
            except ValueError:
                example = "2026-11-25" if kind == "day" else "2026-11"
                raise ReconcileError(f"--at for a {kind} is like {example}, not {at!r}") from None
        start, end = period_bounds(kind, when)
        return cls(kind, start, end)


@dataclass(frozen=True)
class Row:
    """One provider or team: what each side says it cost."""

    by: str
    name: str
    ledger_usd: float
    langfuse_usd: float

    @property
    def diff_usd(self) -> float:
        return self.ledger_usd - self.langfuse_usd


class LangfuseMetrics:
    """Metrics API v2 of one Langfuse project (Basic auth with its public and secret key)."""

    def __init__(
        self, host: str, public_key: str, secret_key: str, *, timeout_s: float = 30.0
    ) -> None:
        self._url = host.rstrip("/") + "/api/public/v2/metrics"
        self._auth = (public_key, secret_key)
        self._timeout_s = timeout_s

    def query(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = httpx.get(
                self._url,
                params={"query": orjson.dumps(body).decode()},
                auth=self._auth,
                timeout=self._timeout_s,
            )
        except httpx.HTTPError as exc:
            raise ReconcileError(f"Langfuse at {self._url} did not answer: {exc}") from None
        if response.status_code in (401, 403):
            raise ReconcileError("Langfuse refused the project keys (LANGFUSE_PUBLIC/SECRET_KEY)")
        if response.status_code != 200:
            raise ReconcileError(
                f"Langfuse answered {response.status_code} to the Metrics API v2 query "
                f"(it needs Langfuse v4 in a v4 write mode): {response.text[:300]}"
            )
        return list(response.json().get("data") or [])

    def spend_by(self, dimension: str, period: Period, environment: str | None) -> dict[str, float]:
        """Sum of ``totalCost`` of the gateway's generations, grouped by ``dimension``."""
        filters = [
            _filter("type", "=", "GENERATION"),
            _filter("name", "starts with", GENERATION_PREFIX),
        ]
        if environment:
            filters.append(_filter("environment", "=", environment))
        last = period.end - dt.timedelta(milliseconds=1)  # Langfuse's upper bound is inclusive
        rows = self.query(
            {
                "view": "observations",
                "dimensions": [{"field": dimension}],
                "metrics": [{"measure": "totalCost", "aggregation": "sum"}],
                "filters": filters,
                "fromTimestamp": _iso(period.start),
                "toTimestamp": _iso(last),
                # userId is a high-cardinality dimension: Langfuse wants a top-N query.
                "orderBy": [{"field": "sum_totalCost", "direction": "desc"}],
                "config": {"row_limit": ROW_LIMIT},
            }
        )
        if len(rows) >= ROW_LIMIT:
            raise ReconcileError(f"more than {ROW_LIMIT} values of {dimension}: narrow the period")
        return {str(r.get(dimension)): float(r.get("sum_totalCost") or 0) for r in rows}


def _filter(column: str, operator: str, value: str) -> dict[str, str]:
    return {"column": column, "operator": operator, "value": value, "type": "string"}


def langfuse_spend(
    metrics: LangfuseMetrics, period: Period, environment: str | None
) -> dict[str, dict[str, float]]:
    """Langfuse's spend by provider (from ``llm:<provider>`` names) and by team (user id)."""
    by_name = metrics.spend_by("name", period, environment)
    providers = {
        name.removeprefix(GENERATION_PREFIX): usd
        for name, usd in by_name.items()
        if name.startswith(GENERATION_PREFIX)
    }
    return {"provider": providers, "team": metrics.spend_by("userId", period, environment)}


def ledger_from_report(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The ledger's spend by provider and team, from a ``/admin/spend``-shaped report."""
    return {
        "provider": {k: float(v) for k, v in report.get("providers", {}).items()},
        "team": {k: float(v) for k, v in report.get("teams", {}).items()},
    }


def ledger_from_redis(config: RouterConfig, period: Period, now: dt.datetime) -> dict[str, Any]:
    """The ledger report for ``period`` read from the config's Redis (kept about 40 days)."""
    if (now - period.end).total_seconds() > KEEP_S:
        raise ReconcileError(f"{period.ledger_id} is older than the ledger keeps (40 days)")

    async def read() -> dict[str, Any]:
        redis = shared_redis(config)
        assert redis is not None
        try:
            if not await redis.ping():
                raise ReconcileError(f"Redis ({redis.settings.describe()}) is not reachable")
            return await spend(redis_reader(redis), period.kind, period.start)
        finally:
            await redis.close()

    return asyncio.run(read())


def ledger_from_gateway(url: str, master_key: str | None, period: Period) -> dict[str, Any]:
    """The ledger report of a running gateway; it serves the current day or month only."""
    headers = {"authorization": f"Bearer {master_key}"} if master_key else {}
    try:
        response = httpx.get(
            url.rstrip("/") + "/admin/spend",
            params={"period": period.kind},
            headers=headers,
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise ReconcileError(f"the gateway at {url} did not answer: {exc}") from None
    if response.status_code != 200:
        raise ReconcileError(f"GET /admin/spend answered {response.status_code}: {response.text}")
    report: dict[str, Any] = response.json()
    if report.get("period") != period.ledger_id:
        raise ReconcileError(
            f"the gateway reports {report.get('period')}, not {period.ledger_id}: "
            "/admin/spend serves the current period only; read older ones from Redis"
        )
    return report


def compare(
    ledger: dict[str, dict[str, float]], langfuse: dict[str, dict[str, float]]
) -> list[Row]:
    """Every provider and team either side knows, ledger against Langfuse."""
    rows: list[Row] = []
    for by in ("provider", "team"):
        mine, theirs = ledger.get(by, {}), langfuse.get(by, {})
        for name in sorted(set(mine) | set(theirs)):
            rows.append(Row(by, name, mine.get(name, 0.0), theirs.get(name, 0.0)))
    return rows


def render(rows: list[Row], period: Period, tolerance: float, fmt: str) -> str:
    """A table (differing rows marked), CSV or JSON."""
    if fmt == "json":
        return orjson.dumps(
            {
                "period": period.ledger_id,
                "tolerance_usd": tolerance,
                "rows": [
                    {**r.__dict__, "diff_usd": r.diff_usd, "differs": abs(r.diff_usd) > tolerance}
                    for r in rows
                ],
            },
            option=orjson.OPT_INDENT_2,
        ).decode()
    table = [
        (r.by, r.name, f"{r.ledger_usd:.6f}", f"{r.langfuse_usd:.6f}", f"{r.diff_usd:+.6f}")
        for r in rows
    ]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["by", "name", "ledger_usd", "langfuse_usd", "diff_usd"])
        writer.writerows(table)
        return buffer.getvalue().rstrip()
    head = f"{'by':<9} {'name':<32} {'ledger usd':>14} {'langfuse usd':>14} {'diff usd':>14}"
    lines = [f"reconcile {period.ledger_id} ({_iso(period.start)} to {_iso(period.end)})", head]
    for row, cells in zip(rows, table, strict=True):
        mark = "  <- differs" if abs(row.diff_usd) > tolerance else ""
        by, name, mine, theirs, diff = cells
        lines.append(f"{by:<9} {name:<32} {mine:>14} {theirs:>14} {diff:>14}{mark}")
    differing = sum(abs(r.diff_usd) > tolerance for r in rows)
    lines.append(
        f"{differing} difference(s) over ${tolerance:g}"
        if differing
        else f"ledger and Langfuse agree within ${tolerance:g}"
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class Options:
    """What the command line asked for."""

    kind: str = "month"
    at: str | None = None
    gateway: str | None = None
    tolerance_usd: float = 0.01
    fmt: str = "table"
    environment: str | None = None


def reconcile(config: RouterConfig, options: Options, now: dt.datetime) -> tuple[str, bool]:
    """The report, and whether any provider or team differs by more than the tolerance."""
    period = Period.parse(options.kind, options.at, now)
    if options.fmt not in ("table", "csv", "json"):
        raise ReconcileError(f"--format must be table, csv or json, not {options.fmt!r}")
    settings = config.plugins.langfuse
    public = settings.public_key or os.environ.get("LANGFUSE_PUBLIC_KEY")
    secret = settings.secret_key or os.environ.get("LANGFUSE_SECRET_KEY")
    host = settings.host or os.environ.get("LANGFUSE_HOST") or "http://127.0.0.1:3000"
    if not public or not secret:
        raise ReconcileError(
            "no Langfuse keys: set router_plugins.langfuse.public_key/secret_key "
            "or LANGFUSE_PUBLIC_KEY/LANGFUSE_SECRET_KEY"
        )
    environment = (
        options.environment
        or settings.environment
        or os.environ.get("LANGFUSE_TRACING_ENVIRONMENT")
    )
    if options.gateway:
        master = config.master_key.get_secret_value() if config.master_key else None
        report = ledger_from_gateway(options.gateway, master, period)
    elif config.redis is not None:
        report = ledger_from_redis(config, period, now)
    else:
        raise ReconcileError(
            "no Redis in the config: the ledger is per gateway process; pass --gateway URL"
        )
    theirs = langfuse_spend(LangfuseMetrics(host, public, secret), period, environment)
    rows = compare(ledger_from_report(report), theirs)
    differs = any(abs(r.diff_usd) > options.tolerance_usd for r in rows)
    return render(rows, period, options.tolerance_usd, options.fmt), differs


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
