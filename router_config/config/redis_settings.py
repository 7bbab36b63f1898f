"""Where shared state lives: Redis settings read from LiteLLM's own keys.

A config that points LiteLLM's proxy at Redis points us at the same Redis,
single node, Cluster or Sentinel, with TLS and ACL users, from any of the
places LiteLLM reads (``litellm/_redis.py``):

* ``router_settings``: ``redis_url``, or ``redis_host``/``redis_port``/``redis_password``;
* ``litellm_settings.cache_params`` with ``type: redis``: ``url``, ``host``, ``port``,
  ``password``, ``username``, ``ssl``, ``ssl_ca_certs``, ``ssl_cert_reqs``, ``db``,
  ``redis_startup_nodes`` (Cluster), ``sentinel_nodes``/``service_name``/``sentinel_password``;
* the environment: ``REDIS_URL``, ``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_PASSWORD``,
  ``REDIS_USERNAME``, ``REDIS_SSL``, ``REDIS_SSL_CA_CERTS``, ``REDIS_SSL_CERT_REQS``,
  ``REDIS_DB``, ``REDIS_CLUSTER_NODES``, ``REDIS_SENTINEL_NODES``,
  ``REDIS_SENTINEL_PASSWORD``, ``REDIS_SERVICE_NAME``.

A key named in the file outranks the environment, and a connection target named in
the file (url, host, startup nodes, sentinel nodes) replaces the environment's, as in
LiteLLM. Startup nodes make it a Cluster, sentinel nodes a Sentinel set, else one node.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr

from router_config.errors import ConfigIssue

_TARGETS = ("url", "host", "startup_nodes", "sentinel_nodes")
_ENV = {
    "REDIS_URL": "url",
    "REDIS_HOST": "host",
    "REDIS_PORT": "port",
    "REDIS_PASSWORD": "password",
    "REDIS_USERNAME": "username",
    "REDIS_SSL": "ssl",
    "REDIS_SSL_CA_CERTS": "ssl_ca_certs",
    "REDIS_SSL_CERT_REQS": "ssl_cert_reqs",
    "REDIS_DB": "db",
    "REDIS_CLUSTER_NODES": "startup_nodes",
    "REDIS_SENTINEL_NODES": "sentinel_nodes",
    "REDIS_SENTINEL_PASSWORD": "sentinel_password",
    "REDIS_SERVICE_NAME": "service_name",
}
_CACHE_PARAMS = {
    "url": "url",
    "redis_url": "url",
    "host": "host",
    "port": "port",
    "password": "password",
    "username": "username",
    "ssl": "ssl",
    "ssl_ca_certs": "ssl_ca_certs",
    "ssl_cert_reqs": "ssl_cert_reqs",
    "db": "db",
    "redis_startup_nodes": "startup_nodes",
    "startup_nodes": "startup_nodes",
    "sentinel_nodes": "sentinel_nodes",
    "sentinel_password": "sentinel_password",
    "service_name": "service_name",
}
_ROUTER = {
    "redis_url": "url",
    "redis_host": "host",
    "redis_port": "port",
    "redis_password": "password",
}


class RedisNode(BaseModel):
    """One ``host:port`` of a Cluster or a Sentinel set."""

    model_config = ConfigDict(frozen=True)

    host: str
    port: int


class RedisSettings(BaseModel):
    """How to reach the Redis that holds shared state; ``describe()`` is safe to log."""

    model_config = ConfigDict(frozen=True)

    mode: Literal["single", "cluster", "sentinel"]
    url: SecretStr | None = None
    host: str | None = None
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: SecretStr | None = None
    ssl: bool = False
    ssl_ca_certs: str | None = None
    ssl_cert_reqs: str | None = None
    startup_nodes: tuple[RedisNode, ...] = ()
    sentinel_nodes: tuple[RedisNode, ...] = ()
    service_name: str | None = None
    sentinel_password: SecretStr | None = None
    source: str = ""

    @classmethod
    def from_url(cls, url: str) -> RedisSettings:
        """One node, from a ``redis://`` or ``rediss://`` URL (tests, tools)."""
        return cls(mode="single", url=SecretStr(url), source="url")

    def describe(self) -> str:
        """Topology, first node, TLS and user: never a password."""
        user = self.username
        if self.mode == "cluster":
            first = self.startup_nodes[0]
            where = f"cluster {first.host}:{first.port} (+{len(self.startup_nodes) - 1} nodes)"
        elif self.mode == "sentinel":
            where = f"sentinel {self.service_name} via {len(self.sentinel_nodes)} sentinels"
        elif self.url is not None:
            parts = urlsplit(self.url.get_secret_value())
            where = f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"
            user = user or parts.username
        else:
            where = f"redis://{self.host}:{self.port}/{self.db}"
        tls = " tls" if self.uses_tls else ""
        return f"{where}{tls}" + (f" user {user}" if user else "")

    @property
    def uses_tls(self) -> bool:
        if self.url is not None:
            return self.url.get_secret_value().startswith("rediss://")
        return self.ssl


def redis_settings(
    router_settings: Mapping[str, Any],
    litellm_settings: Mapping[str, Any],
    environ: Mapping[str, str],
    issues: list[ConfigIssue],
) -> RedisSettings | None:
    """The configured Redis, or None; bad values are appended to ``issues``."""
    found: dict[str, tuple[Any, str]] = {}
    for name, key in _ENV.items():
        if environ.get(name):
            found[key] = (environ[name], name)
    layers = [(_cache_params(litellm_settings), _CACHE_PARAMS, "litellm_settings.cache_params")]
    layers.append((router_settings, _ROUTER, "router_settings"))
    for settings, names, where in layers:
        named = {
            key: (settings[n], f"{where}.{n}") for n, key in names.items() if _set(settings, n)
        }
        if any(key in named for key in _TARGETS):
            for key in _TARGETS:
                found.pop(key, None)
        found.update(named)
    if not any(key in found for key in _TARGETS):
        return None
    return _build(found, issues)


def _cache_params(litellm_settings: Mapping[str, Any]) -> Mapping[str, Any]:
    params = litellm_settings.get("cache_params")
    if not isinstance(params, Mapping) or params.get("type", "redis") != "redis":
        return {}
    return params


def _set(settings: Mapping[str, Any], name: str) -> bool:
    value = settings.get(name)
    return value is not None and value != ""


def _build(found: dict[str, tuple[Any, str]], issues: list[ConfigIssue]) -> RedisSettings | None:
    start = len(issues)
    value = {key: v for key, (v, _) in found.items()}
    where = {key: w for key, (_, w) in found.items()}
    startup = _nodes(found.get("startup_nodes"), issues)
    sentinels = _nodes(found.get("sentinel_nodes"), issues)
    mode: Literal["single", "cluster", "sentinel"] = "single"
    if startup:
        mode = "cluster"
    elif sentinels:
        mode = "sentinel"
        if not value.get("service_name"):
            issues.append(
                ConfigIssue(
                    where["sentinel_nodes"],
                    "Sentinel nodes are set but no service name (the master's name)",
                    "set litellm_settings.cache_params.service_name or REDIS_SERVICE_NAME",
                )
            )
    port = _int(found.get("port"), 6379, issues)
    db = _int(found.get("db"), 0, issues)
    if len(issues) > start:
        return None
    secret = {
        k: SecretStr(str(value[k])) for k in ("url", "password", "sentinel_password") if k in value
    }
    source = where.get("startup_nodes") or where.get("sentinel_nodes") or where.get("url")
    return RedisSettings(
        mode=mode,
        url=secret.get("url") if mode == "single" else None,
        host=str(value["host"]) if "host" in value else None,
        port=port,
        db=db,
        username=str(value["username"]) if value.get("username") else None,
        password=secret.get("password"),
        ssl=_bool(value.get("ssl")),
        ssl_ca_certs=str(value["ssl_ca_certs"]) if value.get("ssl_ca_certs") else None,
        ssl_cert_reqs=str(value["ssl_cert_reqs"]) if value.get("ssl_cert_reqs") else None,
        startup_nodes=startup,
        sentinel_nodes=sentinels,
        service_name=str(value["service_name"]) if value.get("service_name") else None,
        sentinel_password=secret.get("sentinel_password"),
        source=source or where.get("host", ""),
    )


def _nodes(entry: tuple[Any, str] | None, issues: list[ConfigIssue]) -> tuple[RedisNode, ...]:
    """Nodes as LiteLLM takes them: ``[{"host": h, "port": p}]`` (Cluster), ``[[h, p]]``
    (Sentinel), either as JSON text (environment), or ``"h:p"`` strings."""
    if entry is None:
        return ()
    raw, where = entry
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
        nodes = tuple(_node(item) for item in items)
    except (ValueError, TypeError, KeyError, IndexError):
        issues.append(
            ConfigIssue(
                where,
                "not a list of Redis nodes",
                'give JSON such as [{"host": "10.0.0.1", "port": 6379}] or [["10.0.0.1", 26379]]',
            )
        )
        return ()
    if not nodes:
        issues.append(ConfigIssue(where, "the list of Redis nodes is empty", "name at least one"))
    return nodes


def _node(item: Any) -> RedisNode:
    if isinstance(item, Mapping):
        return RedisNode(host=str(item["host"]), port=int(item.get("port", 6379)))
    if isinstance(item, str):
        host, _, port = item.rpartition(":")
        return RedisNode(host=host, port=int(port))
    host, port = item
    return RedisNode(host=str(host), port=int(port))


def _int(entry: tuple[Any, str] | None, default: int, issues: list[ConfigIssue]) -> int:
    if entry is None:
        return default
    try:
        return int(entry[0])
    except (TypeError, ValueError):
        issues.append(ConfigIssue(entry[1], f"{entry[0]!r} is not a number", "give an integer"))
        return default


def _bool(value: Any) -> bool:
    return value.lower() in ("true", "1", "yes") if isinstance(value, str) else bool(value)
