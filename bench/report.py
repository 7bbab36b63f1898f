"""The benchmark's table, its ratios against the targets, and a chart."""

from __future__ import annotations

from pathlib import Path

from load import LoadResult

OURS = "llm-router, 1 worker"
THEIRS = "LiteLLM proxy, 1 worker"
PORTKEY = "Portkey gateway"
DIRECT = "fake provider direct"
CLUSTER = "llm-router, 1 worker, Redis Cluster"
UNTRACED = "llm-router, 1 worker, no Langfuse"


def write_report(
    results: dict[str, tuple[list[LoadResult], float]],
    seconds: dict[int, int],
    machine: str,
    drill: str,
    out_dir: Path,
) -> str:
    """Write ``latest.md`` (and ``latest.png`` when matplotlib is installed); return the text."""
    lines = [
        "# llm-router benchmark",
        "",
        machine,
        "",
        "wrk, "
        + ", ".join(f"{s} s at concurrency {c}" for c, s in seconds.items())
        + "; requests = how many completed in that time.",
        "",
        "| target | conc. | requests | req/s | p50 ms | p99 ms | max ms | added p50 ms "
        "| CPU ms/req | errors | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    direct = {r.concurrency: r for r in results[DIRECT][0]}
    for name, (runs, rss) in results.items():
        for r in runs:
            added = r.p50_ms - direct[r.concurrency].p50_ms
            lines.append(
                f"| {name} | {r.concurrency} | {r.requests} | {r.rps:.1f} | {r.p50_ms:.2f} "
                f"| {r.p99_ms:.1f} | {r.max_ms:.1f} | {added:.2f} | {r.cpu_ms:.2f} | {r.errors} "
                f"| {rss:.0f} |"
            )
    lines += ["", *target_lines(results), ""]
    if drill:
        lines += ["## Failover (llm-router drill)", "", drill, ""]
    text = "\n".join(lines)
    (out_dir / "latest.md").write_text(text)
    _chart(results, out_dir / "latest.png")
    return text


# The targets: against Portkey's gateway (issue 20) and, as before, LiteLLM's proxy.
GOALS = {
    PORTKEY: {"c16": 1.5, "c64": 1.5, "p50": 0.75, "p99": 0.5, "rss": 1.0},
    THEIRS: {"c16": 2.5, "c64": 2.5, "p50": 0.5, "p99": 0.25, "rss": 0.75},
}


def target_lines(results: dict[str, tuple[list[LoadResult], float]]) -> list[str]:
    """Each target of the benchmark issues as a ratio measured in this run."""
    if OURS not in results:
        return []
    ours = {r.concurrency: r for r in results[OURS][0]}
    direct = {r.concurrency: r for r in results[DIRECT][0]}

    def added(by: dict[int, LoadResult]) -> float:
        return max(by[1].p50_ms - direct[1].p50_ms, 0.001)

    rows: list[tuple[str, float, str, float]] = []
    out = ["| target | measured | goal | met |", "|---|---|---|---|"]
    for peer, goal in GOALS.items():
        if peer not in results:
            continue
        theirs = {r.concurrency: r for r in results[peer][0]}
        name = "Portkey" if peer == PORTKEY else "LiteLLM"
        failed = _failing(results[OURS][0]) or _failing(results[peer][0])
        if failed:  # a server answering errors fast is not a speed to compare against
            out.append(f"| every ratio against {name} | not comparable: {failed} | - | no |")
            continue
        rows += [
            (f"throughput at c16, ours / {name}", ours[16].rps / theirs[16].rps, ">=", goal["c16"]),
            (f"throughput at c64, ours / {name}", ours[64].rps / theirs[64].rps, ">=", goal["c64"]),
            (f"added p50 at c1, ours / {name}", added(ours) / added(theirs), "<=", goal["p50"]),
            (f"p99 at c64, ours / {name}", ours[64].p99_ms / theirs[64].p99_ms, "<=", goal["p99"]),
            (f"peak RSS, ours / {name}", results[OURS][1] / results[peer][1], "<=", goal["rss"]),
        ]
    two = results.get("llm-router, 2 workers")
    for label, value, op, goal in rows:
        met = value >= goal if op == ">=" else value <= goal
        out.append(f"| {label} | {value:.2f}x | {op} {goal}x | {'yes' if met else 'no'} |")
    if two is not None:
        scale = {r.concurrency: r for r in two[0]}[64].rps / ours[64].rps
        out.append(f"| throughput at c64, 2 workers / 1 worker | {scale:.2f}x | (scale-out) | - |")
    if PORTKEY in results and not _failing(results[PORTKEY][0]):
        cpu = ours[16].cpu_ms / {r.concurrency: r for r in results[PORTKEY][0]}[16].cpu_ms
        out.append(f"| CPU per request at c16, ours / Portkey | {cpu:.2f}x | (cost) | - |")
    out += _untraced_lines(results, ours)
    cluster = results.get(CLUSTER)
    if cluster is not None:
        on = {r.concurrency: r for r in cluster[0]}
        for level in (16, 64):
            share = on[level].rps / ours[level].rps
            label = f"throughput at c{level}, Redis Cluster / one Redis"
            out.append(f"| {label} | {share:.2f}x | (topology) | - |")
    return out


def _untraced_lines(
    results: dict[str, tuple[list[LoadResult], float]], ours: dict[int, LoadResult]
) -> list[str]:
    """What tracing to Langfuse costs: the same config without it, against Portkey (which
    logs nowhere in this bench) and as a share of our CPU per request."""
    if UNTRACED not in results or PORTKEY not in results or _failing(results[UNTRACED][0]):
        return []
    bare = {r.concurrency: r for r in results[UNTRACED][0]}
    theirs = {r.concurrency: r for r in results[PORTKEY][0]}
    share = 1 - bare[16].cpu_ms / ours[16].cpu_ms
    label = "ours without Langfuse / Portkey"
    rows = [
        (f"throughput at c16, {label}", f"{bare[16].rps / theirs[16].rps:.2f}x"),
        (f"throughput at c64, {label}", f"{bare[64].rps / theirs[64].rps:.2f}x"),
        (f"p99 at c64, {label}", f"{bare[64].p99_ms / theirs[64].p99_ms:.2f}x"),
        ("Langfuse's share of our CPU per request at c16", f"{100 * share:.0f} %"),
    ]
    return [f"| {name} | {value} | (tracing's cost) | - |" for name, value in rows]


def _failing(runs: list[LoadResult]) -> str:
    """Why a server's runs can't be compared (over 1 % errors at a level), or ``""``."""
    for r in runs:
        if r.errors > 0.01 * max(r.requests, 1):
            return f"{r.errors} errors of {r.requests} at c{r.concurrency}"
    return ""


def _chart(results: dict[str, tuple[list[LoadResult], float]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib is not installed, no chart (pip install -e '.[bench]')")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, (runs, _) in results.items():
        if name == DIRECT:
            continue
        levels = [r.concurrency for r in runs]
        left.plot(levels, [r.rps for r in runs], marker="o", label=name)
        right.plot(levels, [r.p99_ms for r in runs], marker="o", label=name)
    left.set(title="throughput", xlabel="concurrency", ylabel="req/s", xscale="log")
    right.set(title="p99 latency", xlabel="concurrency", ylabel="ms", xscale="log", yscale="log")
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
