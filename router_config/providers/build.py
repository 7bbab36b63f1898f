"""Builds LiteLLM's Router from a ``RouterConfig``: the only code that touches LiteLLM globals.

Each deployment is registered under its own Router model name (its id), so
our attempt loop can call exactly one deployment; retries, fallbacks and
cooldowns are turned off inside LiteLLM because ours replace them (LiteLLM's
defaults take 5-40 s to fail over). LiteLLM keeps module-level state
(``litellm.callbacks``, ``litellm.drop_params``...): we set it here and put it
back on ``close()``, so two gateways in one process don't leak into each other.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no 3-7 s price-map download
# LiteLLM counts tokens of llama-named models with a tokenizer fetched from the
# HuggingFace hub, inside the request: offline, that blocked a stream ~30 s.
# Offline mode makes the fetch fail at once and LiteLLM falls back to tiktoken.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import litellm

from router_config.config.routes import WILDCARD_SEPARATOR
from router_config.config.schema import Deployment, RouterConfig
from router_config.providers.litellm_warnings import mute_litellm_warnings
from router_config.providers.sent import SentMarker

# router_settings keys LiteLLM's Router may still use; the rest are ours to apply. Redis
# is not among them: cooldowns and rpm/tpm counting are ours, with their own client; nor
# is the routing strategy: each Router entry is one deployment, we balance between them.
_PASSED_ROUTER_SETTINGS = ("enable_pre_call_checks",)
# litellm_params LiteLLM must not act on: priority and rate limits are applied by us.
_OUR_PARAMS = ("order", "rpm", "tpm")
# litellm_settings applied as module globals, with the defaults we want when unset.
# httpx instead of LiteLLM's default aiohttp transport: a request we cancel at its
# deadline left its aiohttp connection open past shutdown (seen with a hung provider).
# Idle connections kept per host in LiteLLM's shared client (``_shared_session``).
_KEEPALIVE = 200
_GLOBAL_DEFAULTS: dict[str, Any] = {
    "drop_params": True,
    "modify_params": False,
    "disable_aiohttp_transport": True,
    "ssl_verify": True,
}


@dataclass
class RouterHandle:
    """A built Router plus what is needed to undo its global side effects."""

    router: Any
    _saved: dict[str, Any] = field(default_factory=dict)
    _saved_env: dict[str, str | None] = field(default_factory=dict)
    _closed: bool = False
    _sessions: list[Any] = field(default_factory=list)  # LiteLLM's shared httpx clients

    def take_over(self, old: RouterHandle) -> None:
        """This handle replaces ``old`` (a reload): LiteLLM's shared clients stay open for us,
        and the globals as they were before ``old`` are what we restore at the end. The old
        Router's own callback registrations go now (LiteLLM keeps them in module lists)."""
        self._saved = old._saved
        self._saved_env = {**self._saved_env, **old._saved_env}  # the oldest value wins
        self._sessions = [*old._sessions, *self._sessions]  # closed with this one, at the end
        old._closed = True
        old.router.retire()

    async def aclose(self) -> None:
        """Close LiteLLM's cached HTTP clients, then restore its module globals.

        LiteLLM caches one HTTP client per provider and event loop; left open,
        their connections outlive the loop and fail when it closes.
        """
        if self._closed:
            return
        self._closed = True
        self.router.retire()
        await litellm.close_litellm_async_clients()
        litellm.in_memory_llm_clients_cache.flush_cache()
        # Anthropic's streaming path uses one module-level client outside that cache; its
        # pool is bound to this loop, so close it and let LiteLLM create it anew on demand.
        shared = vars(litellm).pop("module_level_aclient", None)
        if shared is not None:
            await shared.close()
        for session in self._sessions:
            await session.aclose()
        for name, value in self._saved.items():
            setattr(litellm, name, value)
        for key, before in self._saved_env.items():
            if before is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = before


def build_router(config: RouterConfig, callbacks: Sequence[Any] = ()) -> RouterHandle:
    """Construct ``litellm.Router`` for ``config``; ``callbacks`` are LiteLLM CustomLoggers."""
    saved = {
        name: getattr(litellm, name)
        for name in (
            *_GLOBAL_DEFAULTS,
            "callbacks",
            "suppress_debug_info",
            "DEFAULT_MAX_RETRIES",
            "aclient_session",
        )
    }
    for name, default in _GLOBAL_DEFAULTS.items():
        setattr(litellm, name, config.litellm_settings.get(name, default))
    litellm.suppress_debug_info = True
    # LiteLLM's OpenAI and Azure embeddings read max_retries=0 as "unset" and let the openai
    # SDK retry twice with backoff inside one attempt (seen: 3 requests, ~1.4 s, for a 500):
    # retries are ours, so the SDK's default is none.
    litellm.DEFAULT_MAX_RETRIES = 0
    session = _shared_session()
    litellm.callbacks = [*saved["callbacks"], SentMarker(), *callbacks]
    # environment_variables: LiteLLM's proxy sets them in the process (providers read some,
    # e.g. AZURE_API_VERSION, at call time); put back on close.
    saved_env = {key: os.environ.get(key) for key in config.environment}
    os.environ.update(config.environment)
    settings = {k: v for k, v in config.router_settings.items() if k in _PASSED_ROUTER_SETTINGS}
    entries = [entry for dep in config.deployments for entry in _entries(dep)]
    entries += [entry for dep in config.wildcards for entry in _entries(dep, wildcard=True)]
    mute_litellm_warnings()
    router = litellm.Router(
        model_list=entries,
        num_retries=0,
        max_fallbacks=0,
        disable_cooldowns=True,
        **settings,
    )
    return RouterHandle(router=router, _saved=saved, _saved_env=saved_env, _sessions=[session])


def _shared_session() -> httpx.AsyncClient:
    """One pooled HTTP client for LiteLLM's OpenAI-format calls (``litellm.aclient_session``,
    which LiteLLM uses and never closes), built as LiteLLM builds its own (TLS, proxies,
    HTTP/2 setting) but without httpx's 100-connection cap, since every such deployment
    shares it. Without it LiteLLM builds a new client for each legacy completion and
    leaves it open (seen: one connection left open per whole call to a /completions model)."""
    from litellm.llms.custom_httpx.http_handler import (
        AsyncHTTPHandler,
        get_ssl_configuration,
        http2_enabled,
    )

    ssl_config = get_ssl_configuration()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=_KEEPALIVE)
    transport = AsyncHTTPHandler.create_async_transport(
        ssl_context=ssl_config if isinstance(ssl_config, ssl.SSLContext) else None,
        ssl_verify=ssl_config if isinstance(ssl_config, bool) else None,
        limits=limits,
    )
    session = httpx.AsyncClient(
        verify=ssl_config,
        transport=transport,
        mounts=AsyncHTTPHandler.create_httpx_proxy_mounts(
            transport, verify=ssl_config, cert=None, limits=limits
        ),
        follow_redirects=True,
        http2=http2_enabled(),
        limits=limits,
    )
    litellm.aclient_session = session
    return session


def key_entry_name(deployment: Deployment, key_index: int) -> str:
    """The Router model name of one key of a deployment: its id for the first key."""
    return deployment.id if key_index == 0 else f"{deployment.id}#key{key_index}"


def _entries(dep: Deployment, *, wildcard: bool = False) -> list[dict[str, Any]]:
    """One Router entry per provider key, so a request can be sent with a chosen key.

    A wildcard route is registered as a pattern, ``<id>:*`` with model ``*``: the concrete
    deployment ``<id>:<provider/model>`` the planner resolves a request to is then called
    by its id, and LiteLLM's pattern router turns ``*`` into exactly that model."""
    params = {k: v for k, v in dep.litellm_params.items() if k not in _OUR_PARAMS}
    if wildcard:
        params["model"] = "*"
    keys: list[str | None] = [k.get_secret_value() for k in dep.api_keys] or [None]
    out = []
    for n, key in enumerate(keys):
        name = key_entry_name(dep, n)
        out.append(
            {
                "model_name": name.replace(dep.id, f"{dep.id}{WILDCARD_SEPARATOR}*", 1)
                if wildcard
                else name,
                "litellm_params": {**params, "api_key": key} if key is not None else params,
                "model_info": {**dep.model_info, "id": name},
            }
        )
    return out
