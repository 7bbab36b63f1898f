"""Real LiteLLM proxy configs (tests/litellm_configs/) pass ``check`` and serve a chat request
unchanged: only api_base and key values point at the fake provider, through os.environ/."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import redis
from typer.testing import CliRunner

from router_config.cli.commands import app
from router_config.config.loader import load_config
from tests.conftest import Providers

CORPUS = Path(__file__).parent / "litellm_configs"
REDIS_PORT = 17401  # this suite's own redis-server: configs that name Redis get a database 0
MASTER = "sk-corpus-master"
# Each config, and a chat model group (or alias, wildcard name) a caller of it would ask for.
REQUESTS: dict[str, dict[str, object]] = {
    "proxy_server_config.yaml": {"model": "my-special-fake-model-alias-name"},
    "load_balancer.yaml": {"model": "gpt-3.5-turbo"},
    "azure_config.yaml": {"model": "gpt-4-team1"},
    "azure_config_with_tpm.yaml": {"model": "gpt-3.5-turbo"},
    "multi_instance_simple_config.yaml": {"model": "fake-openai-endpoint"},
    "spend_tracking_config.yaml": {"model": "fake-openai-endpoint"},
    "otel_test_config.yaml": {"model": "fake-openai-endpoint"},
    "prometheus_test_config.yaml": {"model": "fake-openai-endpoint"},
    "oai_misc_config.yaml": {"model": "gpt-5-mini-end-user-test"},
    "enterprise_config.yaml": {"model": "gpt-4"},
    "store_model_db_config.yaml": {"model": "fake-openai-endpoint"},
    "disable_schema_update.yaml": {"model": "gpt-4"},
    "simple_config.yaml": {"model": "gpt-3.5-turbo"},
    "docs_load_balancing.yaml": {"model": "gpt-4"},
    "docs_fallbacks_retries.yaml": {"model": "gpt-3.5-turbo"},
    "docs_fallback_to_model_id.yaml": {"model": "gpt-4"},
    "docs_tag_routing.yaml": {"model": "gpt-4", "extra_body": {"tags": ["free"]}},
    "docs_call_hooks.yaml": {"model": "gpt-3.5-turbo"},
}


@pytest.fixture(autouse=True)
def _otel_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two configs name LiteLLM's ``otel`` logger: keep its spans in memory, not on stdout."""
    monkeypatch.setenv("OTEL_EXPORTER", "in_memory")


@pytest.fixture(scope="module")
def own_redis() -> Iterator[int]:
    """A redis-server of this suite's own (database 0 is ours), stopped at the end."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=REDIS_PORT)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield REDIS_PORT
    client.close()
    proc.terminate()
    proc.wait(timeout=10)


def corpus_env(path: Path, providers: Providers, port: int) -> dict[str, str]:
    """Every os.environ/ name the file uses: the fake provider's address for api_base values,
    test keys for the rest, this suite's Redis for the Redis ones."""
    env = {
        name: f"test-{name.lower()}" for name in re.findall(r"os\.environ/(\w+)", path.read_text())
    }
    env.update(
        {
            "FAKE_OPENAI_API_BASE": providers.openai.openai_base,
            "FAKE_OPENAI_API_BASE_2": providers.local.openai_base,
            "FAKE_AZURE_API_BASE": providers.openai.base_url,
            "FAKE_ANTHROPIC_API_BASE": providers.anthropic.base_url,
            "FAKE_MASTER_KEY": MASTER,
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(port),
            "REDIS_PASSWORD": "",
        }
    )
    return env


def test_the_corpus_holds_real_configs_each_with_its_source() -> None:
    files = sorted(p.name for p in CORPUS.glob("*.yaml"))
    assert len(files) >= 10
    assert files == sorted(REQUESTS)
    for name in files:
        head = (CORPUS / name).read_text().splitlines()[:2]
        assert head[0].startswith("# Source: https://"), name
        assert "BerriAI/litellm" in head[0] or "docs.litellm.ai" in head[0], name
        assert "unchanged except api_base and api_key" in head[1], name


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_a_litellm_config_passes_check_and_serves_a_chat_request(
    name: str, providers: Providers, own_redis: int, serve
) -> None:
    path = CORPUS / name
    env = corpus_env(path, providers, own_redis)
    result = CliRunner().invoke(app, ["check", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert ": OK, " in result.output
    server = serve(load_config(path, environ=env))
    client = openai.OpenAI(base_url=server.openai_base, api_key=MASTER, max_retries=0)
    request = REQUESTS[name]
    reply = client.chat.completions.with_raw_response.create(
        model=str(request["model"]),
        messages=[{"role": "user", "content": "Say hi"}],
        extra_body=request.get("extra_body"),  # type: ignore[arg-type]
    )
    completion = reply.parse()
    assert completion.choices[0].message.content
    assert reply.headers["x-router-deployment"]
    assert completion.usage is not None and completion.usage.total_tokens > 0
