"""``llm-router serve --workers 2``: SIGHUP and ``POST /admin/reload`` reach every worker under
load (the issue measured 40 of 40 answers on the old config after SIGHUP, and 23 new / 17
old after the POST), no request fails meanwhile, and ``/metrics`` adds up both workers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BASE_CONFIG, Providers
from tests.failover_support import wait_for
from tests.redis_servers import take_port

MASTER = "sk-master-workers-test-0001"
ADMIN = {"authorization": f"Bearer {MASTER}"}
CONFIG = BASE_CONFIG + "general_settings:\n  master_key: os.environ/MASTER_KEY\n"


def with_group(text: str, name: str) -> str:
    group = (
        f"  - model_name: {name}\n    litellm_params:\n      model: openai/gpt-4o-2024-08-06\n"
        "      api_base: os.environ/OPENAI_BASE\n      api_key: os.environ/OPENAI_API_KEY\n"
        "    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}\n"
    )
    return text.replace("model_list:\n", "model_list:\n" + group, 1)


@pytest.fixture
def server(
    providers: Providers, tmp_path: Path, _own_state_dir: str
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    config = tmp_path / "litellm_config.yaml"
    config.write_text(CONFIG)
    port = take_port()
    env = {
        **os.environ,
        **providers.env(),
        "MASTER_KEY": MASTER,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LLM_ROUTER_STATE_DIR": _own_state_dir,
    }
    cli = str(Path(sys.executable).with_name("llm-router"))
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [cli, "serve", "-c", str(config), "--port", str(port), "--workers", "2"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: all(chat(base, "chat") == 200 for _ in range(6)), 90)
        yield process, base, config
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def chat(base: str, group: str) -> int:
    try:
        return httpx.post(
            f"{base}/v1/chat/completions",
            headers=ADMIN,
            json={"model": group, "messages": [{"role": "user", "content": "hi"}]},
            timeout=20,
        ).status_code
    except httpx.HTTPError:
        return 0


def every_worker_serves(base: str, group: str) -> bool:
    """40 answers in a row from the group (connections spread over both workers)."""
    return all(chat(base, group) == 200 for _ in range(40))


def requests_counted(base: str) -> float:
    page = httpx.get(  # metrics need the master key (or a metrics key) since issue 15
        f"{base}/metrics", headers={"authorization": f"Bearer {MASTER}"}, timeout=10
    ).text
    found = re.findall(
        r'^llm_router_requests_total\{[^}]*model_group="chat"[^}]*\} (\S+)$', page, re.M
    )
    return sum(float(v) for v in found)


def test_reloads_reach_every_worker_under_load_and_metrics_add_up(
    server: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    process, base, config = server
    failures: list[int] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            status = chat(base, "chat")
            if status != 200:
                failures.append(status)

    workers = [threading.Thread(target=load) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        config.write_text(with_group(CONFIG, "chat-next"))
        process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: every_worker_serves(base, "chat-next"), 30)

        config.write_text(with_group(with_group(CONFIG, "chat-next"), "chat-third"))
        reloaded = httpx.post(f"{base}/admin/reload", headers=ADMIN, timeout=60)
        assert reloaded.status_code == 200, reloaded.text
        assert wait_for(lambda: every_worker_serves(base, "chat-third"), 10)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    assert failures == []  # nothing failed while both workers reloaded twice

    # Every scrape counts both workers' requests, whichever worker answers it.
    before = requests_counted(base)
    for _ in range(10):
        assert chat(base, "chat") == 200
    assert [requests_counted(base) for _ in range(6)] == [before + 10] * 6


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def holds_the_gateway(pid: int) -> bool:
    """Whether the process has loaded the gateway's stack (pydantic's compiled core, which
    LiteLLM, FastAPI and our config need; the supervisor needs none of them)."""
    return "pydantic_core" in Path(f"/proc/{pid}/maps").read_text()


def test_the_supervisor_leaves_the_gateway_to_its_workers(
    server: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    """``serve`` validates the config with LiteLLM loaded, then hands over to a fresh
    interpreter that only supervises: the same pid (signals still reach it), without the
    ~200 MB a supervisor never uses. Both workers serve, each with the gateway loaded."""
    process, base, _ = server
    workers = [
        pid
        for pid in children(process.pid)
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert len(workers) == 2
    assert all(holds_the_gateway(pid) for pid in workers)
    assert not holds_the_gateway(process.pid)
    assert chat(base, "chat") == 200
