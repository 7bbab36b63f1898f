"""Fair share under a flood: another tenant's throughput alone, and while one key floods.

The flood is the one measured in issue 15: a key with ``rpm: 20`` sending 50,000-message
bodies (1.5 MB, over ``max_messages``) at concurrency 8, in a loop that ignores every
429. The other tenant sends plain requests at concurrency 4. Each runs in its own
process (gateway, fake provider, flooder; the other tenant here), on loopback.
Phases alternate (alone, flooded, alone, flooded...) so a machine whose load changes
affects both sides alike; the ratio is the other tenant's requests per second while
flooded over alone, summed over the phases.

Run:  .venv/bin/python bench/flood.py [--phases 4] [--phase-s 5] [--redis URL] [--json]
      .venv/bin/python bench/flood.py --pause 0     # without pacing refusals, to compare
      .venv/bin/python bench/flood.py --valid --rpm 0
        # a key with no limit sending valid requests at concurrency 8: not a flood the
        # gateway can refuse, but a heavy tenant; it shows the share such a key takes
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson

BIN = Path(sys.executable).parent
FLOOD_KEY, QUIET_KEY = "sk-flood-bench-0001", "sk-quiet-bench-0002"
CONFIG = """
model_list:
  - model_name: chat
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: os.environ/FAKE_OPENAI_BASE
      api_key: sk-fake-flood-bench
    model_info: {free: true}
router_plugins:
  client_keys:
    - {key: os.environ/FLOOD_KEY, team: flood, alias: flooder RPM}
    - {key: os.environ/QUIET_KEY, team: quiet, alias: quiet}
  server:
    max_body_bytes: 2000000   # so the 1.5 MB bodies are read and parsed, as measured
  cache: {mode: "off"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(argv: list[str], port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out, stderr=out)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"flood: {argv[1]} exited at start; see {log}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"flood: {argv[1]} did not start; see {log}")


def other_tenant(url: str, concurrency: int, seconds: float) -> tuple[int, Counter[int]]:
    """Plain requests from ``concurrency`` threads for ``seconds``: (answered 200, statuses)."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}

    def loop() -> None:
        with httpx.Client(headers={"authorization": f"Bearer {QUIET_KEY}"}, timeout=30) as c:
            while time.monotonic() < stop:
                code = c.post(url, json=body).status_code
                with lock:
                    statuses[code] += 1

    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses[200], statuses


async def flood(url: str, concurrency: int, seconds: float, valid: bool) -> dict[str, int]:
    """The flooder: invalid 50,000-message bodies (or plain valid requests) in a loop,
    ignoring every answer; counts by status."""
    messages = [{"role": "user", "content": "hi" if valid else ""}] * (1 if valid else 50_000)
    body = orjson.dumps({"model": "chat", "messages": messages})
    statuses: Counter[str] = Counter()
    stop = time.monotonic() + seconds
    headers = {"authorization": f"Bearer {FLOOD_KEY}", "content-type": "application/json"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:

        async def loop() -> None:
            while time.monotonic() < stop:
                try:
                    statuses[str((await client.post(url, content=body)).status_code)] += 1
                except httpx.HTTPError:
                    statuses["error"] += 1

        await asyncio.gather(*(loop() for _ in range(concurrency)))
    return dict(statuses)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    logs = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="llm-router-flood-"))
    fake_port, port = free_port(), free_port()
    config = logs / "flood.yaml"
    pause = f"    refusal_pause_s: {args.pause}\n" if args.pause is not None else ""
    rpm = f", rpm: {args.rpm}" if args.rpm else ""
    config.write_text(CONFIG.replace("  cache:", pause + "  cache:").replace(" RPM", rpm))
    if args.redis:
        config.write_text(config.read_text() + f"router_settings:\n  redis_url: {args.redis}\n")
    env = {
        "FAKE_OPENAI_BASE": f"http://127.0.0.1:{fake_port}/v1",
        "FLOOD_KEY": FLOOD_KEY,
        "QUIET_KEY": QUIET_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    cli = str(BIN / "llm-router")
    fake = start([cli, "fake-provider", "--port", str(fake_port)], fake_port, {}, logs / "fake.log")
    gateway = None
    try:
        argv = [cli, "serve", "-c", str(config), "--port", str(port)]
        gateway = start(argv, port, env, logs / "gateway.log")
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        other_tenant(url, args.victim_concurrency, 1.0)  # warm-up: pools, first calls
        alone = flooded = 0
        victim: Counter[int] = Counter()
        flooder: Counter[str] = Counter()
        for _ in range(args.phases):
            served, statuses = other_tenant(url, args.victim_concurrency, args.phase_s)
            alone += served
            victim.update(statuses)
            flooding = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--flooder",
                    url,
                    "--phase-s",
                    str(args.phase_s + args.warmup_s),
                    *(["--valid"] if args.valid else []),
                ],
                stdout=subprocess.PIPE,
            )
            time.sleep(args.warmup_s)  # the flooder is up and flooding
            served, statuses = other_tenant(url, args.victim_concurrency, args.phase_s)
            flooded += served
            victim.update(statuses)
            out, _ = flooding.communicate(timeout=120)
            flooder.update(orjson.loads(out))
    finally:
        for proc in (gateway, fake):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    seconds = args.phases * args.phase_s
    return {
        "alone_rps": round(alone / seconds, 1),
        "flooded_rps": round(flooded / seconds, 1),
        "ratio": round(flooded / alone, 3) if alone else 0.0,
        "other_tenant_statuses": {str(k): v for k, v in sorted(victim.items())},
        "flooder_statuses": dict(sorted(flooder.items())),
        "phases": args.phases,
        "phase_s": args.phase_s,
        "refusal_pause_s": args.pause,
        "flood": {"rpm": args.rpm, "valid": args.valid},
        "logs": str(logs),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phases", type=int, default=4)
    parser.add_argument("--phase-s", type=float, default=5.0)
    parser.add_argument("--warmup-s", type=float, default=1.0)
    parser.add_argument("--victim-concurrency", type=int, default=4)
    parser.add_argument("--pause", type=float, default=None, help="refusal_pause_s")
    parser.add_argument("--redis", default=None, help="redis URL for the shared counts")
    parser.add_argument("--rpm", type=int, default=20, help="the flooding key's rpm (0: none)")
    parser.add_argument("--valid", action="store_true", help="flood with valid requests")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--logs", default=None, help="folder for the processes' logs")
    parser.add_argument("--flooder", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flooder:
        print(orjson.dumps(asyncio.run(flood(args.flooder, 8, args.phase_s, args.valid))).decode())
        return
    result = measure(args)
    if args.json:
        print(orjson.dumps(result).decode())
        return
    print(
        f"other tenant alone {result['alone_rps']} req/s, while flooded "
        f"{result['flooded_rps']} req/s: ratio {result['ratio']}"
    )
    print(f"other tenant's answers: {result['other_tenant_statuses']}")
    print(f"flooder's answers: {result['flooder_statuses']}")


if __name__ == "__main__":
    main()
