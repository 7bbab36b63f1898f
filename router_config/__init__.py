"""llm-router: an OpenAI-compatible gateway on LiteLLM's Router.

``load_config`` turns ``litellm_config.yaml`` into a frozen ``RouterConfig``;
``build_router`` builds LiteLLM's Router from it; ``create_app`` serves it.

The names are imported when first used, not with the package: a process that needs
only a light module of it (the ``--workers`` supervisor) does not load LiteLLM.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router_config.api.app import create_app
    from router_config.config.loader import load_config
    from router_config.config.schema import RouterConfig
    from router_config.errors import ConfigError
    from router_config.providers.build import build_router

__all__ = ["ConfigError", "RouterConfig", "build_router", "create_app", "load_config"]

_HOMES = {
    "ConfigError": "router_config.errors",
    "RouterConfig": "router_config.config.schema",
    "build_router": "router_config.providers.build",
    "create_app": "router_config.api.app",
    "load_config": "router_config.config.loader",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'router_config' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
