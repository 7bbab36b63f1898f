"""Every LiteLLM setting a config sets is honoured or named: an unknown section or a typo is an
error with did-you-mean; a key not applied is a warning saying what to use instead, logged
once at start; docs/coming-from-litellm.md prints the code's own table."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest

from router_config.config.compat_table import TABLE
from router_config.config.loader import parse_config
from router_config.errors import ConfigError
from tests.conftest import ConfigFactory, Providers

DOC = Path(__file__).resolve().parent.parent / "docs" / "coming-from-litellm.md"


def refused(make_config: ConfigFactory, extra: str) -> list[str]:
    with pytest.raises(ConfigError) as error:
        make_config(extra)
    return [issue.render("c.yaml") for issue in error.value.issues]


@pytest.mark.parametrize(
    ("extra", "path", "guess"),
    [
        ("router_setings:\n  routing_strategy: least-busy\n", "router_setings", "router_settings"),
        (
            "router_settings:\n  routing_stratgy: least-busy\n",
            "routing_stratgy",
            "routing_strategy",
        ),
        ("litellm_settings:\n  drop_param: true\n", "litellm_settings.drop_param", "drop_params"),
        ("general_settings:\n  master_keys: x\n", "general_settings.master_keys", "master_key"),
        (
            "router_plugins:\n  server:\n    max_body_byte: 10\n",
            "router_plugins.server.max_body_byte",
            "max_body_bytes",
        ),
        (
            "router_settings:\n  routing_strategy: least-bussy\n",
            "router_settings.routing_strategy",
            "least-busy",
        ),
    ],
)
def test_an_unknown_section_or_a_typo_is_an_error_with_did_you_mean(
    make_config: ConfigFactory, extra: str, path: str, guess: str
) -> None:
    (issue,) = [i for i in refused(make_config, extra) if path in i]
    assert f"did you mean {guess}?" in issue


def test_a_key_lite_llm_ignores_here_too_is_named_not_refused(make_config: ConfigFactory) -> None:
    config = make_config(
        "router_settings:\n  cache_params: {type: redis}\n  no_such_thing_at_all: 1\n"
    )
    warnings = "\n".join(config.warnings)
    assert "router_settings.cache_params: LiteLLM reads this key in litellm_settings" in warnings
    assert "router_settings.no_such_thing_at_all: not a LiteLLM setting" in warnings


def test_each_setting_not_applied_is_named_with_what_to_do_instead(
    make_config: ConfigFactory,
) -> None:
    config = make_config(
        "litellm_settings:\n  max_budget: 100\n  set_verbose: true\n"
        "router_settings:\n  provider_budget_config: {openai: {budget_limit: 1}}\n"
        "general_settings:\n  alerting: [slack]\n  database_url: os.environ/DB_URL\n"
        "guardrails: []\n"
    )
    warnings = "\n".join(config.warnings)
    assert "litellm_settings.max_budget: not applied: router_plugins.budgets" in warnings
    assert "router_settings.provider_budget_config: not applied: router_plugins.budgets" in warnings
    assert "general_settings.alerting: not applied: router_plugins.alerts" in warnings
    assert "guardrails: not applied" in warnings
    # DB_URL is unset: only a warning, since database_url is not applied anyway.
    assert "general_settings.database_url: environment variable DB_URL is not set" in warnings


def test_a_missing_variable_for_an_applied_key_is_still_an_error(
    make_config: ConfigFactory,
) -> None:
    issues = refused(make_config, "general_settings:\n  master_key: os.environ/NOT_SET_HERE\n")
    assert any("NOT_SET_HERE is not set" in i for i in issues)


def test_warnings_are_logged_once_at_start(
    make_config: ConfigFactory, serve, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("llm_router")
    logger.addHandler(caplog.handler)
    try:
        serve(make_config("litellm_settings:\n  max_budget: 100\n"))
    finally:
        logger.removeHandler(caplog.handler)
    named = [
        r.fields["message"]  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "fields", {}).get("event") == "config_warning"
        and "max_budget" in r.fields["message"]  # type: ignore[attr-defined]
    ]
    assert len(named) == 1


def test_the_documentation_table_is_the_codes_own_list() -> None:
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"^\| `([^`]+)` \| (honoured|different|unsupported) \| (.*) \|$", line)
        if match:
            rows[match[1]] = (match[2], match[3])
    assert rows == {key: (row.status, row.note) for key, row in TABLE.items()}


def test_the_example_config_sets_nothing_that_is_not_applied() -> None:
    example = Path(__file__).resolve().parent.parent / "litellm_config.yaml"
    text = example.read_text()
    env = {name: "x" for name in re.findall(r"os\.environ/(\w+)", text)}
    config = parse_config(text, source=str(example), environ=env)
    assert not [w for w in config.warnings if "not applied" in w]


def test_environment_variables_are_set_before_references_resolve(
    providers: Providers, serve
) -> None:
    text = (
        "environment_variables:\n  MY_GATEWAY_BASE: os.environ/OPENAI_BASE\n"
        "  MY_KEY: sk-from-config\n"
        "model_list:\n  - model_name: chat\n    litellm_params:\n"
        "      model: openai/gpt-4o-2024-08-06\n"
        "      api_base: os.environ/MY_GATEWAY_BASE\n      api_key: os.environ/MY_KEY\n"
    )
    config = parse_config(text, source="env.yaml", environ=providers.env())
    assert config.environment["MY_KEY"] == "sk-from-config"
    gateway = serve(config)
    reply = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert reply.status_code == 200
    assert providers.openai.stats()["by_key"] == {"nfig": 1}
