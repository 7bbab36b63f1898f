"""``GatewayServer``: a real gateway on a loopback port, in a background thread.

For tests (ours and our users'): the app runs under uvicorn exactly as in
production, so clients talk HTTP to it with the ``openai`` SDK or httpx.
"""

from __future__ import annotations

from typing import Any

from router_config.api.app import create_app
from router_config.config.schema import RouterConfig
from router_config.flow.gateway import Gateway
from router_config.live import ConfigSource
from router_config.testing._background import BackgroundServer
from router_config.wiring import Timing


class GatewayServer(BackgroundServer):
    """Serves ``create_app(config)`` on 127.0.0.1 and a free port until ``stop()``."""

    def __init__(
        self,
        config: RouterConfig,
        *,
        timing: Timing | None = None,
        span_exporter: Any = None,
        reload_from: ConfigSource | None = None,
    ) -> None:
        self.app = create_app(
            config, timing=timing, span_exporter=span_exporter, reload_from=reload_from
        )
        super().__init__(self.app)

    @property
    def gateway(self) -> Gateway:
        """The gateway serving now (a reload replaces it)."""
        gateway: Gateway = self.app.state.live.current.gateway
        return gateway
