"""The frozen, validated view of ``litellm_config.yaml`` the rest of the code reads.

LiteLLM's own sections (``model_list``, ``router_settings``, ``litellm_settings``,
``general_settings``) accept unknown keys, because a config that works with
LiteLLM's proxy must work with ours unchanged. Our ``router_plugins`` section is
strict. Nothing here reads files or the environment: see ``loader.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from router_config.config.plugin_settings import PluginsConfig
from router_config.config.redis_settings import RedisSettings

JsonMap = Mapping[str, Any]


class _Open(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class LitellmParams(_Open):
    """A deployment's ``litellm_params``; only the keys we reason about are typed."""

    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key: SecretStr | None = None
    api_keys: tuple[SecretStr, ...] | None = Field(default=None, min_length=1)
    order: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    timeout: float | None = None
    stream_timeout: float | None = None


class ModelEntry(_Open):
    """One element of ``model_list``."""

    model_name: str = Field(min_length=1)
    litellm_params: LitellmParams
    model_info: dict[str, Any] = Field(default_factory=dict)


class GeneralSettings(_Open):
    """``general_settings``: we read the master key, LiteLLM's proxy reads the rest."""

    master_key: SecretStr | None = None


class RawConfig(BaseModel):
    """The file as written, after ``os.environ/`` references are resolved."""

    model_config = ConfigDict(frozen=True, extra="allow")

    model_list: tuple[ModelEntry, ...] = Field(min_length=1)
    router_settings: dict[str, Any] = Field(default_factory=dict)
    litellm_settings: dict[str, Any] = Field(default_factory=dict)
    general_settings: GeneralSettings = GeneralSettings()
    # A factory, not an instance: defaults that read the environment (the state directory)
    # are read when a config is loaded, not when this module is imported.
    router_plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    environment_variables: dict[str, Any] = Field(default_factory=dict)


class Deployment(BaseModel):
    """One provider deployment, as the gateway routes to it.

    ``id`` is unique across the file (``model_info.id`` or generated from the
    group and position); it is also the name the deployment is registered
    under inside LiteLLM's Router, so we can call exactly one deployment.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    group: str
    index: int
    provider: str
    model: str
    pinned_model: str
    api_base: str | None
    order: int | None
    litellm_params: JsonMap
    model_info: JsonMap
    api_keys: tuple[SecretStr, ...] = ()
    mode: str = "chat"  # model_info.mode, else LiteLLM's price map: chat, embedding...
    weight: float | None = None  # litellm_params.weight: share among deployments of one order
    tags: tuple[str, ...] = ()  # litellm_params.tags: tag routing

    @property
    def rpm(self) -> int | None:
        """Outbound requests per minute this deployment accepts (``litellm_params.rpm``)."""
        value = self.litellm_params.get("rpm")
        return int(value) if value else None

    @property
    def tpm(self) -> int | None:
        """Outbound tokens per minute (``litellm_params.tpm``)."""
        value = self.litellm_params.get("tpm")
        return int(value) if value else None

    @property
    def api_host(self) -> str | None:
        """The host of ``api_base`` only: safe to log, unlike a full URL with a token."""
        if not self.api_base:
            return None
        rest = self.api_base.split("://", 1)[-1]
        return rest.split("/", 1)[0].rsplit("@", 1)[-1]


class ClientKey(BaseModel):
    """A client key as stored in memory: only its sha256, never the key."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    team: str
    alias: str
    models: tuple[str, ...] = ()
    rpm: int | None = None
    tpm: int | None = None


class RoutingSettings(BaseModel):
    """How deployments of one group and one ``order`` share traffic (``router_settings``)."""

    model_config = ConfigDict(frozen=True)

    strategy: str = "simple-shuffle"
    latency_ttl_s: float = 3600.0  # routing_strategy_args.ttl
    latency_buffer: float = 0.0  # routing_strategy_args.lowest_latency_buffer
    tag_filtering: bool = False
    tag_match_any: bool = True
    max_fallbacks: int | None = None


class RouterConfig(BaseModel):
    """Everything the gateway needs, validated and frozen."""

    model_config = ConfigDict(frozen=True)

    source: str
    deployments: tuple[Deployment, ...]
    groups: Mapping[str, tuple[str, ...]]
    fallbacks: Mapping[str, tuple[str, ...]]
    context_window_fallbacks: Mapping[str, tuple[str, ...]]
    content_policy_fallbacks: Mapping[str, tuple[str, ...]]
    router_settings: JsonMap
    litellm_settings: JsonMap
    master_key: SecretStr | None
    client_keys: tuple[ClientKey, ...]
    plugins: PluginsConfig
    redis: RedisSettings | None = None
    warnings: tuple[str, ...] = ()
    routing: RoutingSettings = RoutingSettings()
    # Wildcard routes (model_name "*", "anthropic/*"): resolved per request (``wildcards``).
    wildcards: tuple[Deployment, ...] = ()
    # What each group serves: "chat" (chat, completions, responses, messages) or "embedding".
    kinds: Mapping[str, str] = Field(default_factory=dict)
    # Deployments of modes no endpoint serves (images, audio...): listed, never routed.
    others: tuple[Deployment, ...] = ()
    aliases: Mapping[str, str] = Field(default_factory=dict)  # model_group_alias
    hidden_aliases: frozenset[str] = frozenset()
    default_fallbacks: tuple[str, ...] = ()
    # Callbacks as configured (``module.instance`` or a LiteLLM logger name), by kind.
    callbacks: Mapping[str, tuple[str, ...]] = Field(default_factory=dict)
    environment: Mapping[str, str] = Field(default_factory=dict)  # environment_variables

    def deployment(self, deployment_id: str) -> Deployment:
        """The deployment registered under ``deployment_id``."""
        for deployment in self.deployments:
            if deployment.id == deployment_id:
                return deployment
        raise KeyError(deployment_id)
