"""The failure drill's scenarios: each a fault, a load shape, and what callers may expect.

Fake provider modes are those of ``router_config.testing`` (``latency:...`` is a
real provider's timing). A scenario passes when no request failed while a
healthy deployment existed, none took longer than its bound (5 s, the failover
target, unless the scenario is about a long healthy answer), every request was
served by the deployment it names (if it names one), and its own extra checks
hold (alerts, breakers, onset and recovery figures).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

FAILOVER_TARGET_MS = 5000.0
# An 8-second answer: 500 ms to the first token, then 800 tokens at 100 a second.
LONG_ANSWER = "latency:ttft=500,tps=100,tokens=800"
# A healthy provider's timing on short prompts (learned during warm-up).
REAL = "latency:ttft=300,tps=100,tokens=20"
# Real spread: 0.2-2 s to a first token, as providers show on short prompts.
SPREAD = "latency:ttft=200,jitter=1800,tokens=5"


@dataclass
class Scenario:
    """A fault to inject and what callers may expect while it lasts."""

    name: str
    primary: str | None = None  # fake mode of the primary
    fallback: str | None = None
    local: str | None = None
    refuse_primary: bool = False
    stream: bool = False
    requests: int = 20
    healthy_fallback: bool = True
    recover_after: int | None = None  # primary recovers after this many requests
    cached_prompt: bool = False  # ask a deterministic, previously answered question
    prompt_words: int = 0  # a long prompt: this many words more (about 1.3 tokens each)
    served_by: str | None = None  # every request must be served by this provider
    max_ms: float = FAILOVER_TARGET_MS
    no_alerts: bool = False
    kind: str = "sequential"  # sequential, onset, recovery, hostile or steady
    concurrency: int = 1
    warmup: int = 0  # healthy requests first, so latency is learned
    warmup_mode: str | None = None  # the primary's mode during warm-up (default: instant)


@dataclass
class Outcome:
    """What one scenario's callers saw."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    served_by: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    interrupted: int = 0
    first_failover_ms: float | None = None
    alerts: int = 0
    healthy_fallback: bool = True
    max_ms: float = FAILOVER_TARGET_MS
    expected_provider: str | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return len(self.latencies_ms) - self.failed - self.interrupted

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    @property
    def passed(self) -> bool:
        too_slow = max(self.latencies_ms, default=0) >= self.max_ms
        wrong = self.expected_provider is not None and set(self.served_by) != {
            self.expected_provider
        }
        failed = self.healthy_fallback and self.failed  # an interrupted stream is reported
        return not too_slow and not failed and not wrong and not self.problems


SCENARIOS = (
    Scenario("baseline: all healthy", served_by="openai"),
    Scenario("primary returns 500", primary="500"),
    Scenario("primary 429, Retry-After 20 s", primary="429:20"),
    Scenario("primary hangs (first request after start-up)", primary="hang", requests=10),
    Scenario("primary refuses connections", refuse_primary=True),
    Scenario("primary returns garbage", primary="garbage"),
    Scenario("primary breaks mid-stream", primary="break:2", stream=True),
    Scenario("primary 500, then recovers", primary="500", recover_after=10),
    Scenario(
        "healthy 8 s answer, not streamed",
        primary=LONG_ANSWER,
        requests=2,
        served_by="openai",
        max_ms=15_000,
        no_alerts=True,
    ),
    Scenario(
        "healthy 8 s answer, streamed",
        primary=LONG_ANSWER,
        stream=True,
        requests=2,
        served_by="openai",
        max_ms=15_000,
        no_alerts=True,
    ),
    Scenario(
        "long prompt (~60k tokens: 15 s to a first token)",
        primary="latency:ttft=500,prefill=250,tokens=20",
        prompt_words=30_000,
        requests=2,
        served_by="openai",
        max_ms=20_000,
        no_alerts=True,
    ),
    Scenario(
        "onset: 16 callers at once as the primary starts hanging",
        primary="hang",
        kind="onset",
        concurrency=16,
        requests=16,
        warmup=30,
    ),
    Scenario(
        "recovery: primary hangs 3 s, then heals",
        primary="hang",
        kind="recovery",
        warmup=30,
        requests=0,  # as many as fit in the scenario's time
    ),
    Scenario(
        "hostile caller: 1,000-deep body, deadline below latency",
        primary=REAL,
        kind="hostile",
        warmup=10,
        requests=4,
    ),
    Scenario(
        "healthy steady state, 0.2-2 s to first token: extra calls",
        primary=SPREAD,
        kind="steady",
        warmup=60,
        warmup_mode=SPREAD,
        concurrency=16,
        requests=200,
        served_by="openai",
    ),
    Scenario(
        "all down, new prompt: abstain",
        primary="503",
        fallback="503",
        local="503",
        requests=5,
        healthy_fallback=False,
    ),
    Scenario(
        "all down, cached prompt: stale",
        primary="503",
        fallback="503",
        local="503",
        requests=5,
        cached_prompt=True,
    ),
)
