"""llm-router: an OpenAI-compatible gateway on LiteLLM's Router.

``load_config`` turns ``litellm_config.yaml`` into a frozen ``RouterConfig``;
``build_router`` builds LiteLLM's Router from it; ``create_app`` serves it.
"""

from router_config.app import create_app
from router_config.build import build_router
from router_config.errors import ConfigError
from router_config.loader import load_config
from router_config.schema import RouterConfig

__all__ = ["ConfigError", "RouterConfig", "build_router", "create_app", "load_config"]
