"""``ClientRateLimits``: holds each client key and team to its requests and tokens per minute.

Limits come from ``router_plugins.client_keys[].rpm/tpm`` and
``router_plugins.rate_limits.teams``; both apply. The count is shared by every
replica through Redis (see ``rate_windows``). Every answer carries OpenAI's
``x-ratelimit-*`` headers so SDKs and clients can pace themselves; a request
over a limit gets 429 with Retry-After before any provider is called. A
cache hit counts too: the limit is on what a client asks, not on what it costs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from router_config.config.schema import RouterConfig
from router_config.errors import RateLimited
from router_config.flow.hooks import GatewayPlugin, RequestContext
from router_config.metrics import Metrics
from router_config.state.rate_windows import Limit, RateWindows, Verdict


class ClientRateLimits(GatewayPlugin):
    """Admits or refuses client requests against their key's and team's limits."""

    name = "client_rate_limits"

    def __init__(self, config: RouterConfig, windows: RateWindows, metrics: Metrics) -> None:
        self._keys = {
            k.alias: Limit(f"key:{k.alias}", k.rpm, k.tpm)
            for k in config.client_keys
            if k.rpm or k.tpm
        }
        self._teams = {
            team: Limit(f"team:{team}", limit.rpm, limit.tpm)
            for team, limit in config.plugins.rate_limits.teams.items()
            if limit.rpm or limit.tpm
        }
        self._windows = windows
        self._metrics = metrics
        self._admitted: dict[int, Verdict] = {}

    async def on_request(self, ctx: RequestContext) -> Mapping[str, Any] | None:
        limits = [
            limit
            for limit in (self._keys.get(ctx.key_alias), self._teams.get(ctx.team))
            if limit is not None
        ]
        if not limits:
            return None
        estimate = ctx.tokens_to_reserve
        verdict = await self._windows.admit(limits, estimate)
        headers = verdict.headers()
        if verdict.refused is not None:
            refused = verdict.refused
            self._metrics.rate_limited.labels(refused.scope.split(":", 1)[0]).inc()
            used = next(u for u in verdict.usage if u.limit is refused)
            over_requests = bool(refused.rpm and used.requests + 1 > refused.rpm)
            kind = "requests" if over_requests else "tokens"
            what = (
                f"requests per minute: limit {refused.rpm}, used {used.requests}"
                if over_requests
                else f"tokens per minute: limit {refused.tpm}, used {used.tokens}, "
                f"requested about {estimate}"
            )
            if not over_requests and refused.tpm and estimate > refused.tpm:
                raise RateLimited(  # waiting would not help: no Retry-After
                    f"Request too large for {refused.scope}: it needs about {estimate} tokens, "
                    f"more than the limit of {refused.tpm} tokens per minute. Lower max_tokens "
                    "or send less.",
                    kind="tokens",
                    headers=headers,
                )
            wait = max(1, math.ceil(verdict.reset_s))
            raise RateLimited(
                f"Rate limit reached for {refused.scope} on {what}. Please try again in {wait}s.",
                kind=kind,
                headers={**headers, "retry-after": str(wait)},
                scope=refused.scope,
                retry_after_s=verdict.reset_s,
            )
        ctx.response_headers.update(headers)
        self._admitted[ctx.state_key] = verdict
        return None

    async def on_request_end(self, ctx: RequestContext) -> None:
        verdict = self._admitted.pop(ctx.state_key, None)
        if verdict is not None:
            await self._windows.settle(verdict, ctx.tokens_used)
