"""Which model group a requested model name is served by: groups, aliases, wildcard routes.

As LiteLLM's proxy resolves them: ``router_settings.model_group_alias`` maps a
name to a group; a wildcard route (``model_name: "*"`` with ``model: openai/*``,
or ``"anthropic/*"``) serves any name its pattern matches, the ``*`` in the
deployment's model replaced by what the caller named. Matching and the
replacement are LiteLLM's own (``PatternMatchRouter``), most specific pattern
first, and a bare name is also tried with its provider in front
(``claude-3-haiku`` matches ``anthropic/*``), as LiteLLM does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from litellm.litellm_core_utils.pattern_match_deployments import PatternMatchRouter, PatternUtils

from router_config.config.deployments import CALL_KINDS, kind_of, map_mode, provider_of
from router_config.config.schema import Deployment, RouterConfig
from router_config.errors import ConfigIssue

# Router entry name of a wildcard deployment: "<id>:*". A concrete model called through it
# is "<id>:<provider/model>", and LiteLLM's pattern router turns its "*" model into that.
WILDCARD_SEPARATOR = ":"


def resolve_group(config: RouterConfig, name: str, call: str | None = "chat") -> str | None:
    """The group that serves ``name`` (an alias's target, or ``name`` itself) for requests of
    type ``call`` (chat, text_completion, embedding; None: any), else None."""
    want = CALL_KINDS[call] if call is not None else None
    target = config.aliases.get(name, name)
    if target in config.groups:
        return target if want in (None, config.kinds.get(target)) else None
    dep = next((d for d in config.deployments if d.id == target), None)
    if dep is not None:  # a deployment id: LiteLLM accepts one as a fallback (or model) name
        return target if want in (None, kind_of(dep.mode)) else None
    if any(d.group == target for d in config.others):
        return None  # an image or audio group: never routed, not even by a wildcard
    if name not in config.aliases:
        found = wildcard_deployments(config.wildcards, name)
        if any(want in (None, kind_of(d.mode)) for d in found):
            return name
    return None


def group_kind(config: RouterConfig, name: str) -> str | None:
    """``chat`` or ``embedding`` for a group, alias or deployment id; None if unknown."""
    target = config.aliases.get(name, name)
    if target in config.kinds:
        return config.kinds[target]
    dep = next((d for d in config.deployments if d.id == target), None)
    return kind_of(dep.mode) if dep is not None else None


def model_names(config: RouterConfig) -> list[str]:
    """What ``/v1/models`` lists: served groups (chat and embedding), then aliases of them
    that are not hidden."""
    names = list(config.groups)
    for alias, target in config.aliases.items():
        if target in config.groups and alias not in config.hidden_aliases and alias not in names:
            names.append(alias)
    return names


def wildcard_deployments(templates: Sequence[Deployment], name: str) -> list[Deployment]:
    """The concrete deployments serving ``name`` through the most specific matching route.

    Built anew on each call: the planner keeps what it resolved, per gateway."""
    for candidate in _candidates(name) if templates else ():
        for pattern, deps in _by_specificity(tuple(d.group for d in templates)):
            match = _regex(pattern).match(candidate)
            if match is None:
                continue
            out = []
            for dep in (templates[i] for i in deps):
                model = PatternMatchRouter.set_deployment_model_name(match, dep.model)
                concrete = _concrete(dep, name, model)
                if concrete is not None:
                    out.append(concrete)
            return out
    return []


@lru_cache(maxsize=256)
def _by_specificity(groups: tuple[str, ...]) -> list[tuple[str, list[int]]]:
    """Patterns (LiteLLM's regex form) and the indices of their templates, most specific first."""
    patterns: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        patterns.setdefault(PatternMatchRouter().pattern_to_regex(group), []).append(i)
    ordered: list[tuple[str, list[int]]] = PatternUtils.sorted_patterns(patterns)
    return ordered


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _candidates(name: str) -> list[str]:
    """``name``, then ``provider/name`` as LiteLLM's ``get_pattern`` tries it."""
    try:
        _, provider = provider_of(name)
    except Exception:  # LiteLLM raises bare Exception subclasses for unknown names
        return [name]
    return [name, f"{provider}/{name}"]


def _concrete(template: Deployment, name: str, model: str) -> Deployment | None:
    try:
        pinned, provider = provider_of(model, template.api_base)
    except Exception:  # the caller named something this route's provider cannot serve
        return None
    mode = template.model_info.get("mode") or map_mode(f"{provider}/{pinned}", provider)
    return template.model_copy(
        update={
            "id": f"{template.id}{WILDCARD_SEPARATOR}{model}",
            "group": name,
            "model": model,
            "pinned_model": pinned,
            "provider": provider,
            "mode": str(mode or "chat"),
            "litellm_params": {**template.litellm_params, "model": model},
            "model_info": {k: v for k, v in template.model_info.items() if k != "id"},
        }
    )


def wildcard_warnings(config: RouterConfig, require_pins: bool) -> list[str]:
    """One line per wildcard route: what it serves and how it is pinned and priced."""
    if require_pins:
        return []
    return [
        f"model_list[{dep.index}]: wildcard route {dep.group!r} -> {dep.model}: serves any "
        "model the caller names, pinned on first sight and priced from LiteLLM's map"
        for dep in config.wildcards
    ]


def wildcard_issues(config: RouterConfig, require_pins: bool) -> list[ConfigIssue]:
    """With ``require_pins``, a wildcard route is refused: it serves unpinned names."""
    if not require_pins:
        return []
    return [
        ConfigIssue(
            f"model_list[{dep.index}].model_name",
            f"wildcard route {dep.group!r} serves models no pin names "
            "(router_plugins.pinning.require_pins, or check --strict)",
            "list each model as its own deployment with a dated version",
        )
        for dep in config.wildcards
    ]
