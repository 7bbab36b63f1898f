"""Turns ``litellm_config.yaml`` into a frozen ``RouterConfig``, or a ``ConfigError``.

Loading happens in passes, each collecting issues instead of stopping at the
first: YAML parsing, ``include`` files merged, ``os.environ/NAME`` resolution
(``environment_variables`` first, as LiteLLM sets them), unknown sections and
typos, schema validation, and then cross-references (fallback groups exist,
ids are unique, prices are known). A platform engineer fixing a config should
see all of its problems in one run.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from router_config.config.compat_check import check_sections, is_applied
from router_config.config.normalize import normalize
from router_config.config.schema import RawConfig, RouterConfig
from router_config.errors import ConfigError, ConfigIssue
from router_config.providers.litellm_warnings import mute_litellm_warnings

ENV_PREFIX = "os.environ/"


def load_config(
    path: str | Path, *, environ: Mapping[str, str] | None = None, strict: bool = False
) -> RouterConfig:
    """Read, resolve and validate the config at ``path``.

    ``environ`` defaults to ``os.environ``; tests pass their own mapping so they
    never have to mutate the process environment. ``strict`` (``check --strict``)
    refuses floating aliases and wildcard routes.
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
    return parse_config(text, source=file, environ=environ, strict=strict)


def parse_config(
    text: str, *, source: str, environ: Mapping[str, str] | None = None, strict: bool = False
) -> RouterConfig:
    """Validate config ``text``; ``source`` names it in every error."""
    mute_litellm_warnings()  # resolving providers and prices enters LiteLLM
    env: Mapping[str, str] = os.environ if environ is None else environ
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
    data = merge_includes(data, source, issues)
    # LiteLLM sets environment_variables first, so os.environ/ references elsewhere see them.
    own = resolve_env(data.get("environment_variables") or {}, env, "environment_variables", issues)
    if isinstance(own, dict):
        env = {**env, **{str(k): str(v) for k, v in own.items()}}
    resolved = resolve_env(data, env, "", issues)
    section_issues, compat_warnings = check_sections(resolved)
    unset = [i for i in issues if i.message.endswith("is not set") and not is_applied(i.path)]
    issues = [i for i in issues if i not in unset] + section_issues
    compat_warnings += [
        f"{i.path}: {i.message} (not needed: the key is not applied)" for i in unset
    ]
    raw = _validate(resolved, issues)
    if raw is None:
        raise ConfigError(source, issues)
    config = normalize(raw, source=source, environ=env, issues=issues, strict=strict)
    if issues:
        raise ConfigError(source, issues)
    return config.model_copy(update={"warnings": (*compat_warnings, *config.warnings)})


def merge_includes(data: dict[str, Any], source: str, issues: list[ConfigIssue]) -> dict[str, Any]:
    """LiteLLM's ``include: [file.yaml]``: each file's sections are merged in (lists appended,
    other keys added), paths relative to the config file."""
    names = data.pop("include", None)
    if not names:
        return data
    base = Path(source).parent
    for name in [names] if isinstance(names, str) else list(names):
        path = base / str(name)
        try:
            included = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            issues.append(
                ConfigIssue("include", f"cannot read {path} ({type(exc).__name__})", "fix the path")
            )
            continue
        for key, value in (included or {}).items():
            if isinstance(data.get(key), list) and isinstance(value, list):
                data[key] = [*data[key], *value]
            elif isinstance(data.get(key), dict) and isinstance(value, dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
    return data


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
        guess = did_you_mean(err["loc"])
        if guess:
            return f"did you mean {guess}?"
        return "remove the key or correct its spelling (see README, 'Configuration')"
    if kind == "missing":
        return "add the key"
    return "correct the value"


def did_you_mean(loc: tuple[int | str, ...]) -> str | None:
    """The field of our strict sections nearest to a misspelt key, following ``loc``."""
    model: Any = RawConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        model = _model_of(field.annotation)
    names = list(getattr(model, "model_fields", {}))
    found = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
    return found[0] if found else None


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside ``X``, ``tuple[X, ...]`` or ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, part)
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
