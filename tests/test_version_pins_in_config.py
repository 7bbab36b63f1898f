"""Floating aliases load with a warning (pinned on first sight) naming the dated version;
router_plugins.pinning.require_pins and check --strict refuse them unless a deployment
allows it explicitly; retirements are announced ahead."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from router_config.cli.commands import app


def check(tmp_path: Path, models: str, *args: str, extra: str = "") -> tuple[int, str]:
    path = tmp_path / "c.yaml"
    path.write_text("model_list:\n" + models + extra)
    result = CliRunner().invoke(app, ["check", str(path), *args])
    return result.exit_code, result.output


GPT_4O = "  - model_name: chat\n    litellm_params: {model: openai/gpt-4o, api_key: k}\n"


def test_a_floating_alias_loads_with_a_warning_naming_the_dated_version(tmp_path: Path) -> None:
    code, out = check(tmp_path, GPT_4O)
    assert code == 0, out
    assert "floating alias 'gpt-4o'" in out and "first answer" in out
    assert "gpt-4o-2024-08-06" in out and "llm-router pin" in out


def test_require_pins_refuses_a_floating_alias_with_dated_versions_suggested(
    tmp_path: Path,
) -> None:
    code, out = check(tmp_path, GPT_4O, extra="router_plugins:\n  pinning: {require_pins: true}\n")
    assert code == 1
    assert "model_list[0].litellm_params.model" in out
    assert "'gpt-4o' is a floating alias" in out
    assert "gpt-4o-2024-08-06" in out and "allow_floating" in out


def test_check_strict_refuses_floating_aliases_like_require_pins(tmp_path: Path) -> None:
    code, out = check(tmp_path, GPT_4O, "--strict")
    assert code == 1
    assert "'gpt-4o' is a floating alias" in out and "check --strict" in out


def test_latest_and_undated_names_are_floating_too(tmp_path: Path) -> None:
    models = (
        "  - model_name: a\n    litellm_params: {model: anthropic/claude-3-5-sonnet-latest}\n"
        "    model_info: {free: true}\n"
        "  - model_name: b\n    litellm_params: {model: openai/some-new-model}\n"
        "    model_info: {free: true}\n"
    )
    code, out = check(tmp_path, models, "--strict")
    assert code == 1
    assert "model_list[0].litellm_params.model" in out
    assert "model_list[1].litellm_params.model" in out
    code, out = check(tmp_path, models)
    assert code == 0, out
    assert "'claude-3-5-sonnet-latest'" in out and "'some-new-model'" in out


def test_allow_floating_is_accepted_even_when_pins_are_required(tmp_path: Path) -> None:
    code, out = check(
        tmp_path,
        "  - model_name: chat\n"
        "    litellm_params: {model: openai/gpt-4o, api_key: k}\n"
        "    model_info: {allow_floating: true}\n",
        "--strict",
    )
    assert code == 0, out
    assert "floating alias 'gpt-4o'" in out


def test_a_local_deployment_without_a_weights_version_is_refused_only_when_strict(
    tmp_path: Path,
) -> None:
    models = (
        "  - model_name: local\n    litellm_params:\n"
        "      model: hosted_vllm/llama-3.1-8b-instruct\n"
        "      api_base: http://vllm:8000/v1\n"
    )
    code, out = check(tmp_path, models)
    assert code == 0, out
    assert "model_info.version" in out
    code, out = check(tmp_path, models, "--strict")
    assert code == 1
    assert "model_list[0].model_info.version" in out


def test_a_retired_or_retiring_pin_is_warned_about(tmp_path: Path) -> None:
    code, out = check(
        tmp_path,
        "  - model_name: chat\n    litellm_params:\n"
        "      model: anthropic/claude-3-5-sonnet-20241022\n"
        "    model_info: {free: true}\n",
    )
    assert code == 0, out
    assert "claude-3-5-sonnet-20241022 retired on 2025-10-22" in out


def test_check_strict_refuses_a_wildcard_route(tmp_path: Path) -> None:
    wildcard = '  - model_name: "*"\n    litellm_params: {model: "openai/*", api_key: k}\n'
    code, out = check(tmp_path, wildcard)
    assert code == 0 and "wildcard route '*'" in out
    code, out = check(tmp_path, wildcard, "--strict")
    assert code == 1 and "model_list[0].model_name" in out


def test_an_azure_deployment_without_a_model_name_is_skipped_not_called_floating(
    tmp_path: Path,
) -> None:
    code, out = check(
        tmp_path,
        GPT_4O + "  - model_name: images\n    litellm_params:\n"
        "      model: azure/\n      api_base: https://x.openai.azure.com\n      api_key: k\n",
    )
    assert code == 0, out
    assert "'azure/' names no model, so this deployment is not served" in out
    assert "'' is a floating alias" not in out
