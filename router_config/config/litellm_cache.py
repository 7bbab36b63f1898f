"""LiteLLM's ``litellm_settings.cache`` / ``cache_params`` onto ``router_plugins.cache``.

LiteLLM's proxy caches every request once ``cache: true`` (an exact-match key),
in memory (``type: local``, its default) or in Redis (``type: redis``, host from
``cache_params`` or LiteLLM's ``REDIS_*`` variables). Ours is the same
exact-match cache with stale-if-error on top: the mapping keeps LiteLLM's
meaning (every request cached, its ttl, namespace, call types, ``mode:
default_off``) and names what has no equivalent. ``router_plugins.cache``, when
written, wins over the LiteLLM keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from router_config.config.plugin_settings import CacheSettings

# Call types of LiteLLM's cache that cover chat completions.
CHAT_CALL_TYPES = frozenset({"completion", "acompletion"})
EXACT_TYPES = frozenset({"local", "redis"})


@dataclass
class MappedCache:
    """The cache settings to use, a Redis URL the cache names (if any), and warnings."""

    settings: CacheSettings
    redis_url: str | None = None
    warnings: list[str] = field(default_factory=list)


def map_cache(
    litellm_settings: Mapping[str, Any],
    ours: CacheSettings,
    ours_written: bool,
    environ: Mapping[str, str],
) -> MappedCache:
    """``router_plugins.cache`` after LiteLLM's cache keys are applied."""
    if "cache" not in litellm_settings and "cache_params" not in litellm_settings:
        return MappedCache(ours)
    if ours_written:
        return MappedCache(
            ours,
            warnings=[
                "litellm_settings.cache: router_plugins.cache is set and wins; "
                "remove one of the two"
            ],
        )
    if litellm_settings.get("cache") is not True:
        return MappedCache(ours.model_copy(update={"mode": "off"}))
    params = litellm_settings.get("cache_params") or {}
    if not isinstance(params, Mapping):
        params = {}
    out = MappedCache(ours.model_copy(update=_settings(params)))
    kind = str(params.get("type") or "local")
    if kind not in EXACT_TYPES:
        out.warnings.append(
            f"litellm_settings.cache_params.type: {kind!r} is not supported; llm-router "
            "keeps an exact-match cache (in Redis when configured, else in memory)"
        )
    if kind == "redis":
        out.redis_url = _redis_url(params, environ)
        if out.redis_url is None:
            out.warnings.append(
                "litellm_settings.cache_params: type redis names no Redis (host, or "
                "REDIS_HOST/REDIS_URL): the cache is kept in memory per process"
            )
    return out


def _settings(params: Mapping[str, Any]) -> dict[str, Any]:
    update: dict[str, Any] = {"mode": "all"}
    ttl = params.get("ttl")
    if isinstance(ttl, int | float) and ttl > 0:
        update["fresh_ttl_s"] = float(ttl)
    namespace = params.get("namespace")
    if namespace:
        update["namespace"] = str(namespace)
    types = params.get("supported_call_types")
    if isinstance(types, list) and not CHAT_CALL_TYPES & set(map(str, types)):
        update["mode"] = "off"  # chat completions are not among the cached call types
    if params.get("mode") == "default_off":
        update["opt_in"] = True
    return update


def _redis_url(params: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    """The cache's Redis as LiteLLM finds it: cache_params, then REDIS_URL, then REDIS_HOST."""
    if params.get("url"):
        return str(params["url"])
    host = params.get("host") or environ.get("REDIS_HOST")
    if not host:
        return environ.get("REDIS_URL") or None
    port = params.get("port") or environ.get("REDIS_PORT") or 6379
    password = params.get("password") or environ.get("REDIS_PASSWORD")
    auth = f":{password}@" if password else ""
    db = params.get("db")
    return f"redis://{auth}{host}:{port}" + (f"/{int(db)}" if db is not None else "")
