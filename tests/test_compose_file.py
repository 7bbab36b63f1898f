"""compose.yaml wires the gateway, Redis and a self-hosted Langfuse v4 stack correctly, on
server versions the pinned Langfuse SDK supports.

There is no Docker engine on CI machines; when the compose plugin is present
``docker compose config`` validates the file too, otherwise the parse below is
the whole check.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
# The self-hosted Langfuse server each Python SDK major needs, as Langfuse documents it.
# SDK v5: "It needs Python 3.11+ and Langfuse Cloud or self-hosted Langfuse v4.59.0 or
# later" (https://langfuse.com/docs/observability/sdk/upgrade-path/python-v4-to-v5).
SDK_MIN_SERVER = {5: (4, 59, 0)}
# Langfuse v4 needs ClickHouse 25.12 or newer (its own docker-compose.yml pins 25.12).
MIN_CLICKHOUSE = (25, 12)
ENV_EXAMPLE = dict(
    line.split("=", 1)
    for line in (ROOT / ".env.example").read_text().splitlines()
    if line and not line.startswith("#")
)


def test_the_stack_has_the_gateway_redis_and_every_langfuse_component() -> None:
    assert set(SERVICES) == {
        "router",
        "redis",
        "langfuse-web",
        "langfuse-worker",
        "postgres",
        "clickhouse",
        "langfuse-redis",
        "minio",
    }
    assert SERVICES["router"]["build"] == "."
    assert all("image" in s for name, s in SERVICES.items() if name != "router")
    assert SERVICES["router"]["ports"] == ["4000:4000"]
    assert SERVICES["langfuse-web"]["ports"] == ["3000:3000"]


def test_every_dependency_waits_for_a_healthcheck() -> None:
    for name, service in SERVICES.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in SERVICES[dependency], dependency
    assert set(SERVICES["router"]["depends_on"]) == {"redis", "langfuse-web"}


def test_the_gateway_uses_the_keys_langfuse_creates_at_first_start() -> None:
    router_env = SERVICES["router"]["environment"]
    web_env = SERVICES["langfuse-web"]["environment"]
    assert router_env["LANGFUSE_PUBLIC_KEY"] == web_env["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"]
    assert router_env["LANGFUSE_SECRET_KEY"] == web_env["LANGFUSE_INIT_PROJECT_SECRET_KEY"]
    assert router_env["LANGFUSE_HOST"] == "http://langfuse-web:3000"
    assert router_env["REDIS_URL"] == "redis://redis:6379/0"
    for key in ("ORG_ID", "PROJECT_ID", "USER_EMAIL", "USER_PASSWORD"):
        assert f"LANGFUSE_INIT_{key}" in web_env


def test_langfuse_redis_never_evicts_its_queues() -> None:
    assert "noeviction" in SERVICES["langfuse-redis"]["command"]


def test_every_variable_compose_needs_is_in_env_example_and_env_is_ignored() -> None:
    text = (ROOT / "compose.yaml").read_text()
    needed = {m for m in re.findall(r"\$\{([A-Z0-9_]+)\}", text)}
    assert needed <= set(ENV_EXAMPLE), needed - set(ENV_EXAMPLE)
    config_text = "\n".join(
        line.split("#", 1)[0] for line in (ROOT / "litellm_config.yaml").read_text().splitlines()
    )
    config_vars = set(re.findall(r"os\.environ/([A-Z0-9_]+)", config_text))
    assert config_vars <= set(ENV_EXAMPLE), config_vars - set(ENV_EXAMPLE)
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_docker_compose_accepts_the_file_when_the_compose_plugin_is_installed() -> None:
    docker = shutil.which("docker")
    probe = (
        subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if docker
        else None
    )
    if probe is None or probe.returncode != 0:
        assert COMPOSE["name"] == "llm-router"  # parsed above: the only check available here
        return
    result = subprocess.run(
        [docker, "compose", "--env-file", ".env.example", "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _tag(service: str) -> str:
    image = SERVICES[service]["image"]
    assert ":" in image.rsplit("/", 1)[-1], f"{service}: {image} has no version tag"
    return str(image.rsplit(":", 1)[1])


def _version(tag: str) -> tuple[int, ...]:
    return tuple(int(part) for part in tag.split("."))


def test_langfuse_web_and_worker_are_pinned_to_one_version_the_sdk_supports() -> None:
    web, worker = _tag("langfuse-web"), _tag("langfuse-worker")
    assert web == worker, "web and worker must run the same Langfuse version"
    assert re.fullmatch(r"\d+\.\d+\.\d+", web), f"pin an exact version, not {web!r}"
    sdk_major = int(importlib.metadata.version("langfuse").split(".")[0])
    assert sdk_major in SDK_MIN_SERVER, f"SDK v{sdk_major}: look up its minimum server version"
    assert _version(web) >= SDK_MIN_SERVER[sdk_major]
    # pyproject allows only SDK majors whose minimum server is known here.
    requirement = next(
        line for line in (ROOT / "pyproject.toml").read_text().splitlines() if '"langfuse' in line
    )
    ceiling = re.search(r"<\s*(\d+)", requirement)
    assert ceiling, f"pyproject.toml: give langfuse an upper bound ({requirement.strip()})"
    assert set(range(sdk_major, int(ceiling.group(1)))) <= set(SDK_MIN_SERVER)


def test_clickhouse_is_a_version_langfuse_v4_supports() -> None:
    assert _version(_tag("clickhouse"))[:2] >= MIN_CLICKHOUSE


def test_langfuse_redis_keeps_its_queues_under_a_password_and_on_disk() -> None:
    command = SERVICES["langfuse-redis"]["command"]
    assert "--requirepass" in command
    assert any(v.endswith(":/data") for v in SERVICES["langfuse-redis"]["volumes"])


def test_env_example_leaves_no_usable_default_secret() -> None:
    secrets = [k for k in ENV_EXAMPLE if re.search(r"KEY|SECRET|PASSWORD|SALT", k)]
    assert "LANGFUSE_ENCRYPTION_KEY" in secrets
    for name in secrets:
        assert "change-me" in ENV_EXAMPLE[name], name
    assert not any(re.fullmatch(r"0{16,}", v) for v in ENV_EXAMPLE.values())
