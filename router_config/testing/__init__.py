"""Public test doubles: a fake provider and a gateway on loopback, so users can test offline."""

from router_config.testing.fake_provider import (
    FakeProvider,
    FakeProviderServer,
    serve_fake_provider,
)
from router_config.testing.gateway_server import GatewayServer

__all__ = ["FakeProvider", "FakeProviderServer", "GatewayServer", "serve_fake_provider"]
