"""``llm-router pin CONFIG``: a copy of the config, each floating alias pinned to a dated version.

The dated version is the one the alias was first seen serving (the pin
history of the config's namespace, when the config loads), else the one
``data/model_versions.yaml`` says the alias points to today. The file is
rewritten with ruamel.yaml's round trip, so its comments, order and quoting
stay as they were; only the ``model`` values change. Deployments that cannot
be pinned this way are listed with the reason (an Azure deployment name is not
a version; a local server needs ``model_info.version``).
"""

from __future__ import annotations

import asyncio
import io
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
    """Write ``target``: ``source`` with each floating alias pinned; return what changed."""
    yaml = YAML()  # round trip: comments, key order and quotes are kept
    yaml.preserve_quotes = True
    yaml.width = 4096
    data = yaml.load(source.read_text(encoding="utf-8"))
    seen, note = _first_seen(source)
    result = PinResult(note=note)
    for i, entry in enumerate(data.get("model_list") or []):
        params = entry.get("litellm_params") or {}
        model = params.get("model")
        if not isinstance(model, str) or "*" in str(entry.get("model_name", "")):
            continue
        try:
            name, provider = provider_of(model, params.get("api_base"))
        except Exception:  # not servable anyway: check names it
            continue
        if not is_floating(name):
            continue
        if provider in _NO_VERSIONS:
            result.skipped.append((i, model, "an Azure deployment name, not a model version"))
            continue
        dated = seen.get(i) or current_version(name)
        if not dated or is_floating(dated):
            result.skipped.append((i, model, "no dated version known: serve it once, or edit"))
            continue
        params["model"] = model[: len(model) - len(base_name(model))] + dated
        result.pinned.append((i, model, params["model"]))
    out = io.StringIO()
    yaml.dump(data, out)
    target.write_text(out.getvalue(), encoding="utf-8")
    return result


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
    from router_config.wiring import shared_redis

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
