"""A floating alias loads: its first answer's version is recorded (once, across replicas) and
drift from it is alerted from then on; ``llm-router pin`` writes a copy of the config with
dated versions, keeping its comments; pin history is kept per namespace."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from plugins.version_history import VersionHistory
from router_config.cli.commands import app
from router_config.config.loader import load_config
from tests.conftest import ConfigFactory, Providers

FLOATING = """
model_list:
  - model_name: chat
    litellm_params: {model: openai/gpt-4o, api_base: os.environ/OPENAI_BASE, api_key: k}
    model_info: {id: floating}
router_plugins:
  cache: {mode: "off"}
"""


def ask(gateway) -> httpx.Response:  # type: ignore[no-untyped-def]
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{gateway.openai_base}/chat/completions", json=body, timeout=10)


def test_the_first_answer_pins_a_floating_alias_and_later_drift_is_alerted(
    make_config: ConfigFactory,
    serve,
    providers: Providers,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = FLOATING + f"router_settings:\n  redis_url: {redis_url}\n"
    logger = logging.getLogger("llm_router")
    logger.addHandler(caplog.handler)
    try:
        providers.openai.set_served_model("gpt-4o-2024-08-06")
        first = serve(make_config(text=text))
        assert ask(first).headers["x-router-model"] == "gpt-4o-2024-08-06"
        assert ask(first).status_code == 200
        # A second replica (or a restart) knows the version from Redis.
        providers.openai.set_served_model("gpt-4o-2024-11-20")
        second = serve(make_config(text=text))
        drifted = ask(second)
    finally:
        logger.removeHandler(caplog.handler)
    assert drifted.status_code == 200  # policy warn: answered, and said
    assert drifted.headers["x-router-model"] == "gpt-4o-2024-11-20"
    events = [r.fields for r in caplog.records if hasattr(r, "fields")]  # type: ignore[attr-defined]
    kinds = [e["event"] for e in events]
    assert kinds.count("pin_first_seen") == 1
    assert "floating_pin" in kinds
    (drift,) = [e for e in events if e["event"] == "version_drift"]
    assert drift["pinned"] == "gpt-4o-2024-08-06" and drift["served"] == "gpt-4o-2024-11-20"


COMMENTED = """# Our production config (comments must survive `llm-router pin`).
model_list:
  - model_name: chat   # the main group
    litellm_params:
      model: openai/gpt-4o            # floating: to be pinned
      api_key: os.environ/OPENAI_API_KEY
  - model_name: mini
    litellm_params:
      model: gpt-4o-mini              # no provider prefix
      api_key: os.environ/OPENAI_API_KEY
  - model_name: azure
    litellm_params:
      model: azure/my-deployment
      api_base: https://example.openai.azure.com
      api_key: os.environ/OPENAI_API_KEY
    model_info: {base_model: azure/gpt-4o-2024-08-06}
  - model_name: pinned
    litellm_params:
      model: anthropic/claude-3-5-haiku-20241022
      api_key: os.environ/OPENAI_API_KEY
    model_info: {free: true}
"""


def test_pin_writes_a_copy_with_dated_versions_and_the_comments_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "litellm_config.yaml"
    source.write_text(COMMENTED)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("LLM_ROUTER_VERSIONS_FILE", str(tmp_path / "versions.jsonl"))
    # chat's alias was first seen serving a newer version than the catalog's: that one wins.
    config = load_config(source)
    history = VersionHistory.of(config, None)
    when = dt.datetime.now(dt.UTC)
    asyncio.run(history.record_first_seen(config, config.deployments[0], "gpt-4o-2024-11-20", when))
    result = CliRunner().invoke(app, ["pin", str(source)])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "litellm_config.pinned.yaml").read_text()
    assert "model: openai/gpt-4o-2024-11-20            # floating: to be pinned" in written
    assert "model: gpt-4o-mini-2024-07-18              # no provider prefix" in written
    assert "# Our production config (comments must survive `llm-router pin`)." in written
    assert "- model_name: chat   # the main group" in written
    assert "model: azure/my-deployment" in written  # an Azure deployment name is not a version
    assert "an Azure deployment name" in result.output
    assert source.read_text() == COMMENTED  # the original is untouched
    strict = CliRunner().invoke(
        app, ["check", "--strict", str(tmp_path / "litellm_config.pinned.yaml")]
    )
    assert "floating alias" not in strict.output.split("azure")[0]


def test_pin_history_is_kept_per_namespace(
    tmp_path: Path, providers: Providers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLM_ROUTER_VERSIONS_FILE")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    paths = []
    for namespace in ("team-a", "team-b"):
        path = tmp_path / f"{namespace}.yaml"
        path.write_text(FLOATING + f"  namespace: {namespace}\n")
        config = load_config(path, environ=providers.env())
        asyncio.run(VersionHistory.of(config, None).record(config, dt.datetime.now(dt.UTC)))
        paths.append(tmp_path / "llm-router" / namespace / "versions.jsonl")
    assert all(p.exists() for p in paths)
    assert paths[0].read_text().count("\n") == paths[1].read_text().count("\n") == 1
