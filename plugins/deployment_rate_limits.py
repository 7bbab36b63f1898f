"""``DeploymentRateLimits``: keeps calls to each deployment within its ``rpm``/``tpm``.

A deployment's ``litellm_params.rpm``/``tpm`` (LiteLLM's own keys) say what the
provider account allows. Counting them ourselves, in Redis shared by every
replica, means N replicas together stay under the provider's limit instead of
each provoking 429s. A deployment at its limit is skipped for this request
(reason ``rate_limited_local``) and the next one in the plan answers.
"""

from __future__ import annotations

from router_config.config.schema import Deployment, RouterConfig
from router_config.flow.hooks import GatewayPlugin, RequestContext, SkipDeployment
from router_config.metrics import Metrics
from router_config.state.rate_windows import Limit, RateWindows, Verdict


class DeploymentRateLimits(GatewayPlugin):
    """Skips a deployment whose requests or tokens per minute are used up."""

    name = "deployment_rate_limits"

    def __init__(self, config: RouterConfig, windows: RateWindows, metrics: Metrics) -> None:
        self._limits = {
            d.id: Limit(f"deployment:{d.id}", d.rpm, d.tpm)
            for d in config.deployments
            if d.rpm or d.tpm
        }
        self._windows = windows
        self._metrics = metrics
        self._admitted: dict[tuple[int, str], Verdict] = {}

    async def before_attempt(self, ctx: RequestContext, deployment: Deployment) -> None:
        limit = self._limits.get(deployment.id)
        if limit is None:
            return
        estimate = ctx.tokens_to_reserve
        verdict = await self._windows.admit([limit], estimate)
        if verdict.refused is not None:
            self._metrics.rate_limited.labels("deployment").inc()
            raise SkipDeployment("rate_limited_local", retry_after_s=verdict.reset_s)
        self._admitted[(ctx.state_key, deployment.id)] = verdict

    async def on_skipped(self, ctx: RequestContext, deployment: Deployment, reason: str) -> None:
        """Admitted, then skipped by a later plugin (budget spent): the call never went out."""
        verdict = self._admitted.pop((ctx.state_key, deployment.id), None)
        if verdict is not None:
            await self._windows.release(verdict)

    async def on_request_end(self, ctx: RequestContext) -> None:
        """Settle each reservation to what every attempt on that deployment really used
        (a retry's tokens included; a failed attempt used none)."""
        for key in [k for k in self._admitted if k[0] == ctx.state_key]:
            used = sum(a.usage.total_tokens for a in ctx.attempts if a.deployment.id == key[1])
            await self._windows.settle(self._admitted.pop(key), used)
