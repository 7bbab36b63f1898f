"""llm-router: an OpenAI-compatible gateway on LiteLLM's Router.

``load_config`` turns ``litellm_config.yaml`` into a frozen ``RouterConfig``;
``build_router`` builds LiteLLM's Router from it; ``create_app`` serves it.
"""

from router_config.api.app import create_app
from router_config.config.loader import load_config
from router_config.config.schema import RouterConfig
from router_config.errors import ConfigError
from router_config.providers.build import build_router

__all__ = ["ConfigError", "RouterConfig", "build_router", "create_app", "load_config"]
