"""Shared fixtures: real Redis (a database of our own), fake providers, real gateways.

Nothing here mocks our own code: gateways run under uvicorn on loopback and
call the project's fake provider over HTTP through LiteLLM's real adapters.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Pin history goes to a file of the test run's own, never the user's state directory.
os.environ["LLM_ROUTER_VERSIONS_FILE"] = os.path.join(
    __import__("tempfile").mkdtemp(prefix="llm-router-tests-"), "versions.jsonl"
)

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis

from router_config.config.loader import parse_config
from router_config.config.schema import RouterConfig
from router_config.testing import FakeProviderServer
from router_config.testing.gateway_server import GatewayServer

# Parallel checkouts on one machine set LLM_ROUTER_TEST_REDIS_DB so they never share a database.
# Under pytest-xdist each worker (gw0, gw1...) takes the next database, and its own slice of
# the redis-server port range (tests/redis_servers.py).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
TEST_REDIS_DB = int(os.environ.get("LLM_ROUTER_TEST_REDIS_DB", "13")) + _WORKER
TEST_REDIS_URL = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"


@dataclass
class Providers:
    """Three fake providers standing in for OpenAI, Anthropic and a local vLLM."""

    openai: FakeProviderServer
    anthropic: FakeProviderServer
    local: FakeProviderServer

    def env(self) -> dict[str, str]:
        return {
            "OPENAI_BASE": self.openai.openai_base,
            "ANTHROPIC_BASE": self.anthropic.base_url,
            "LOCAL_BASE": self.local.openai_base,
            "OPENAI_API_KEY": "sk-test-openai-0001",
            "ANTHROPIC_API_KEY": "sk-ant-test-0002",
        }

    def reset(self) -> None:
        for fake in (self.openai, self.anthropic, self.local):
            fake.reset()


@pytest.fixture(scope="session")
def providers() -> Iterator[Providers]:
    with FakeProviderServer() as a, FakeProviderServer() as b, FakeProviderServer() as c:
        yield Providers(openai=a, anthropic=b, local=c)


@pytest.fixture(autouse=True)
def _fresh_providers(request: pytest.FixtureRequest) -> None:
    if "providers" in request.fixturenames:
        request.getfixturevalue("providers").reset()


@pytest.fixture(autouse=True)
def _own_state_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Each test's gateways keep their spend journal in a directory of the test's own."""
    folder = str(tmp_path_factory.mktemp("state"))
    monkeypatch.setenv("LLM_ROUTER_STATE_DIR", folder)
    return folder


@pytest.fixture(autouse=True)
def fresh_langfuse() -> Iterator[None]:
    """Langfuse keeps one client per public key in the process: every test starts and ends
    without one (a client left by an earlier test would export to that test's receiver)."""
    from langfuse._client.resource_manager import LangfuseResourceManager

    LangfuseResourceManager.reset()
    yield
    LangfuseResourceManager.reset()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis database of the tests' own, empty at start and flushed after."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()


BASE_CONFIG = """
model_list:
  - model_name: chat
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: os.environ/OPENAI_BASE
      api_key: os.environ/OPENAI_API_KEY
      order: 1
    model_info:
      id: openai-primary
      input_cost_per_token: 0.0000025
      output_cost_per_token: 0.00001
  - model_name: chat
    litellm_params:
      model: anthropic/claude-3-5-sonnet-20241022
      api_base: os.environ/ANTHROPIC_BASE
      api_key: os.environ/ANTHROPIC_API_KEY
      order: 2
    model_info:
      id: anthropic-fallback
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
  - model_name: chat
    litellm_params:
      model: hosted_vllm/llama-3.1-8b-instruct
      api_base: os.environ/LOCAL_BASE
      api_key: none
      order: 3
    model_info:
      id: local-last
      version: llama-3.1-8b-instruct@sha-test
      input_cost_per_token: 0
      output_cost_per_token: 0
  - model_name: openai-only
    litellm_params:
      model: openai/gpt-4o-2024-08-06
      api_base: os.environ/OPENAI_BASE
      api_key: os.environ/OPENAI_API_KEY
    model_info:
      input_cost_per_token: 0.0000025
      output_cost_per_token: 0.00001
  - model_name: anthropic-only
    litellm_params:
      model: anthropic/claude-3-5-sonnet-20241022
      api_base: os.environ/ANTHROPIC_BASE
      api_key: os.environ/ANTHROPIC_API_KEY
    model_info:
      input_cost_per_token: 0.000003
      output_cost_per_token: 0.000015
  - model_name: local-only
    litellm_params:
      model: hosted_vllm/llama-3.1-8b-instruct
      api_base: os.environ/LOCAL_BASE
      api_key: none
    model_info:
      version: llama-3.1-8b-instruct@sha-test
      free: true
"""


ConfigFactory = Callable[..., RouterConfig]


@pytest.fixture
def make_config(providers: Providers) -> ConfigFactory:
    """Build a RouterConfig from BASE_CONFIG (or given text) plus extra YAML and env."""

    def make(extra: str = "", *, text: str = BASE_CONFIG, **env: str) -> RouterConfig:
        return parse_config(
            text + extra, source="test_config.yaml", environ={**providers.env(), **env}
        )

    return make


@pytest.fixture
def serve() -> Iterator[Callable[[RouterConfig], GatewayServer]]:
    """Start gateways on loopback; all are stopped when the test ends."""
    started: list[GatewayServer] = []

    def start(config: RouterConfig, **kwargs: object) -> GatewayServer:
        server = GatewayServer(config, **kwargs).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()
