"""Every deployment pins an exact version: floating aliases are refused with the fix named,
unless allowed explicitly (then a warning); retirements are announced ahead."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from router_config.cli.commands import app


def check(tmp_path: Path, models: str) -> tuple[int, str]:
    path = tmp_path / "c.yaml"
    path.write_text("model_list:\n" + models)
    result = CliRunner().invoke(app, ["check", str(path)])
    return result.exit_code, result.output


def test_a_floating_alias_is_refused_with_dated_versions_suggested(tmp_path: Path) -> None:
    code, out = check(
        tmp_path, "  - model_name: chat\n    litellm_params: {model: openai/gpt-4o, api_key: k}\n"
    )
    assert code == 1
    assert "model_list[0].litellm_params.model" in out
    assert "'gpt-4o' is a floating alias" in out
    assert "gpt-4o-2024-11-20" in out and "allow_floating" in out


def test_latest_and_undated_names_are_floating_too(tmp_path: Path) -> None:
    code, out = check(
        tmp_path,
        (
            "  - model_name: a\n    litellm_params: {model: anthropic/claude-3-5-sonnet-latest}\n"
            "  - model_name: b\n    litellm_params: {model: openai/some-new-model}\n"
        ),
    )
    assert code == 1
    assert "model_list[0].litellm_params.model" in out
    assert "model_list[1].litellm_params.model" in out


def test_allow_floating_is_accepted_with_a_warning(tmp_path: Path) -> None:
    code, out = check(
        tmp_path,
        "  - model_name: chat\n"
        "    litellm_params: {model: openai/gpt-4o, api_key: k}\n"
        "    model_info: {allow_floating: true, free: true}\n",
    )
    assert code == 0, out
    assert "floating alias 'gpt-4o' (allow_floating)" in out


def test_a_local_deployment_must_name_its_weights_version(tmp_path: Path) -> None:
    code, out = check(
        tmp_path,
        "  - model_name: local\n    litellm_params:\n"
        "      model: hosted_vllm/llama-3.1-8b-instruct\n"
        "      api_base: http://vllm:8000/v1\n",
    )
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
