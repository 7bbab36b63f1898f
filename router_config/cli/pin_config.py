"""``llm-router pin CONFIG``: a copy of the config, each floating alias pinned to a dated version.

The dated version is the one the alias was first seen serving (the pin
history of the config's namespace, when the config loads), else the one
``data/model_versions.yaml`` says the alias points to today. ruamel.yaml's
round-trip parser locates each ``model`` value; only those values change in
the text, so comments, order, quoting and alignment stay as they were. Deployments that cannot
be pinned this way are listed with the reason (an Azure deployment name is not
a version; a local server needs ``model_info.version``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from router_config.config.deployments import provider_of
from router_config.config.loader import load_config
from router_config.config.pinning import base_name, current_version, is_floating
from router_config.errors import ConfigError

_NO_VERSIONS = frozenset({"azure", "azure_ai"})  # model names there are deployment names


@dataclass
class PinResult:
    """What was pinned (index, from, to) and what was left alone (index, model, why)."""

    pinned: list[tuple[int, str, str]] = field(default_factory=list)
    skipped: list[tuple[int, str, str]] = field(default_factory=list)
    note: str = ""


def pin_file(source: Path, target: Path) -> PinResult:
    """Write ``target``: ``source`` with each floating alias pinned; return what changed.

    The file is parsed with ruamel.yaml only to find where each ``model`` value sits; the
    new value is written at exactly that place in the original text, so every other byte
    (comments, quotes, indentation, alignment) stays as it was."""
    text = source.read_text(encoding="utf-8")
    data = YAML().load(text)  # round-trip loader: nodes know their line and column
    lines = text.splitlines(keepends=True)
    seen, note = _first_seen(source)
    result = PinResult(note=note)
    for i, entry in enumerate(data.get("model_list") or []):
        params: Any = entry.get("litellm_params")
        model = params.get("model") if params is not None else None
        if not isinstance(model, str) or "*" in str(entry.get("model_name", "")):
            continue
        dated, why = _dated(model, params.get("api_base"), seen.get(i))
        if dated is None:
            if why:
                result.skipped.append((i, model, why))
            continue
        line, col = params.lc.value("model")
        if not _replace(lines, line, col, model, dated):
            result.skipped.append((i, model, "its value could not be located in the text"))
            continue
        result.pinned.append((i, model, dated))
    target.write_text("".join(lines), encoding="utf-8")
    return result


def _dated(model: str, api_base: str | None, seen: str | None) -> tuple[str | None, str]:
    """The pinned model string for ``model``, or None and why not ("" when already pinned)."""
    try:
        name, provider = provider_of(model, api_base)
    except Exception:  # not servable anyway: check names it
        return None, ""
    if not is_floating(name):
        return None, ""
    if provider in _NO_VERSIONS:
        return None, "an Azure deployment name, not a model version"
    dated = seen or current_version(name)
    if not dated or is_floating(dated):
        return None, "no dated version known: serve it once, or edit"
    return model[: len(model) - len(base_name(model))] + dated, ""


def _replace(lines: list[str], line: int, col: int, old: str, new: str) -> bool:
    """Put ``new`` where the scalar ``old`` starts (plain or quoted); False if it is not there."""
    text = lines[line]
    quote = text[col] if text[col : col + 1] in ("'", '"') else ""
    token = f"{quote}{old}{quote}"
    if text[col : col + len(token)] != token:
        return False
    lines[line] = text[:col] + f"{quote}{new}{quote}" + text[col + len(token) :]
    return True


def _first_seen(source: Path) -> tuple[dict[int, str], str]:
    """model_list index -> the version its floating alias first served, from the history."""
    try:
        config = load_config(source)
    except ConfigError as exc:
        return {}, (
            f"the config does not load here ({len(exc.issues)} problem(s)), so versions first "
            "seen serving were not read; dated versions come from model_versions.yaml"
        )
    from plugins.version_history import VersionHistory, sight_key
    from router_config.state.shared_state import shared_redis

    async def read() -> dict[str, str]:
        redis = shared_redis(config)
        try:
            return await VersionHistory.of(config, redis).first_seen()
        finally:
            if redis is not None:
                await redis.close()

    found = asyncio.run(read())
    by_index: dict[int, Any] = {}
    for dep in config.deployments:
        served = found.get(sight_key(dep))
        if served and not is_floating(served):
            by_index[dep.index] = served
    return by_index, ""
