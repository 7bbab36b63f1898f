"""The order in which deployments are tried for one request.

A model group's own deployments come first, by ``litellm_params.order`` (then
file order); then the deployments of its ``fallbacks`` groups, in the order
listed. Context-window and content-policy errors switch to their own fallback
lists, as LiteLLM's Router does. Each deployment appears at most once.
"""

from __future__ import annotations

from collections.abc import Iterable

from router_config.config.schema import Deployment, RouterConfig


class Planner:
    """Turns a model group into the ordered list of deployments to try."""

    def __init__(self, config: RouterConfig) -> None:
        self._config = config
        self._by_id = {d.id: d for d in config.deployments}

    def plan(self, group: str) -> list[Deployment]:
        """Primary deployments, then the general fallbacks."""
        return self._expand([group, *self._config.fallbacks.get(group, ())])

    def special(self, group: str, reason: str) -> list[Deployment]:
        """Fallbacks for a context-window or content-policy failure (may be empty)."""
        table = {
            "context_window": self._config.context_window_fallbacks,
            "content_policy": self._config.content_policy_fallbacks,
        }.get(reason, {})
        return self._expand(table.get(group, ()))

    def _expand(self, groups: Iterable[str]) -> list[Deployment]:
        out: list[Deployment] = []
        for group in groups:
            for dep_id in self._config.groups.get(group, ()):
                dep = self._by_id[dep_id]
                if dep not in out:
                    out.append(dep)
        return out
