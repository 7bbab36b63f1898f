"""``GET /v1/models`` and ``GET /v1/models/{id}``: the models a key may use, in OpenAI's shape.

The list holds the served groups (chat and embedding models) and their visible
aliases, only those the caller's key may use. A single model is found by any
name a request may use (group, alias, hidden alias, a name a wildcard route
serves) and answered 404 ``model_not_found`` when it is unknown or the key may
not use it, as OpenAI answers for a model the organisation cannot see.
"""

from __future__ import annotations

from typing import Any

from router_config.api.auth import Caller
from router_config.config.routes import model_names, resolve_group
from router_config.config.schema import RouterConfig
from router_config.errors import ModelNotFound


def _entry(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "llm-router"}


def model_list(config: RouterConfig, caller: Caller) -> dict[str, Any]:
    """Every listed model the caller may use."""
    names = [n for n in model_names(config) if _may_use(config, caller, n)]
    return {"object": "list", "data": [_entry(n) for n in names]}


def model_entry(config: RouterConfig, caller: Caller, name: str) -> dict[str, Any]:
    """One model by any name a request may use, if the caller may use it."""
    if resolve_group(config, name, call=None) is None or not _may_use(config, caller, name):
        raise ModelNotFound(f"The model '{name}' does not exist.", param="model")
    return _entry(name)


def _may_use(config: RouterConfig, caller: Caller, name: str) -> bool:
    group = resolve_group(config, name, call=None)
    return caller.may_use(name) or (group is not None and caller.may_use(group))
