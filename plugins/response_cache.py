"""``ResponseCache``: answers repeated requests from cache, and serves stale copies when
every provider is down (stale-if-error).

The key is a hash of everything that changes the output: model group, the
pinned versions the group would be served by, messages and output-changing
parameters; fields that don't (``user``, ``stream``, ``metadata``...) are left
out. ``Cache-Control: no-cache`` skips reading, ``no-store`` skips writing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from plugins.cache_store import CacheStore
from router_config.config.plugin_settings import CacheSettings
from router_config.config.schema import RouterConfig
from router_config.flow.hooks import Clock, GatewayPlugin, RequestContext
from router_config.logs import emit
from router_config.metrics import Metrics

# Request fields that never change what the model answers.
IRRELEVANT = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier"})


def cache_key(ctx: RequestContext, pins: tuple[str, ...]) -> str:
    """sha256 of the normalised request (sorted keys, irrelevant fields dropped)."""
    params = {k: v for k, v in ctx.params.items() if k not in IRRELEVANT}
    material = {
        "group": ctx.group,
        "pins": pins,
        "version": ctx.required_version,
        "messages": ctx.messages,
        "params": params,
    }
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ResponseCache(GatewayPlugin):
    """Fresh hits in ``on_request``, stale hits in ``on_failure``, writes in ``on_success``."""

    name = "response_cache"

    def __init__(
        self,
        settings: CacheSettings,
        store: CacheStore,
        config: RouterConfig,
        metrics: Metrics,
        now: Clock,
    ) -> None:
        self._s = settings
        self._store = store
        self._metrics = metrics
        self._now = now
        by_id = {d.id: d for d in config.deployments}
        self._pins = {
            group: tuple(by_id[i].pinned_model for i in ids) for group, ids in config.groups.items()
        }

    def _pins_of(self, ctx: RequestContext) -> tuple[str, ...]:
        """A wildcard route's group is the model the caller named: that is its pin."""
        return self._pins.get(ctx.group, (ctx.group,))

    def _cacheable(self, ctx: RequestContext) -> bool:
        if self._s.opt_in and "use-cache" not in self._directives(ctx):
            return False  # LiteLLM's cache mode default_off: only requests that ask
        if self._s.mode == "all" or ctx.call == "embedding":  # an embedding is deterministic
            return True
        return ctx.params.get("temperature") == 0 or ctx.params.get("seed") is not None

    def _directives(self, ctx: RequestContext) -> set[str]:
        value = ctx.headers.get("cache-control", "")
        return {part.strip().lower() for part in value.split(",") if part.strip()}

    async def on_request(self, ctx: RequestContext) -> Mapping[str, Any] | None:
        if not self._cacheable(ctx) or "no-cache" in self._directives(ctx):
            ctx.response_headers["x-router-cache"] = "bypass"
            self._metrics.cache.labels("bypass").inc()
            return None
        entry = await self._store.get(cache_key(ctx, self._pins_of(ctx)), self._now())
        if entry is None or self._now() - entry["stored_at"] > self._s.fresh_ttl_s:
            ctx.response_headers["x-router-cache"] = "miss"
            self._metrics.cache.labels("miss").inc()
            return None
        ctx.response_headers.update(
            {"x-router-cache": "hit", "x-router-model": str(entry["body"].get("model"))}
        )
        ctx.tags.add("cache:hit")
        self._metrics.cache.labels("hit").inc()
        return dict(entry["body"])

    async def on_success(self, ctx: RequestContext, body: Mapping[str, Any]) -> None:
        if not self._cacheable(ctx) or "no-store" in self._directives(ctx):
            return
        entry = {"stored_at": self._now(), "body": dict(body)}
        ttl = self._s.fresh_ttl_s + self._s.max_stale_s
        await self._store.put(cache_key(ctx, self._pins_of(ctx)), entry, ttl, self._now())

    async def on_failure(self, ctx: RequestContext, error: Exception) -> Mapping[str, Any] | None:
        if not self._cacheable(ctx) or "no-cache" in self._directives(ctx):
            return None
        entry = await self._store.get(cache_key(ctx, self._pins_of(ctx)), self._now())
        if entry is None:
            return None
        age = self._now() - entry["stored_at"]
        ctx.response_headers.update(
            {
                "x-router-cache": "stale",
                "x-router-degraded": "true",
                "x-router-model": str(entry["body"].get("model")),
                "age": str(int(age)),
            }
        )
        ctx.tags.update({"cache:stale", "degraded"})
        self._metrics.cache.labels("stale").inc()
        self._metrics.degraded.labels(ctx.group, "stale").inc()
        emit(
            "degraded",
            logging.WARNING,
            request_id=ctx.request_id,
            model_group=ctx.group,
            how="stale",
            age_s=round(age, 1),
            attempts=len(ctx.attempts),
        )
        return dict(entry["body"])
