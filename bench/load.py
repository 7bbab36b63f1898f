"""Load generation with wrk (Debian package ``wrk``): a fixed duration per level.

wrk is written in C, so the load generator costs little CPU beside the server
measured on a 2-core machine. wrk keeps ``concurrency`` connections busy for
the whole duration (its time bound) and reports how many requests completed;
it cannot stop at a request count without distorting its own req/s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

LUA = """
wrk.method = "POST"
wrk.body = '{"model": "chat", "messages": [{"role": "user", "content": "Say hi"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRK_KEY") or "")
"""


def _lua(headers: dict[str, str], stream: bool = False) -> str:
    """The wrk script, with extra request headers (Portkey's per-request config); with
    ``stream`` the request asks for a stream."""
    extra = "".join(f"wrk.headers[ {_quote(k)} ] = {_quote(v)}\n" for k, v in headers.items())
    script = LUA.replace('"Say hi"}]}', '"Say hi"}], "stream": true}') if stream else LUA
    return script + extra


def _quote(text: str) -> str:
    return "[==[" + text + "]==]"  # a Lua long string: no escaping of JSON's quotes


@dataclass(frozen=True)
class LoadResult:
    """What one wrk run measured."""

    concurrency: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    # CPU the server's processes spent per completed request: unlike req/s, it does not
    # move much when wrk, the fake provider and the server share 2 cores.
    cpu_ms: float = 0.0


def ensure_wrk() -> str:
    """wrk's path, installing Debian's package when it is missing and we may."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
        if shutil.which("wrk") is None:
            subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is needed: apt-get install wrk")
    return found


def run_wrk(
    url: str,
    key: str,
    concurrency: int,
    seconds: int,
    headers: dict[str, str] | None = None,
    stream: bool = False,
) -> LoadResult:
    """POST small chat completions at ``concurrency`` for ``seconds``."""
    threads = 1 if concurrency == 1 else 2
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(headers or {}, stream))
    env = {**os.environ, "WRK_KEY": key}
    out = subprocess.run(
        [
            ensure_wrk(),
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    os.unlink(script.name)
    return parse(out, concurrency)


def parse(out: str, concurrency: int) -> LoadResult:
    """The numbers out of wrk's text report."""
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s|m)\b", out)
    assert done, out
    seconds = float(done.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[done.group(3)]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return LoadResult(
        concurrency=concurrency,
        requests=int(done.group(1)),
        seconds=seconds,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        max_ms=_ms(re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        errors=errors + (int(non2xx.group(1)) if non2xx else 0),
    )


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]
