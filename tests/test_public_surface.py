"""The package exports exactly its documented names."""

from __future__ import annotations

import router_config


def test_router_config_exports_exactly_the_documented_names() -> None:
    assert sorted(router_config.__all__) == [
        "ConfigError",
        "RouterConfig",
        "build_router",
        "create_app",
        "load_config",
    ]
    for name in router_config.__all__:
        assert getattr(router_config, name) is not None
