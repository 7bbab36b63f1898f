"""Where pinned-version history is kept: a Redis list (shared) or a JSONL file.

An entry is written at start-up (and on reload) only when the pins differ
from the last entry, so the history reads as a list of pin changes: when,
which config (by hash), and which deployment moved from which version to which.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import orjson

from router_config.config.pinning import pinned_version
from router_config.config.schema import RouterConfig
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


class VersionHistory:
    """Append-only record of pin changes."""

    def __init__(self, redis: SharedRedis | None, file: str) -> None:
        self._redis = redis
        self._file = Path(file).expanduser()

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
        entry = {
            "time": when.isoformat(timespec="seconds"),
            "config_hash": config_hash(config),
            "source": config.source,
            "pins": pins,
            "changes": changes,
        }
        data = orjson.dumps(entry)
        if self._redis is not None:
            key = self._redis.key("versions", "history")
            done = await self._redis.run(lambda c: c.rpush(key, data), _MISS)  # type: ignore[arg-type,return-value]
            if done is not _MISS:
                return entry
        await asyncio.to_thread(self._append, data)
        return entry

    def _append(self, data: bytes) -> None:
        self._file.parent.mkdir(parents=True, exist_ok=True)
        with self._file.open("ab") as out:
            out.write(data + b"\n")
