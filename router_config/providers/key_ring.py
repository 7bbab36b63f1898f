"""Provider key rotation: which key a deployment's next call uses, which keys are quarantined.

A deployment may list several keys (``litellm_params.api_keys``); each key is
its own entry in LiteLLM's Router (a direct call sends the chosen key itself),
so a call can be made with a chosen key.
A key answered with 401/403 is quarantined for ``keys.quarantine_s`` (shared
through Redis so every replica stops using it), alerted once, and the request
is retried at once with the next key. A deployment with a single key is left
to the circuit breaker, which probes it back. Keys are identified by a hash in
state and by their last four characters in output: never by the key itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from router_config.config.plugin_settings import KeySettings
from router_config.config.schema import Deployment
from router_config.flow.hooks import Clock
from router_config.keyhash import fingerprint, sha256_hex
from router_config.logs import emit
from router_config.metrics import Metrics
from router_config.state.alerts import Alert, Alerter
from router_config.state.shared_redis import SharedRedis


@dataclass(frozen=True)
class KeyChoice:
    """The key one attempt uses."""

    index: int  # into Deployment.api_keys (and its Router entries, see build.key_entry_name)
    fingerprint: str


@dataclass(frozen=True)
class _Key:
    state_id: str  # sha256 prefix: names the key in Redis without revealing it
    fingerprint: str


class KeyRing:
    """Chooses keys and keeps their quarantine state."""

    def __init__(
        self,
        deployments: Sequence[Deployment],
        settings: KeySettings,
        redis: SharedRedis | None,
        alerter: Alerter,
        metrics: Metrics,
        now: Clock,
    ) -> None:
        self._keys = {
            dep.id: [
                _Key(
                    sha256_hex(k.get_secret_value())[:16],
                    fingerprint(k.get_secret_value()),
                )
                for k in dep.api_keys
            ]
            for dep in deployments
        }
        self._settings = settings
        self._redis = redis
        self._alerter = alerter
        self._metrics = metrics
        self._now = now
        self._local: dict[str, float] = {}  # state id -> quarantined until (wall time)

    def rotates(self, deployment: Deployment) -> bool:
        """True when the deployment has more than one key to rotate through."""
        return len(self._keys.get(deployment.id, ())) > 1

    async def choose(self, deployment: Deployment, tried: set[int]) -> KeyChoice | None:
        """The first key neither quarantined nor already tried; None when none is left."""
        keys = self._keys.get(deployment.id, [])
        if len(keys) <= 1:
            if tried:
                return None
            return KeyChoice(0, keys[0].fingerprint if keys else "")
        until = await self._quarantined_until(keys)
        now = self._now()
        for n, key in enumerate(keys):
            if n not in tried and until[n] <= now:
                return KeyChoice(n, key.fingerprint)
        return None

    async def quarantine(self, deployment: Deployment, choice: KeyChoice, status: int) -> None:
        """Stop using this key on every replica for a while; alert once."""
        key = self._keys[deployment.id][choice.index]
        until = self._now() + self._settings.quarantine_s
        self._local[key.state_id] = until
        if self._redis is not None:
            name = self._redis.key("keys", "quarantine")
            await self._redis.run(lambda c: c.hset(name, key.state_id, str(until)), None)  # type: ignore[arg-type,return-value]
        self._metrics.key_quarantined.labels(deployment.id).inc()
        emit(
            "key_quarantined",
            logging.WARNING,
            deployment=deployment.id,
            key=key.fingerprint,
            status=status,
            quarantine_s=self._settings.quarantine_s,
        )
        await self._alerter.fire(
            Alert(
                kind="key_quarantined",
                title=f"llm-router: a provider key of {deployment.id} was refused",
                message=f"Key {key.fingerprint} of {deployment.id} ({deployment.provider}) "
                f"got HTTP {status}; it is skipped for {self._settings.quarantine_s:.0f} s "
                "and the next key is used. Rotate it and reload the config.",
                dedupe_key=f"key_quarantined:{deployment.id}:{key.state_id}",
                dedupe_ttl_s=int(self._settings.quarantine_s),
                severity="critical",
                fields={"deployment": deployment.id, "key": key.fingerprint, "status": status},
            )
        )

    async def health(self) -> dict[str, dict[str, Any]]:
        """Per-deployment key states by fingerprint, for ``GET /health/providers``."""
        out: dict[str, dict[str, Any]] = {}
        now = self._now()
        for dep_id, keys in self._keys.items():
            if not keys:
                continue
            until = await self._quarantined_until(keys)
            out[dep_id] = {
                "keys": [
                    {
                        "key": key.fingerprint,
                        "state": "quarantined" if until[n] > now else "ok",
                        **({"quarantined_for_s": round(until[n] - now)} if until[n] > now else {}),
                    }
                    for n, key in enumerate(keys)
                ]
            }
        return out

    async def _quarantined_until(self, keys: list[_Key]) -> list[float]:
        local = [self._local.get(k.state_id, 0.0) for k in keys]
        if self._redis is None or not self._redis.available:
            return local
        name = self._redis.key("keys", "quarantine")
        ids = [k.state_id for k in keys]
        shared = await self._redis.run(lambda c: c.hmget(name, ids), None)  # type: ignore[arg-type,return-value]
        if shared is None:
            return local
        return [max(a, float(b or 0.0)) for a, b in zip(local, shared, strict=True)]
