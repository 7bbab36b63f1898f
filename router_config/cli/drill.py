"""The failure drill: real fake providers, a real gateway, real faults, measured.

Each scenario starts a fresh gateway (so breakers start closed) in front of
three fake providers (OpenAI-, Anthropic- and vLLM-style), injects a fault,
sends requests with the ``openai`` SDK, and measures what callers saw. The
drill fails if a request failed while a healthy fallback existed, or if any
request took 5 s or more.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from router_config.config.failover_budget import FAILOVER_TARGET_S
from router_config.config.loader import parse_config
from router_config.testing import FakeProviderServer, GatewayServer

DRILL_CONFIG = """
model_list:
  - model_name: chat
    litellm_params: {model: openai/gpt-4o-2024-08-06, api_base: os.environ/P, api_key: sk-drill, order: 1}
    model_info: {id: openai-primary, free: true}
  - model_name: chat
    litellm_params: {model: anthropic/claude-3-5-sonnet-20241022, api_base: os.environ/F, api_key: sk-drill, order: 2}
    model_info: {id: anthropic-fallback, free: true}
  - model_name: chat
    litellm_params: {model: hosted_vllm/llama-3.1-8b-instruct, api_base: os.environ/L, api_key: none, order: 3}
    model_info: {id: local-last, version: drill, free: true}
router_plugins:
  breaker: {cooldown_s: 1.0}
  cache: {fresh_ttl_s: 0.001}  # so the cached-prompt scenario shows a stale answer at once
"""  # noqa: E501 - one deployment per line reads best here
HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "drill"}]


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

    @property
    def ok(self) -> int:
        return len(self.latencies_ms) - self.failed - self.interrupted

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    @property
    def passed(self) -> bool:
        too_slow = max(self.latencies_ms, default=0) >= FAILOVER_TARGET_S * 1000
        return not too_slow and not (self.healthy_fallback and self.failed)


SCENARIOS = (
    Scenario("baseline: all healthy"),
    Scenario("primary returns 500", primary="500"),
    Scenario("primary 429, Retry-After 20 s", primary="429:20"),
    Scenario("primary hangs", primary="hang"),
    Scenario("primary refuses connections", refuse_primary=True),
    Scenario("primary returns garbage", primary="garbage"),
    Scenario("primary breaks mid-stream", primary="break:2", stream=True),
    Scenario("primary 500, then recovers", primary="500", recover_after=10),
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


def run_drill(echo: Callable[[str], None] = print) -> list[Outcome]:
    """Run every scenario; ``echo`` gets one progress line each."""
    outcomes = []
    with FakeProviderServer() as p, FakeProviderServer() as f, FakeProviderServer() as loc:
        for scenario in SCENARIOS:
            for fake, mode in (
                (p, scenario.primary),
                (f, scenario.fallback),
                (loc, scenario.local),
            ):
                fake.reset()
                fake.set_mode(mode)
            outcome = _run(scenario, p, f, loc)
            echo(f"  {scenario.name}: {outcome.ok}/{len(outcome.latencies_ms)} ok")
            outcomes.append(outcome)
    return outcomes


def _run(
    scenario: Scenario, p: FakeProviderServer, f: FakeProviderServer, loc: FakeProviderServer
) -> Outcome:
    primary = _closed_port_url() if scenario.refuse_primary else p.openai_base
    config = parse_config(
        DRILL_CONFIG,
        source="drill (embedded)",
        environ={"P": primary, "F": f.base_url, "L": loc.openai_base},
    )
    outcome = Outcome(scenario.name, healthy_fallback=scenario.healthy_fallback)
    with (
        GatewayServer(config) as gateway,
        openai.OpenAI(
            base_url=gateway.openai_base, api_key="drill", max_retries=0, timeout=10
        ) as client,
    ):
        if scenario.cached_prompt:
            _prime_cache(client, (p, f, loc), scenario)
        for n in range(scenario.requests):
            if scenario.recover_after is not None and n == scenario.recover_after:
                p.set_mode(None)
                time.sleep(1.1)  # past the drill's 1 s breaker cool-down
            _one(client, scenario.stream, outcome, scenario.cached_prompt)
        outcome.alerts = _alerts(gateway.base_url)
    return outcome


def _prime_cache(
    client: openai.OpenAI, fakes: tuple[FakeProviderServer, ...], scenario: Scenario
) -> None:
    """Answer the prompt once while healthy, then let the cache entry go stale."""
    for fake in fakes:
        fake.set_mode(None)
    client.chat.completions.create(model="chat", messages=HI, temperature=0)
    modes = (scenario.primary, scenario.fallback, scenario.local)
    for fake, mode in zip(fakes, modes, strict=True):
        fake.set_mode(mode)


def _one(client: openai.OpenAI, stream: bool, outcome: Outcome, cached: bool = False) -> None:
    started = time.perf_counter()
    provider = "-"
    try:
        raw = client.chat.completions.with_raw_response.create(
            model="chat", messages=HI, stream=stream, temperature=0 if cached else 1
        )
        provider = raw.headers.get("x-router-provider", "-")
        if raw.headers.get("x-router-cache") in ("hit", "stale"):
            provider = f"cache:{raw.headers['x-router-cache']}"
        if stream:
            list(raw.parse())
        else:
            raw.parse()
    except openai.APIStatusError:
        outcome.failed += 1
    except openai.APIError:
        outcome.interrupted += 1  # the stream broke after it started: reported, never silent
    elapsed = (time.perf_counter() - started) * 1000
    outcome.latencies_ms.append(elapsed)
    outcome.served_by[provider] += 1
    if provider not in ("openai", "-", "cache:hit") and outcome.first_failover_ms is None:
        outcome.first_failover_ms = elapsed


def _alerts(base_url: str) -> int:
    page = httpx.get(f"{base_url}/metrics").text
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in page.splitlines()
            if line.startswith("llm_router_alerts_total{")
        )
    )


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def table(outcomes: list[Outcome]) -> str:
    """The drill's results as a Markdown table."""
    rows = [
        "| scenario | requests | ok | failed | interrupted | served by | p50 ms | p99 ms "
        "| max ms | first failover ms | alerts | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        served = ", ".join(f"{k} {v}" for k, v in sorted(o.served_by.items()))
        first = "-" if o.first_failover_ms is None else f"{o.first_failover_ms:.0f}"
        rows.append(
            f"| {o.name} | {len(o.latencies_ms)} | {o.ok} | {o.failed} | "
            f"{o.interrupted} | {served} | {o.pct(0.5):.1f} | {o.pct(0.99):.1f} | "
            f"{max(o.latencies_ms, default=0):.0f} | {first} | {o.alerts} | "
            f"{'yes' if o.passed else 'NO'} |"
        )
    return "\n".join(rows)
