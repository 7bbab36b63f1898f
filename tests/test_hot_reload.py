"""Hot reload: a valid config swaps in with no request dropped; an invalid one changes nothing."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from router_config.config.loader import load_config
from tests.conftest import BASE_CONFIG, Providers
from tests.failover_support import wait_for

MASTER = "sk-master-reload-test-0001"
KEY_OLD = "sk-provider-key-old-1111"
KEY_NEW = "sk-provider-key-new-2222"
ADMIN = {"authorization": f"Bearer {MASTER}"}
CONFIG = (
    BASE_CONFIG.replace(
        "      api_key: os.environ/OPENAI_API_KEY\n      order: 1",
        "      api_key: os.environ/ROTATED_KEY\n      order: 1",
        1,
    )
    + "general_settings:\n  master_key: os.environ/MASTER_KEY\n"
)
NEW_GROUP = """  - model_name: chat-next
    litellm_params:
      model: openai/gpt-4o-2024-11-20
      api_base: os.environ/OPENAI_BASE
      api_key: os.environ/ROTATED_KEY
    model_info:
      input_cost_per_token: 0.0000025
      output_cost_per_token: 0.00001
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "litellm_config.yaml"
    path.write_text(CONFIG)
    return path


def with_new_group(text: str) -> str:
    return text.replace("model_list:\n", "model_list:\n" + NEW_GROUP, 1)


async def chat(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(
        "/v1/chat/completions",
        headers=ADMIN,
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
    )


def test_reload_under_load_drops_nothing_and_rereads_keys(
    serve, providers: Providers, config_file: Path
) -> None:
    env = {**providers.env(), "MASTER_KEY": MASTER, "ROTATED_KEY": KEY_OLD}
    gateway = serve(
        load_config(config_file, environ=env),
        reload_from=lambda: load_config(config_file, environ=env),
    )
    providers.openai.set_mode("slow:400")

    async def run() -> tuple[list[httpx.Response], httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=10) as client:
            inflight = [asyncio.create_task(chat(client)) for _ in range(20)]
            await asyncio.sleep(0.15)  # all 20 are waiting on the provider now
            config_file.write_text(with_new_group(CONFIG))
            env["ROTATED_KEY"] = KEY_NEW  # the key was rotated in the secret store
            reloaded = await client.post("/admin/reload", headers=ADMIN)
            done = await asyncio.gather(*inflight)
            providers.openai.set_mode(None)
            after = await chat(client)
            return done, reloaded, after

    done, reloaded, after = asyncio.run(run())
    assert [r.status_code for r in done] == [200] * 20
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["status"] == "reloaded" and reloaded.json()["deployments"] == 7
    assert after.status_code == 200
    # The 20 in flight finished on the old key; the request after the reload used the new one.
    assert providers.openai.stats()["by_key"] == {KEY_OLD[-4:]: 20, KEY_NEW[-4:]: 1}
    models = httpx.get(f"{gateway.base_url}/v1/models", headers=ADMIN).json()["data"]
    assert "chat-next" in [m["id"] for m in models]


def test_an_invalid_config_is_refused_and_the_old_one_keeps_serving(
    serve, providers: Providers, config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {**providers.env(), "MASTER_KEY": MASTER, "ROTATED_KEY": KEY_OLD}
    gateway = serve(
        load_config(config_file, environ=env),
        reload_from=lambda: load_config(config_file, environ=env),
    )
    config_file.write_text(
        CONFIG.replace("os.environ/ROTATED_KEY", "os.environ/NOT_SET", 1)
        + "router_plugins:\n  failover:\n    deadline: 3\n"
    )
    logger = logging.getLogger("llm_router")
    logger.addHandler(caplog.handler)
    try:
        refused = httpx.post(f"{gateway.base_url}/admin/reload", headers=ADMIN)
    finally:
        logger.removeHandler(caplog.handler)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "invalid_config"
    assert [i["path"] for i in error["issues"]] == [
        "model_list[0].litellm_params.api_key",
        "router_plugins.failover.deadline",
    ]
    assert "export NOT_SET=" in error["issues"][0]["fix"]

    still = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        headers=ADMIN,
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert still.status_code == 200 and still.headers["x-router-provider"] == "openai"
    (logged,) = [
        r.fields for r in caplog.records if getattr(r, "fields", {}).get("event") == "reload_failed"
    ]  # type: ignore[attr-defined]
    assert len(logged["issues"]) == 2 and "NOT_SET" in logged["issues"][0]


def test_only_the_master_key_may_reload(serve, providers: Providers, config_file: Path) -> None:
    env = {**providers.env(), "MASTER_KEY": MASTER, "ROTATED_KEY": KEY_OLD}
    gateway = serve(load_config(config_file, environ=env))
    assert httpx.post(f"{gateway.base_url}/admin/reload").status_code == 401
    wrong = httpx.post(f"{gateway.base_url}/admin/reload", headers={"authorization": "Bearer x"})
    assert wrong.status_code == 401


def test_sighup_reloads_a_running_server(providers: Providers, config_file: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        **providers.env(),
        "MASTER_KEY": MASTER,
        "ROTATED_KEY": KEY_OLD,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    cli = str(Path(sys.executable).with_name("llm-router"))
    server = subprocess.Popen(
        [cli, "serve", "-c", str(config_file), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: group_names(base) is not None, 60), "the server did not start"
        assert "chat-next" not in (group_names(base) or [])
        config_file.write_text(with_new_group(CONFIG))
        server.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "chat-next" in (group_names(base) or []), 20)
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=20)
    assert '"event":"config_reloaded"' in out
    assert KEY_OLD not in out and MASTER not in out


def group_names(base: str) -> list[str] | None:
    try:
        data = httpx.get(f"{base}/v1/models", headers=ADMIN, timeout=2).json()["data"]
    except httpx.HTTPError:
        return None
    return [m["id"] for m in data]


@pytest.mark.usefixtures("fresh_langfuse")
def test_tracing_goes_on_after_a_reload(serve, providers: Providers, config_file: Path) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    config_file.write_text(
        CONFIG + "router_plugins:\n  langfuse:\n    public_key: pk-lf-reload\n"
        "    secret_key: sk-lf-reload\n    host: http://127.0.0.1:9\n"
    )
    env = {**providers.env(), "MASTER_KEY": MASTER, "ROTATED_KEY": KEY_OLD}
    exporter = InMemorySpanExporter()
    gateway = serve(
        load_config(config_file, environ=env),
        reload_from=lambda: load_config(config_file, environ=env),
        span_exporter=exporter,
    )
    assert httpx.post(f"{gateway.base_url}/admin/reload", headers=ADMIN).status_code == 200
    answer = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        headers={**ADMIN, "x-request-id": "after-reload"},
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 200
    gateway.stop()  # flushes
    traced = [s for s in exporter.get_finished_spans() if "after-reload" in str(s.attributes)]
    assert {s.name for s in traced} >= {"chat", "llm:openai"}
