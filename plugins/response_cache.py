"""``ResponseCache``: answers repeated requests from cache, and serves stale copies when
every provider is down (stale-if-error).

The key is a hash of everything that changes the output: model group, the
pinned versions the group would be served by, messages and output-changing
parameters; fields that don't (``user``, ``stream``, ``metadata``...) are left
out. ``Cache-Control: no-cache`` skips reading, ``no-store`` skips writing.

Entries belong to a tenant (``cache.scope``): the caller's team by default, or its
key, so one team can never learn from a hit what another asked, nor receive its
completion id or usage; only ``global`` shares answers between every caller. A hit
is charged to the caller's team as ``cache.charge_hits`` says, the original answer's
cost or nothing, and logged either way (``event: cache_hit``).
"""

from __future__ import annotations

import datetime as dt
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
from router_config.state.spend_journal import Label
from router_config.state.spend_ledger import SpendLedger, periods

# Request fields that never change what the model answers.
IRRELEVANT = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier"})


def tenant(ctx: RequestContext, scope: str) -> str | None:
    """Who an entry belongs to under ``scope``: ``team:x``, ``key:alias``, or None (global)."""
    if scope == "team":
        return f"team:{ctx.team}"
    if scope == "key":
        return f"key:{ctx.key_alias}"
    return None


def cache_key(ctx: RequestContext, pins: tuple[str, ...], scope: str = "team") -> str:
    """sha256 of the tenant and the normalised request (sorted keys, irrelevant fields
    dropped)."""
    params = {k: v for k, v in ctx.params.items() if k not in IRRELEVANT}
    material = {
        "tenant": tenant(ctx, scope),
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
        ledger: SpendLedger,
    ) -> None:
        self._s = settings
        self._store = store
        self._metrics = metrics
        self._now = now
        self._ledger = ledger
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
        entry = await self._store.get(self._key(ctx), self._now())
        if entry is None or self._now() - entry["stored_at"] > self._s.fresh_ttl_s:
            ctx.response_headers["x-router-cache"] = "miss"
            self._metrics.cache.labels("miss").inc()
            return None
        ctx.response_headers.update(
            {"x-router-cache": "hit", "x-router-model": str(entry["body"].get("model"))}
        )
        ctx.tags.add("cache:hit")
        self._metrics.cache.labels("hit").inc()
        await self._charge(ctx, entry, "hit")
        return dict(entry["body"])

    async def on_success(self, ctx: RequestContext, body: Mapping[str, Any]) -> None:
        if not self._cacheable(ctx) or "no-store" in self._directives(ctx):
            return
        final = ctx.final
        cost = final.cost_usd if final is not None else ctx.cost_usd
        entry = {"stored_at": self._now(), "body": dict(body), "cost_usd": cost}
        ttl = self._s.fresh_ttl_s + self._s.max_stale_s
        await self._store.put(self._key(ctx), entry, ttl, self._now())

    async def on_failure(self, ctx: RequestContext, error: Exception) -> Mapping[str, Any] | None:
        if not self._cacheable(ctx) or "no-cache" in self._directives(ctx):
            return None
        entry = await self._store.get(self._key(ctx), self._now())
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
        await self._charge(ctx, entry, "stale")
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

    def _key(self, ctx: RequestContext) -> str:
        return cache_key(ctx, self._pins_of(ctx), self._s.scope)

    async def _charge(self, ctx: RequestContext, entry: Mapping[str, Any], how: str) -> None:
        """Bill the caller's team for an answer it got from cache (``charge_hits``); the
        provider is not billed again, so only team and model group spend move."""
        original = float(entry.get("cost_usd") or 0.0)
        charged = original if self._s.charge_hits == "original" else 0.0
        ctx.response_headers["x-router-cost-usd"] = f"{charged:.9f}"
        if charged:
            # Team and model group spend (budgets read the team's), never the provider's: it
            # was not called. Journaled like any cost, so Redis outages lose none of it.
            when = dt.datetime.fromtimestamp(self._now(), dt.UTC)
            pids = periods(when)
            label = Label(pids["day"], pids["month"], (f"team:{ctx.team}", f"group:{ctx.group}"))
            self._ledger.record(self._now(), charged, label)
        emit(
            "cache_hit",
            request_id=ctx.request_id,
            team=ctx.team,
            key_alias=ctx.key_alias,
            model_group=ctx.group,
            how=how,
            scope=self._s.scope,
            charge=self._s.charge_hits,
            charged_usd=round(charged, 9),
            original_cost_usd=round(original, 9),
        )
