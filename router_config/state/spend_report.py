"""Spend reports for ``GET /admin/spend`` and ``llm-router spend``: one shape for both."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from router_config.state.spend_ledger import SpendLedger, periods

GROUPINGS = ("provider", "group", "team", "deployment")


async def spend(ledger: SpendLedger, kind: str, when: dt.datetime) -> dict[str, Any]:
    """USD spent in the current day or month, by provider, model group, team and deployment."""
    pid = periods(when)[kind]
    raw = await ledger.read(pid)
    out: dict[str, Any] = {"period": pid, **{g + "s": {} for g in GROUPINGS}, "attempts": {}}
    for field, value in raw.items():
        head, _, name = field.partition(":")
        if head in GROUPINGS:
            out[head + "s"][name] = round(value, 9)
        elif head == "attempts":
            out["attempts"][name.partition(":")[2]] = int(value)
    out["total_usd"] = round(sum(out["providers"].values()), 9)
    return out


def as_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = [
        (g, name, f"{usd:.6f}") for g in GROUPINGS for name, usd in sorted(report[g + "s"].items())
    ]
    return [*rows, ("total", "", f"{report['total_usd']:.6f}")]


def as_text(report: dict[str, Any], fmt: str) -> str:
    rows = as_rows(report)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["by", "name", "usd"])
        writer.writerows(rows)
        return buffer.getvalue().rstrip()
    lines = [f"spend for {report['period']}", f"{'by':<11} {'name':<32} {'usd':>14}"]
    lines += [f"{by:<11} {name:<32} {usd:>14}" for by, name, usd in rows]
    return "\n".join(lines)
