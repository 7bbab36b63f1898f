"""Bearer-key authentication (or ``x-api-key``): the master key and client keys with their team.

Keys are compared by sha256 digest in constant time; the plain client keys
are never held in memory after the config is loaded. With no key configured
at all the gateway is open (the demo), and says so once at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from router_config.config.schema import RouterConfig
from router_config.errors import AuthenticationFailed, PermissionDenied
from router_config.keyhash import same_digest, sha256_hex


@dataclass(frozen=True)
class Caller:
    """Who is calling: the team billed and a key alias safe to log."""

    team: str
    alias: str
    is_admin: bool
    models: tuple[str, ...] = ()

    def may_use(self, group: str) -> bool:
        return self.is_admin or not self.models or group in self.models


ANONYMOUS = Caller(team="default", alias="anonymous", is_admin=True)


class Authenticator:
    """Resolves the ``Authorization`` header to a ``Caller``."""

    def __init__(self, config: RouterConfig) -> None:
        master = config.master_key
        self._master = sha256_hex(master.get_secret_value()) if master else None
        self._clients = config.client_keys
        scraper = config.plugins.server.metrics_key
        self._metrics = sha256_hex(scraper) if scraper else None

    @property
    def open(self) -> bool:
        """True when no key is configured: every caller is let in."""
        return self._master is None and not self._clients

    def caller(self, headers: Mapping[str, str]) -> Caller:
        """The caller for these request headers, or ``AuthenticationFailed``."""
        if self.open:
            return ANONYMOUS
        token = _bearer(headers)
        if token is None:
            raise AuthenticationFailed("Missing API key: send it as 'Authorization: Bearer <key>'.")
        digest = sha256_hex(token)
        found: Caller | None = None
        if self._master is not None and same_digest(digest, self._master):
            found = Caller(team="admin", alias="master", is_admin=True)
        for client in self._clients:  # no early exit: the time taken does not depend on which
            if same_digest(digest, client.sha256):
                found = Caller(
                    team=client.team, alias=client.alias, is_admin=False, models=client.models
                )
        if found is None:
            raise AuthenticationFailed("Incorrect API key provided.")
        return found

    def metrics(self, headers: Mapping[str, str]) -> None:
        """Let in the master key or ``router_plugins.server.metrics_key`` (a scraper's key,
        which opens nothing else); a client key gets 403: metrics show every team's cost."""
        if self._metrics is not None:
            token = _bearer(headers)
            if token is not None and same_digest(sha256_hex(token), self._metrics):
                return
        self.admin(headers)

    def admin(self, headers: Mapping[str, str]) -> Caller:
        """The caller, who must hold the master key."""
        caller = self.caller(headers)
        if not caller.is_admin:
            raise PermissionDenied("This endpoint needs the master key.")
        return caller


def _bearer(headers: Mapping[str, str]) -> str | None:
    """The key from ``Authorization: Bearer``, else ``x-api-key`` (how the ``anthropic`` SDK
    and Claude-based tools send it)."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return headers.get("x-api-key", "").strip() or None
    return token.strip()
