"""The failure drill: real fake providers, a real gateway, real faults, measured.

Each scenario (``drill_scenarios``) starts a fresh gateway (so breakers start
closed and latency is unlearned) in front of three fake providers (OpenAI-,
Anthropic- and vLLM-style), injects a fault, sends requests with the ``openai``
SDK, and measures what callers saw. The gateway runs the default failover
settings; only the breaker's cool-down is left at its 1 s default.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

from router_config.cli.drill_scenarios import SCENARIOS, Outcome, Scenario
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
  cache: {fresh_ttl_s: 0.001}  # so the cached-prompt scenario shows a stale answer at once
"""  # noqa: E501 - one deployment per line reads best here
HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "drill"}]
JSON = {"content-type": "application/json"}
RECOVERY_HANG_S = 3.0
RECOVERY_AFTER_S = 3.0  # requests keep coming this long after the primary heals


def run_drill(echo: Callable[[str], None] = print) -> list[Outcome]:
    """Run every scenario; ``echo`` gets one progress line each."""
    outcomes = []
    with FakeProviderServer() as p, FakeProviderServer() as f, FakeProviderServer() as loc:
        for scenario in SCENARIOS:
            outcome = _run(scenario, p, f, loc)
            extra = f" ({'; '.join(outcome.notes)})" if outcome.notes else ""
            echo(f"  {scenario.name}: {outcome.ok}/{len(outcome.latencies_ms)} ok{extra}")
            outcomes.append(outcome)
    return outcomes


def _run(
    scenario: Scenario, p: FakeProviderServer, f: FakeProviderServer, loc: FakeProviderServer
) -> Outcome:
    fakes = (p, f, loc)
    for fake in fakes:
        fake.reset()
    primary = _closed_port_url() if scenario.refuse_primary else p.openai_base
    config = parse_config(
        DRILL_CONFIG,
        source="drill (embedded)",
        environ={"P": primary, "F": f.base_url, "L": loc.openai_base},
    )
    outcome = Outcome(
        scenario.name,
        healthy_fallback=scenario.healthy_fallback,
        max_ms=scenario.max_ms,
        expected_provider=scenario.served_by,
    )
    with (
        GatewayServer(config) as gateway,
        openai.OpenAI(
            base_url=gateway.openai_base, api_key="drill", max_retries=0, timeout=60
        ) as client,
    ):
        if scenario.warmup:
            p.set_mode(scenario.warmup_mode)
            _warm_up(client, scenario.warmup, 8 if scenario.warmup_mode else 1)
        for fake, mode in zip(
            fakes, (scenario.primary, scenario.fallback, scenario.local), strict=True
        ):
            fake.set_mode(mode)
        RUNNERS[scenario.kind](scenario, client, gateway, fakes, outcome)
        outcome.alerts = _alerts(gateway.base_url)
        if scenario.no_alerts and outcome.alerts:
            outcome.problems.append(f"{outcome.alerts} alert(s) for a healthy provider")
    return outcome


def _sequential(
    scenario: Scenario,
    client: openai.OpenAI,
    gateway: GatewayServer,
    fakes: tuple[FakeProviderServer, ...],
    outcome: Outcome,
) -> None:
    p = fakes[0]
    if scenario.cached_prompt:
        _prime_cache(client, p, scenario)
    messages = _prompt(scenario.prompt_words)
    for n in range(scenario.requests):
        if scenario.recover_after is not None and n == scenario.recover_after:
            p.set_mode(None)
            time.sleep(1.1)  # past the breaker's 1 s cool-down
        _one(client, scenario.stream, outcome, scenario.cached_prompt, messages)


def _onset(
    scenario: Scenario,
    client: openai.OpenAI,
    gateway: GatewayServer,
    fakes: tuple[FakeProviderServer, ...],
    outcome: Outcome,
) -> None:
    """Many callers are mid-request when the primary starts hanging."""
    with ThreadPoolExecutor(scenario.concurrency) as pool:
        list(pool.map(lambda _: _one(client, False, outcome), range(scenario.requests)))
    slow = sum(1 for ms in outcome.latencies_ms if ms > 1000)
    outcome.notes.append(f"{slow} of {scenario.requests} over 1 s")
    if slow > 1:
        outcome.problems.append(f"{slow} callers waited over 1 s at the onset")


def _recovery(
    scenario: Scenario,
    client: openai.OpenAI,
    gateway: GatewayServer,
    fakes: tuple[FakeProviderServer, ...],
    outcome: Outcome,
) -> None:
    """Callers keep coming while the primary hangs, then heals; when is it serving again?"""
    p = fakes[0]
    started = time.monotonic()
    healed_at: float | None = None
    back_after_ms: float | None = None
    while time.monotonic() - started < RECOVERY_HANG_S + RECOVERY_AFTER_S:
        if healed_at is None and time.monotonic() - started >= RECOVERY_HANG_S:
            p.set_mode(None)
            healed_at = time.monotonic()
        provider = _one(client, False, outcome)
        if healed_at is not None and back_after_ms is None and provider == "openai":
            back_after_ms = (time.monotonic() - healed_at) * 1000
        time.sleep(0.05)
    worst = max(outcome.latencies_ms, default=0.0)
    outcome.notes.append(f"slowest caller {worst:.0f} ms")
    if back_after_ms is None:
        outcome.problems.append("the primary never served again")
    else:
        outcome.notes.append(f"primary serving again {back_after_ms:.0f} ms after it healed")
        if back_after_ms > 2000:
            outcome.problems.append("the primary took over 2 s to serve again")
    if worst > 1000:
        outcome.problems.append("a caller waited over 1 s")


def _hostile(
    scenario: Scenario,
    client: openai.OpenAI,
    gateway: GatewayServer,
    fakes: tuple[FakeProviderServer, ...],
    outcome: Outcome,
) -> None:
    """One caller sends what no provider can answer: a body nested 1,000 deep, and deadlines
    below the provider's latency. They get their own errors; nobody else notices."""
    deep = "[" * 1000 + '"x"' + "]" * 1000  # written out: json.dumps itself stops at ~1,000
    url = f"{gateway.openai_base}/chat/completions"
    refused = 0
    with httpx.Client(timeout=10) as http:
        message = '{"role": "user", "content": "hi", "x": ' + deep + "}"
        body = '{"model": "chat", "messages": [' + message + "]}"
        refused += http.post(url, content=body, headers=JSON).status_code // 100 == 4
        for _ in range(3):
            hurried = http.post(
                url,
                json={"model": "chat", "messages": HI},
                headers={"x-router-timeout-ms": "100"},
            )
            refused += hurried.status_code == 504
        states = http.get(f"{gateway.base_url}/health/providers").json()["deployments"]
    opened = [dep for dep, s in states.items() if s.get("state", "closed") != "closed"]
    outcome.notes.append(f"{refused}/4 hostile requests answered as the caller's error")
    if refused != 4:
        outcome.problems.append("a hostile request was not answered as the caller's error")
    if opened:
        outcome.problems.append(f"breakers moved: {', '.join(opened)}")
    for _ in range(scenario.requests):  # another tenant, right after
        if _one(client, False, outcome) != "openai":
            outcome.problems.append("another tenant was not served by the primary")


def _steady(
    scenario: Scenario,
    client: openai.OpenAI,
    gateway: GatewayServer,
    fakes: tuple[FakeProviderServer, ...],
    outcome: Outcome,
) -> None:
    """Healthy providers with a real spread of latency: how many extra calls do hedges and
    probes cost? (Target: at most 2 %.)"""
    before = sum(fake.stats()["requests"] for fake in fakes)
    with ThreadPoolExecutor(scenario.concurrency) as pool:
        list(pool.map(lambda _: _one(client, False, outcome), range(scenario.requests)))
    calls = sum(fake.stats()["requests"] for fake in fakes) - before
    extra = (calls - scenario.requests) / scenario.requests
    outcome.notes.append(f"{calls} calls for {scenario.requests} requests: {extra:.1%} extra")
    if extra > 0.02:
        outcome.problems.append(f"{extra:.1%} extra provider calls in a healthy steady state")


RUNNERS = {
    "sequential": _sequential,
    "onset": _onset,
    "recovery": _recovery,
    "hostile": _hostile,
    "steady": _steady,
}


def _warm_up(client: openai.OpenAI, requests: int, concurrency: int) -> None:
    """Healthy calls first, so the gateway has learned each deployment's latency (one at a
    time for an instant provider: what is learned is the provider's latency, not the queue
    of a burst of warm-up calls on a loaded machine)."""
    with ThreadPoolExecutor(concurrency) as pool:
        list(
            pool.map(
                lambda _: client.chat.completions.create(model="chat", messages=HI),
                range(requests),
            )
        )


def _prompt(words: int) -> list[ChatCompletionMessageParam]:
    if not words:
        return HI
    return [{"role": "user", "content": "drill " + "context " * words}]


def _prime_cache(client: openai.OpenAI, p: FakeProviderServer, scenario: Scenario) -> None:
    """Answer the prompt once while the primary is healthy, then let it fail again."""
    p.set_mode(None)
    client.chat.completions.create(model="chat", messages=HI, temperature=0)
    p.set_mode(scenario.primary)


def _one(
    client: openai.OpenAI,
    stream: bool,
    outcome: Outcome,
    cached: bool = False,
    messages: list[ChatCompletionMessageParam] = HI,
) -> str:
    started = time.perf_counter()
    provider = "-"
    try:
        raw = client.chat.completions.with_raw_response.create(
            model="chat", messages=messages, stream=stream, temperature=0 if cached else 1
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
    return provider


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
        "| max ms | first failover ms | alerts | notes | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        served = ", ".join(f"{k} {v}" for k, v in sorted(o.served_by.items()))
        first = "-" if o.first_failover_ms is None else f"{o.first_failover_ms:.0f}"
        notes = "; ".join(o.notes + o.problems) or "-"
        rows.append(
            f"| {o.name} | {len(o.latencies_ms)} | {o.ok} | {o.failed} | "
            f"{o.interrupted} | {served} | {o.pct(0.5):.1f} | {o.pct(0.99):.1f} | "
            f"{max(o.latencies_ms, default=0):.0f} | {first} | {o.alerts} | {notes} | "
            f"{'yes' if o.passed else 'NO'} |"
        )
    return "\n".join(rows)
