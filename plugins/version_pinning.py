"""``VersionPinning``: every answer comes from the pinned model version, or says so.

Checks the model the provider reports on every response (and on a stream's
first chunk, before anything is sent) against the deployment's pin. A
mismatch is a ``version_drift`` event: logged, counted, alerted once per
deployment and served version per day, and handled by the deployment's
policy (warn, fail over, reject). A request may demand an exact version
(``model: "chat@gpt-4o-2024-08-06"`` or ``x-router-model-version``) or forbid
fallbacks to another model (``x-router-no-fallback: true``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from plugins.version_history import VersionHistory, sight_key
from router_config.config.pinning import (
    is_floating_deployment,
    pin_reference,
    pinned_version,
    served_matches,
)
from router_config.config.plugin_settings import PinningSettings
from router_config.config.schema import Deployment, RouterConfig
from router_config.errors import VersionDrift, VersionUnavailable
from router_config.flow.hooks import (
    Attempt,
    Clock,
    GatewayPlugin,
    RejectAttempt,
    RequestContext,
    SkipDeployment,
)
from router_config.flow.planner import Planner
from router_config.logs import emit
from router_config.metrics import Metrics
from router_config.state.alerts import Alert, Alerter

DRIFT_ALERT_TTL_S = 24 * 3600


class VersionPinning(GatewayPlugin):
    """Enforces pins per response; reports fallbacks to another model."""

    name = "version_pinning"

    def __init__(
        self,
        config: RouterConfig,
        settings: PinningSettings,
        alerter: Alerter,
        metrics: Metrics,
        history: VersionHistory,
        now: Clock,
    ) -> None:
        self._config = config
        self._history = history
        self._now = now
        self._settings = settings
        self._alerter = alerter
        self._drift = metrics.version_drift
        self._planner = Planner(config)
        # Floating deployments pinned on first sight: sight_key -> the version first served.
        self._seen: dict[str, str] = {}

    async def start(self) -> None:
        """Record the pins this gateway starts with (only if they changed), load what floating
        aliases were first seen serving, and log each floating alias once."""
        when = dt.datetime.fromtimestamp(self._now(), dt.UTC)
        entry = await self._history.record(self._config, when)
        if entry is not None:
            emit("pins_recorded", config_hash=entry["config_hash"], changes=entry["changes"])
        self._seen = await self._history.first_seen()
        for dep in self._config.deployments:
            if is_floating_deployment(dep):
                emit(
                    "floating_pin",
                    logging.WARNING,
                    deployment=dep.id,
                    alias=dep.pinned_model,
                    first_seen=self._seen.get(sight_key(dep)),
                    message="floating alias: pinned to the version its first answer names; "
                    "llm-router pin writes dated versions into the config",
                )

    def _plan(self, ctx: RequestContext) -> list[Deployment]:
        return self._planner.plan(ctx.group)

    def _primary(self, ctx: RequestContext, fallback: Deployment) -> Deployment:
        """The group's first deployment by priority (what a fallback is measured against)."""
        own = self._planner.deployments(ctx.group)
        return own[0] if own else fallback

    async def on_request(self, ctx: RequestContext) -> Mapping[str, Any] | None:
        wanted = ctx.required_version
        if wanted and not any(
            pinned_version(d) == wanted or d.pinned_model == wanted for d in self._plan(ctx)
        ):
            pins = sorted({pinned_version(d) for d in self._plan(ctx)})
            raise VersionUnavailable(
                f"No deployment of '{ctx.group}' is pinned to '{wanted}'; pinned versions: "
                f"{', '.join(pins)}.",
                param="model",
            )
        return None

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        wanted = ctx.required_version
        if wanted and wanted not in (pinned_version(deployment), deployment.pinned_model):
            raise SkipDeployment("not the requested version")
        if ctx.headers.get("x-router-no-fallback", "").lower() == "true" and pinned_version(
            deployment
        ) != pinned_version(self._primary(ctx, deployment)):
            raise SkipDeployment("fallback to another model forbidden by the request")

    async def after_attempt(self, ctx: RequestContext, attempt: Attempt) -> None:
        if attempt.outcome not in ("ok", "streaming") or not attempt.served_model:
            return
        dep = attempt.deployment
        pin = await self._pin_of(dep, attempt.served_model)
        if not served_matches(pin, attempt.served_model):
            await self._on_drift(ctx, dep, attempt.served_model, pin)
        other = pinned_version(dep) != pinned_version(self._primary(ctx, dep))
        ctx.response_headers["x-router-fallback"] = "true" if other else "false"

    async def _pin_of(self, dep: Deployment, served: str) -> str:
        """What ``served`` must match: the pin, or for a floating alias the version its first
        answer named (recorded now, when this is the first answer)."""
        if not is_floating_deployment(dep):
            return pin_reference(dep)
        slot = sight_key(dep)
        if slot not in self._seen:
            when = dt.datetime.fromtimestamp(self._now(), dt.UTC)
            self._seen[slot] = await self._history.record_first_seen(
                self._config, dep, served, when
            )
            if self._seen[slot] == served:
                emit("pin_first_seen", deployment=dep.id, alias=dep.pinned_model, served=served)
        return self._seen[slot]

    async def _on_drift(self, ctx: RequestContext, dep: Deployment, served: str, pin: str) -> None:
        policy = str(dep.model_info.get("on_drift") or self._settings.on_drift)
        if ctx.required_version:
            policy = "reject"  # an exact version was demanded: never substitute silently
        ctx.tags.add("drift")
        self._drift.labels(dep.id, served).inc()
        emit(
            "version_drift",
            logging.WARNING,
            request_id=ctx.request_id,
            deployment=dep.id,
            pinned=pin,
            served=served,
            policy=policy,
        )
        await self._alerter.fire(
            Alert(
                kind="version_drift",
                title=f"llm-router: {dep.id} served {served}",
                message=f"Deployment {dep.id} is pinned to {pin} but the provider "
                f"served {served}; policy {policy}.",
                dedupe_key=f"version_drift:{dep.id}:{served}",
                dedupe_ttl_s=DRIFT_ALERT_TTL_S,
                fields={"deployment": dep.id, "pinned": pin, "served": served},
            )
        )
        message = f"Deployment {dep.id} is pinned to {pin} but the provider served {served}."
        if policy == "fail_over":
            raise RejectAttempt(message)
        if policy == "reject":
            raise RejectAttempt(message, fail_over=False, error=VersionDrift(message))
