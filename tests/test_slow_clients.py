"""Slow and idle clients are closed within the configured limits, and shutdown is bounded.

A real ``llm-router serve`` process, raw sockets: a connection that sends nothing, headers
or a body a byte at a time, too many header bytes, or idles after a request, is closed
within its limit (with 408/431 when a request was under way); SIGTERM with slow clients
connected ends the process within ``shutdown_timeout_s``; a client that leaves mid-upload
is one ``client_closed`` line, no traceback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import Providers
from tests.failover_support import wait_for

SLACK_S = 5.0  # generous: a loaded 2-core machine may be slow to run a timer
CONFIG = """
model_list:
  - model_name: chat
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: os.environ/OPENAI_BASE
      api_key: os.environ/OPENAI_API_KEY
    model_info: {free: true}
router_plugins:
  failover: {deadline_s: 60, attempt_timeout_s: 60, first_token_timeout_s: 60}
  server:
"""
LIMITS = {
    "header_timeout_s": 1.0,
    "body_timeout_s": 1.5,
    "keepalive_timeout_s": 1.0,
    "max_header_bytes": 8192,
    "shutdown_timeout_s": 3.0,
}


@dataclass
class Served:
    """A gateway process, its port and its output so far."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def events(self, name: str) -> list[dict[str, object]]:
        out = []
        for line in self.output().splitlines():
            if line.startswith("{") and f'"event":"{name}"' in line:
                out.append(orjson.loads(line))
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tmp_path: Path, providers: Providers, limits: dict[str, float]) -> Served:
    config = tmp_path / "litellm_config.yaml"
    config.write_text(CONFIG + "".join(f"    {k}: {v}\n" for k, v in limits.items()))
    port, log = free_port(), tmp_path / "gateway.log"
    env = {**os.environ, **providers.env(), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    cli = str(Path(sys.executable).with_name("llm-router"))
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [cli, "serve", "-c", str(config), "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = Served(proc, port, log)
    up = wait_for(lambda: _healthy(port) or proc.poll() is not None, 60)
    assert up and proc.poll() is None, served.output()
    return served


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def stop(served: Served) -> None:
    if served.proc.poll() is None:
        served.proc.terminate()
        try:
            served.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            served.proc.kill()
            served.proc.wait()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, providers: Providers) -> Iterator[Served]:
    served = start(tmp_path_factory.mktemp("slow"), providers, LIMITS)
    yield served
    stop(served)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=20)


def trickle(sock: socket.socket, first: bytes, byte: bytes = b"a") -> tuple[bytes, float]:
    """Send ``first``, then one byte every 0.2 s until the server answers or closes; what it
    sent and how long that took after ``first``."""
    sock.sendall(first)
    started, data = time.monotonic(), b""
    sock.settimeout(0.2)
    while time.monotonic() - started < 20:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            try:
                sock.send(byte)
            except OSError:  # closed while we were sending
                break
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - started


def until_closed(sock: socket.socket) -> tuple[bytes, float]:
    started, data = time.monotonic(), b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data, time.monotonic() - started


def status(data: bytes) -> int | None:
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"


def test_a_connection_that_sends_nothing_is_closed(gateway: Served) -> None:
    with connect(gateway.port) as sock:
        data, took = until_closed(sock)
    assert data == b""
    assert LIMITS["header_timeout_s"] - 0.05 <= took <= LIMITS["header_timeout_s"] + SLACK_S


def test_headers_sent_a_byte_at_a_time_get_a_408(gateway: Served) -> None:
    with connect(gateway.port) as sock:
        data, took = trickle(sock, HEAD + b"x-slow: ")
    assert status(data) == 408
    assert took <= LIMITS["header_timeout_s"] + SLACK_S
    assert any(e["phase"] == "headers" for e in gateway.events("client_timeout"))


def test_a_body_sent_a_byte_at_a_time_gets_a_408(gateway: Served) -> None:
    with connect(gateway.port) as sock:
        data, took = trickle(sock, HEAD + b"content-length: 1000\r\n\r\n{")
    assert status(data) == 408
    assert took <= LIMITS["body_timeout_s"] + SLACK_S
    assert any(e["phase"] == "body" for e in gateway.events("client_timeout"))


def test_too_many_header_bytes_get_a_431(gateway: Served) -> None:
    with connect(gateway.port) as sock:
        sock.sendall(HEAD + b"x-big: " + b"b" * 20_000 + b"\r\n")
        data, _ = until_closed(sock)
    assert status(data) == 431
    assert orjson.loads(data.split(b"\r\n\r\n", 1)[1])["error"]["code"] == (
        "request_header_too_large"
    )


def test_an_idle_keep_alive_connection_is_closed(gateway: Served) -> None:
    with connect(gateway.port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nhost: gateway\r\n\r\n")
        answer = sock.recv(65536)
        while answer.count(b"}") < 1:  # the body may come in a segment of its own
            answer += sock.recv(65536)
        assert status(answer) == 200
        data, took = until_closed(sock)
    assert data == b""
    assert took <= LIMITS["keepalive_timeout_s"] + SLACK_S


def test_many_slow_connections_are_all_closed_in_time(gateway: Served) -> None:
    results: list[float] = []

    def one(first: bytes) -> None:
        with connect(gateway.port) as sock:
            results.append(trickle(sock, first)[1])

    kinds = [b"", HEAD + b"x-slow: ", HEAD + b"content-length: 500\r\n\r\n{"] * 30
    threads = [threading.Thread(target=one, args=(first,)) for first in kinds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == len(kinds)
    assert max(results) <= LIMITS["body_timeout_s"] + SLACK_S
    assert _healthy(gateway.port)  # and the server still answers


def test_a_client_that_leaves_mid_upload_is_one_line_without_a_traceback(
    gateway: Served,
) -> None:
    before = len(gateway.events("client_closed"))
    with connect(gateway.port) as sock:
        sock.sendall(HEAD + b'content-length: 1000\r\n\r\n{"model": ')
        time.sleep(0.2)
    assert wait_for(lambda: len(gateway.events("client_closed")) == before + 1, 10)
    line = gateway.events("client_closed")[-1]
    assert line["phase"] == "request_body"
    output = gateway.output()
    assert "Traceback" not in output and "ClientDisconnect" not in output


def test_shutdown_ends_within_its_bound_with_slow_clients_connected(
    gateway: Served, providers: Providers
) -> None:
    """Last in this file: it stops the module's gateway."""
    providers.openai.set_mode("hang")  # requests in flight that would never end by themselves
    hung: list[BaseException | int] = []

    def ask() -> None:
        try:
            answer = httpx.post(
                f"http://127.0.0.1:{gateway.port}/v1/chat/completions",
                json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
                timeout=60,
            )
            hung.append(answer.status_code)
        except httpx.HTTPError as exc:
            hung.append(exc)

    asking = [threading.Thread(target=ask) for _ in range(2)]
    for thread in asking:
        thread.start()
    socks = [connect(gateway.port) for _ in range(6)]
    try:
        for sock in socks[:3]:
            sock.sendall(HEAD + b"content-length: 1000\r\n\r\n{")
        for sock in socks[3:5]:
            sock.sendall(HEAD + b"x-slow: a")
        assert wait_for(lambda: providers.openai.stats()["requests"] == 2, 10)
        gateway.proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        gateway.proc.wait(timeout=LIMITS["shutdown_timeout_s"] + 30)
        took = time.monotonic() - started
        for sock in socks:  # every connection was closed by the server
            sock.settimeout(5)
            until_closed(sock)
    finally:
        for sock in socks:
            sock.close()
    for thread in asking:
        thread.join(timeout=10)
    assert took <= LIMITS["shutdown_timeout_s"] + SLACK_S, gateway.output()
    assert len(hung) == 2 and all(isinstance(h, httpx.HTTPError) for h in hung)
    output = gateway.output()
    assert "Traceback" not in output
    assert len(gateway.events("request_cancelled")) == 2
