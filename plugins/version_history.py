"""Where pinned-version history is kept: a Redis list (shared) or a JSONL file, per namespace.

An entry is written at start-up (and on reload) only when the pins differ
from the last entry, so the history reads as a list of pin changes: when,
which config (by hash), and which deployment moved from which version to which.
A floating alias is pinned on first sight: the version its first answer names
is written once (the first replica to see it wins, through Redis), as a change
from the alias to that version. Keys and the default file are per namespace
(``router_plugins.namespace``), so two gateways never read each other's pins.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson

from router_config.config.pinning import pinned_version
from router_config.config.schema import Deployment, RouterConfig
from router_config.state.shared_redis import SharedRedis

_MISS: Any = object()


def current_pins(config: RouterConfig) -> dict[str, str]:
    return {d.id: pinned_version(d) for d in config.deployments}


def config_hash(config: RouterConfig) -> str:
    """A short hash of what routing depends on (no secrets in it)."""
    shape = sorted(
        (d.id, d.group, d.model, pinned_version(d), d.api_host or "", d.order or 0)
        for d in config.deployments
    )
    return hashlib.sha256(orjson.dumps(shape)).hexdigest()[:12]


def history_path(config: RouterConfig) -> Path:
    """``pinning.history_file`` (or ``$LLM_ROUTER_VERSIONS_FILE``), else
    ``$XDG_STATE_HOME/llm-router/<namespace>/versions.jsonl``."""
    configured = config.plugins.pinning.history_file or os.environ.get("LLM_ROUTER_VERSIONS_FILE")
    if configured:
        return Path(configured).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
    return Path(state).expanduser() / "llm-router" / config.plugins.namespace / "versions.jsonl"


def sight_key(deployment: Deployment) -> str:
    """A floating deployment's first-sight slot: a new alias on the same id starts afresh."""
    return f"{deployment.id}|{deployment.pinned_model}"


class VersionHistory:
    """Append-only record of pin changes."""

    def __init__(self, redis: SharedRedis | None, file: str | Path) -> None:
        self._redis = redis
        self._file = Path(file).expanduser()

    @classmethod
    def of(cls, config: RouterConfig, redis: SharedRedis | None) -> VersionHistory:
        return cls(redis, history_path(config))

    async def entries(self) -> list[dict[str, Any]]:
        if self._redis is not None:
            key = self._redis.key("versions", "history")
            raw = await self._redis.run(lambda c: c.lrange(key, 0, -1), _MISS)  # type: ignore[arg-type,return-value]
            if raw is not _MISS:
                return [orjson.loads(item) for item in raw]
        if not self._file.exists():
            return []
        text = await asyncio.to_thread(self._file.read_text, "utf-8")
        return [orjson.loads(line) for line in text.splitlines() if line.strip()]

    async def record(self, config: RouterConfig, when: dt.datetime) -> dict[str, Any] | None:
        """Append an entry if the pins changed since the last one; return it."""
        pins = current_pins(config)
        history = await self.entries()
        before: dict[str, str] = history[-1]["pins"] if history else {}
        changes = [
            {"deployment": dep, "from": before.get(dep), "to": version}
            for dep, version in pins.items()
            if before.get(dep) != version
        ]
        changes += [
            {"deployment": dep, "from": version, "to": None}
            for dep, version in before.items()
            if dep not in pins
        ]
        if history and not changes:
            return None
        entry = _entry(config, when, pins, changes)
        await self._append(entry)
        return entry

    async def first_seen(self) -> dict[str, str]:
        """Versions first served by floating deployments, by ``sight_key``."""
        if self._redis is not None:
            key = self._redis.key("versions", "first-seen")
            raw = await self._redis.run(lambda c: c.hgetall(key), _MISS)  # type: ignore[arg-type,return-value]
            if raw is not _MISS:
                return dict(raw)
        out: dict[str, str] = {}
        for entry in await self.entries():
            for change in entry["changes"]:
                if change.get("first_seen"):
                    out.setdefault(change["sight"], change["to"])
        return out

    async def record_first_seen(
        self, config: RouterConfig, deployment: Deployment, served: str, when: dt.datetime
    ) -> str:
        """Record ``served`` as the version a floating deployment answered with first; returns
        the version recorded first (another replica's, if it got there before)."""
        slot = sight_key(deployment)
        if self._redis is not None:
            key = self._redis.key("versions", "first-seen")
            won = await self._redis.run(lambda c: c.hsetnx(key, slot, served), _MISS)  # type: ignore[arg-type,return-value]
            if won is not _MISS and not won:
                winner = await self._redis.run(lambda c: c.hget(key, slot), None)  # type: ignore[arg-type,return-value]
                return str(winner or served)
        history = await self.entries()
        change = {
            "deployment": deployment.id,
            "from": f"{deployment.pinned_model} (floating)",
            "to": served,
            "first_seen": True,
            "sight": slot,
        }
        pins = history[-1]["pins"] if history else current_pins(config)
        await self._append(_entry(config, when, pins, [change]))
        return served

    async def _append(self, entry: dict[str, Any]) -> None:
        data = orjson.dumps(entry)
        if self._redis is not None:
            key = self._redis.key("versions", "history")
            done = await self._redis.run(lambda c: c.rpush(key, data), _MISS)  # type: ignore[arg-type,return-value]
            if done is not _MISS:
                return
        await asyncio.to_thread(self._append_line, data)

    def _append_line(self, data: bytes) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        with self._file.open("ab") as out:
            out.write(data + b"\n")


def _entry(
    config: RouterConfig, when: dt.datetime, pins: dict[str, str], changes: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "time": when.isoformat(timespec="seconds"),
        "config_hash": config_hash(config),
        "source": config.source,
        "pins": pins,
        "changes": changes,
    }
