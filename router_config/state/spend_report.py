"""Spend reports for ``GET /admin/spend`` and ``llm-router spend``: one shape for both.

The ledger keeps nano-USD integers; reports show USD rounded to 1e-9, so a report
equals the sum of the ``x-router-cost-usd`` headers callers received.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from router_config.config.schema import RouterConfig
from router_config.state.periods import periods
from router_config.state.shared_redis import SharedRedis
from router_config.state.spend_journal import journal_totals, open_journals
from router_config.state.spend_ledger import NANO, TAG, SpendLedger

GROUPINGS = ("provider", "group", "team", "deployment", "key", "user")
Reader = Callable[[str], Awaitable[tuple[Mapping[str, int], str]]]


async def spend(read: Reader, kind: str, when: dt.datetime) -> dict[str, Any]:
    """USD spent in the current day or month, by provider, model group, team, deployment,
    client key and end user; ``source`` says whether it is every replica's (``redis``) or
    this process's alone (``local``, while Redis is down)."""
    pid = periods(when)[kind]
    raw, source = await read(pid)
    out: dict[str, Any] = {"period": pid, "source": source}
    out.update({g + "s": {} for g in GROUPINGS})
    out["attempts"] = {}
    for field, value in raw.items():
        head, _, name = field.partition(":")
        if head in GROUPINGS:
            out[head + "s"][name] = round(value / NANO, 9)
        elif head == "attempts":
            out["attempts"][name.partition(":")[2]] = int(value)
    total = sum(v for f, v in raw.items() if f.startswith("provider:"))
    out["total_usd"] = round(total / NANO, 9)
    return out


def redis_reader(redis: SharedRedis) -> Reader:
    """Read a period straight from Redis (``llm-router spend``)."""

    async def read(pid: str) -> tuple[Mapping[str, int], str]:
        key = redis.key("spend", pid, tag=TAG)
        raw = await redis.run(lambda c: c.hgetall(key), None)  # type: ignore[arg-type,return-value]
        if raw is None:
            raise ConnectionError(f"Redis at {redis.settings.describe()} did not answer")
        return {k: int(v) for k, v in raw.items()}, "redis"

    return read


def journal_reader(directory: str | Path) -> Reader:
    """Sum every journal in a state directory (no Redis: this machine's processes)."""
    totals = journal_totals(directory)

    async def read(pid: str) -> tuple[Mapping[str, int], str]:
        return {field: v for (period, field), v in totals.items() if period == pid}, "journal"

    return read


async def offline_report(config: RouterConfig, kind: str, when: dt.datetime) -> dict[str, Any]:
    """``llm-router spend``: from Redis, after replaying any journal a dead gateway left in
    the state directory; without Redis, the sum of this machine's journals."""
    settings = config.plugins.shared_state
    if config.redis is None:
        return await spend(journal_reader(settings.state_dir), kind, when)
    redis = SharedRedis(config.redis, prefix=f"{config.plugins.namespace}:")
    try:
        orphans = open_journals(settings.state_dir, sync=settings.journal_sync, create=False)
        if orphans:
            ledger = SpendLedger(redis, orphans, settings, time.time)
            await ledger.flush()
            ledger.close_journals()
        return await spend(redis_reader(redis), kind, when)
    finally:
        await redis.close()


def as_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = [
        (g, name, f"{usd:.9f}") for g in GROUPINGS for name, usd in sorted(report[g + "s"].items())
    ]
    return [*rows, ("total", "", f"{report['total_usd']:.9f}")]


def as_text(report: dict[str, Any], fmt: str) -> str:
    rows = as_rows(report)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["by", "name", "usd"])
        writer.writerows(rows)
        return buffer.getvalue().rstrip()
    lines = [f"spend for {report['period']} ({report['source']})"]
    lines.append(f"{'by':<11} {'name':<32} {'usd':>14}")
    lines += [f"{by:<11} {name:<32} {usd:>14}" for by, name, usd in rows]
    return "\n".join(lines)
