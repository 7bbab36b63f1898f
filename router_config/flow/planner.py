"""The order in which deployments are tried for one request.

A model group's own deployments come first, by ``litellm_params.order``: the
lowest order is tried first, deployments without one last, as LiteLLM's
Router does. Deployments of one order share traffic: the load-balancing
plugin ranks them per request (``ctx.routing``, by ``routing_strategy``) and
the rest of the tier follows as failover. Then come the deployments of the
group's ``fallbacks`` groups (or ``default_fallbacks``), in the order listed,
at most ``max_fallbacks`` of them. Context-window and content-policy errors
switch to their own fallback lists, as LiteLLM's Router does. Aliases and
wildcard routes resolve to their deployments (``config/routes.py``); with tag
filtering on, only deployments whose tags match the request's are planned.
Only deployments of the request's kind are planned (an embedding request never
reaches a chat model, nor the reverse, even through ``default_fallbacks``).
Each deployment appears at most once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from router_config.config.deployments import CALL_KINDS, kind_of
from router_config.config.routes import wildcard_deployments
from router_config.config.schema import Deployment, RouterConfig
from router_config.errors import InvalidRequest
from router_config.flow.hooks import RequestContext

# Wildcard names resolved per planner (per gateway); a bound, as callers choose the names.
_WILDCARD_CACHE = 1024


class Planner:
    """Turns a model group into the ordered list of deployments to try."""

    def __init__(self, config: RouterConfig) -> None:
        self._config = config
        by_id = {d.id: d for d in config.deployments}
        # A deployment id names that deployment alone (LiteLLM's fallback to a model id).
        self._static = {dep_id: [dep] for dep_id, dep in by_id.items()}
        self._static.update(
            {group: [by_id[i] for i in ids] for group, ids in config.groups.items()}
        )
        self._wild: dict[str, list[Deployment]] = {}

    def plan(self, group: str, ctx: RequestContext | None = None) -> list[Deployment]:
        """Primary deployments (tier by tier, ranked per request), then the fallbacks."""
        out: list[Deployment] = []
        for name in self.groups_of(group):
            for tier in self.tiers(name, ctx):
                _extend(out, _ranked(tier, ctx.routing.get(name) if ctx else None))
        if not out and ctx is not None and ctx.request_tags and self._config.routing.tag_filtering:
            raise InvalidRequest(
                f"No deployment of '{group}' serves the request's tags {list(ctx.request_tags)}.",
                param="tags",
            )
        return out

    def special(self, group: str, reason: str) -> list[Deployment]:
        """Fallbacks for a context-window or content-policy failure (may be empty)."""
        table = {
            "context_window": self._config.context_window_fallbacks,
            "content_policy": self._config.content_policy_fallbacks,
        }.get(reason, {})
        out: list[Deployment] = []
        for name in table.get(group, ()):
            for tier in self.tiers(name):
                _extend(out, tier)
        return out

    def groups_of(self, group: str) -> list[str]:
        """``group``, then its fallback groups (its own, else ``default_fallbacks``)."""
        config = self._config
        own = config.fallbacks.get(group)
        targets = [g for g in (own if own is not None else config.default_fallbacks) if g != group]
        if config.routing.max_fallbacks is not None:
            targets = targets[: config.routing.max_fallbacks]
        return [group, *targets]

    def deployments(self, group: str) -> list[Deployment]:
        """A group's deployments in static priority order (aliases and wildcards resolved)."""
        group = self._config.aliases.get(group, group)
        found = self._static.get(group)
        if found is not None:
            return found
        if group not in self._wild:
            if len(self._wild) >= _WILDCARD_CACHE:
                self._wild.clear()
            self._wild[group] = sorted(
                wildcard_deployments(self._config.wildcards, group), key=_priority
            )
        return self._wild[group]

    def tiers(self, group: str, ctx: RequestContext | None = None) -> list[list[Deployment]]:
        """A group's deployments split by ``order``, after tag filtering for ``ctx``."""
        deployments = self.deployments(group)
        if ctx is not None:
            kind = CALL_KINDS[ctx.call]
            deployments = [d for d in deployments if kind_of(d.mode) == kind]
        if ctx is not None and self._config.routing.tag_filtering:
            deployments = self._tagged(deployments, ctx.request_tags)
        tiers: list[list[Deployment]] = []
        for dep in deployments:
            if tiers and tiers[-1][0].order == dep.order:
                tiers[-1].append(dep)
            else:
                tiers.append([dep])
        return tiers

    def _tagged(self, deployments: list[Deployment], tags: Sequence[str]) -> list[Deployment]:
        """LiteLLM's tag routing: ``!tag`` excludes, ``&tag`` requires; other tags match any
        (all with ``tag_filtering_match_any: false``); no match means the deployments
        tagged ``default``; an untagged request gets those, or every deployment."""
        excluded = {t[1:] for t in tags if t.startswith("!") and len(t) > 1}
        required = {t[1:] for t in tags if t.startswith("&") and len(t) > 1}
        wanted = {t for t in tags if not t.startswith(("!", "&"))}
        pool = [d for d in deployments if not excluded & set(d.tags) and required <= set(d.tags)]
        defaults = [d for d in pool if "default" in d.tags]
        if not wanted:
            return defaults or pool
        match_any = self._config.routing.tag_match_any
        matched = [
            d for d in pool if (wanted & set(d.tags) if match_any else wanted <= set(d.tags))
        ]
        return matched or defaults


def _priority(dep: Deployment) -> tuple[int, int]:
    return (dep.order if dep.order is not None else 1_000_000, dep.index)


def _ranked(tier: list[Deployment], ranking: Sequence[str] | None) -> list[Deployment]:
    """The tier in the load balancer's order for this request (unranked ones keep theirs)."""
    if not ranking or len(tier) < 2:
        return tier
    position = {dep_id: n for n, dep_id in enumerate(ranking)}
    return sorted(tier, key=lambda d: position.get(d.id, len(position)))


def _extend(out: list[Deployment], deployments: Iterable[Deployment]) -> None:
    for dep in deployments:
        if dep not in out:
            out.append(dep)
