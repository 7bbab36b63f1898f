"""Turns ``litellm_config.yaml`` into a frozen ``RouterConfig``, or a ``ConfigError``.

Loading happens in passes, each collecting issues instead of stopping at the
first: YAML parsing, ``os.environ/NAME`` resolution, schema validation, and
then cross-references (fallback groups exist, ids are unique). A platform
engineer fixing a config should see all of its problems in one run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from router_config.config.normalize import normalize
from router_config.config.schema import RawConfig, RouterConfig
from router_config.errors import ConfigError, ConfigIssue

ENV_PREFIX = "os.environ/"


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> RouterConfig:
    """Read, resolve and validate the config at ``path``.

    ``environ`` defaults to ``os.environ``; tests pass their own mapping so they
    never have to mutate the process environment.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            file,
            [
                ConfigIssue(
                    "",
                    f"cannot read the file ({exc.strerror})",
                    "pass the path of an existing YAML file",
                )
            ],
        ) from None
    return parse_config(text, source=file, environ=environ)


def parse_config(
    text: str, *, source: str, environ: Mapping[str, str] | None = None
) -> RouterConfig:
    """Validate config ``text``; ``source`` names it in every error."""
    env = os.environ if environ is None else environ
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            source, [ConfigIssue(where, "is not valid YAML", "check indentation and quoting")]
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            source,
            [
                ConfigIssue(
                    "",
                    "must be a YAML mapping with a model_list",
                    "start from litellm_config.yaml in the repo",
                )
            ],
        )
    issues: list[ConfigIssue] = []
    resolved = resolve_env(data, env, "", issues)
    raw = _validate(resolved, issues)
    if raw is None:
        raise ConfigError(source, issues)
    config = normalize(raw, source=source, environ=env, issues=issues)
    if issues:
        raise ConfigError(source, issues)
    return config


def resolve_env(value: Any, env: Mapping[str, str], path: str, issues: list[ConfigIssue]) -> Any:
    """Replace every ``os.environ/NAME`` string with the variable's value.

    A missing variable is an issue naming the variable and the key path; it
    resolves to a placeholder so validation can go on and report other problems.
    """
    if isinstance(value, dict):
        return {k: resolve_env(v, env, _join(path, str(k)), issues) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, env, f"{path}[{i}]", issues) for i, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :]
        if name not in env:
            issues.append(
                ConfigIssue(
                    path,
                    f"environment variable {name} is not set",
                    f"export {name}=... before starting, or remove the key",
                )
            )
            return f"<unset:{name}>"  # placeholder, so no follow-on issue is reported
        return env[name]
    return value


def _validate(data: dict[str, Any], issues: list[ConfigIssue]) -> RawConfig | None:
    try:
        return RawConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            issues.append(ConfigIssue(_loc(err["loc"]), err["msg"].rstrip("."), _fix_for(err)))
        return None


def _fix_for(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "remove the key or correct its spelling (see README, 'Configuration')"
    if kind == "missing":
        return "add the key"
    return "correct the value"


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, part)
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
