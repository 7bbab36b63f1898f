"""``model_list`` entries to ``Deployment`` values, sorted by what they can serve.

Three kinds come out, as LiteLLM's proxy treats them: served deployments (chat
models, routed for chat, legacy completions, the Responses API and Anthropic's
Messages; embedding models, routed for ``/v1/embeddings``), wildcard routes
(``model_name: "*"`` or ``"anthropic/*"``: resolved per request to the model the
caller names), and deployments of other modes (images, audio...: listed by
``check``, never routed). A deployment whose provider LiteLLM cannot tell is not
served, with a warning, as LiteLLM's proxy skips it (``ignore_invalid_deployments``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import litellm

from router_config.config.schema import Deployment, ModelEntry
from router_config.errors import ConfigIssue

# Modes whose deployments answer chat completions (LiteLLM turns chat into a completion
# prompt for "completion" models); every other mode is kept out of chat routing.
CHAT_MODES = frozenset({"chat", "completion", "responses"})
EMBEDDING_MODES = frozenset({"embedding"})
SERVED_MODES = CHAT_MODES | EMBEDDING_MODES
# What a request's call type needs of a deployment: its kind (chat or embedding). Legacy
# text completions are served by chat deployments (LiteLLM translates for chat models
# and calls /completions itself for completion models).
CALL_KINDS = {"chat": "chat", "text_completion": "chat", "embedding": "embedding"}


def kind_of(mode: str) -> str:
    """``embedding`` or ``chat``: which call types a deployment of this mode serves."""
    return "embedding" if mode in EMBEDDING_MODES else "chat"


# litellm_params that only steer routing: ours to apply, never sent to a provider. The
# retry counts are dropped too: a retrying SDK inside an attempt would break the deadline.
ROUTING_PARAMS = ("weight", "tags", "tag_regex", "max_retries", "num_retries")


@dataclass
class Sorted:
    """Deployments by kind, and what was said about them."""

    served: list[Deployment] = field(default_factory=list)
    wildcards: list[Deployment] = field(default_factory=list)
    other: list[Deployment] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def sort_deployments(entries: tuple[ModelEntry, ...], issues: list[ConfigIssue]) -> Sorted:
    """Build every deployment; unique ids and key settings are errors, the rest warnings."""
    out = Sorted()
    seen: set[str] = set()
    per_group: dict[str, int] = {}
    for i, entry in enumerate(entries):
        dep = _deployment(i, entry, per_group, out.warnings)
        if dep is None:
            continue
        path = f"model_list[{i}]"
        if dep.id in seen:
            issues.append(
                ConfigIssue(
                    f"{path}.model_info.id",
                    f"id {dep.id!r} is used twice",
                    "give every deployment a unique model_info.id",
                )
            )
        seen.add(dep.id)
        if entry.litellm_params.api_keys and entry.litellm_params.api_key is not None:
            issues.append(
                ConfigIssue(
                    f"{path}.litellm_params.api_keys",
                    "api_key and api_keys are both set",
                    "list every key under api_keys and remove api_key",
                )
            )
        if "*" in entry.model_name:
            out.wildcards.append(dep)
        elif dep.mode in SERVED_MODES:
            out.served.append(dep)
        else:
            out.other.append(dep)
    return out


def _deployment(
    i: int, entry: ModelEntry, per_group: dict[str, int], warnings: list[str]
) -> Deployment | None:
    params = entry.litellm_params
    path = f"model_list[{i}]"
    mode: str | None = None
    try:
        model, provider = provider_of(params.model, params.api_base)
    except Exception:  # LiteLLM raises bare Exception subclasses of its own here
        mode = map_mode(params.model)
        if mode is None or mode in CHAT_MODES:
            warnings.append(
                f"{path}: cannot tell which provider serves {params.model!r}, so this "
                "deployment is not served (LiteLLM's proxy skips it too): prefix the model "
                "with its provider, e.g. openai/, anthropic/, hosted_vllm/ or ollama/"
            )
            return None
        model, provider = params.model, "unknown"
    if not model and "*" not in entry.model_name:
        warnings.append(
            f"{path}: {params.model!r} names no model, so this deployment is not served: "
            "write the deployment or model name after the provider"
        )
        return None
    n = per_group.get(entry.model_name, 0)
    per_group[entry.model_name] = n + 1
    stem = entry.model_name.replace("*", "any")
    info = dict(entry.model_info)
    weight = params.model_extra.get("weight") if params.model_extra else None
    tags = params.model_extra.get("tags") if params.model_extra else None
    return Deployment(
        id=str(info.get("id") or f"{stem}.{provider}.{n}"),
        group=entry.model_name,
        index=i,
        provider=provider,
        model=params.model,
        pinned_model=model,
        api_base=params.api_base,
        order=params.order,
        litellm_params=_plain_params(entry),
        model_info=info,
        api_keys=params.api_keys or ((params.api_key,) if params.api_key else ()),
        mode=str(info.get("mode") or mode or map_mode(f"{provider}/{model}", provider) or "chat"),
        weight=float(weight) if isinstance(weight, int | float) and weight > 0 else None,
        tags=tuple(map(str, tags)) if isinstance(tags, list) else (),
    )


def provider_of(model: str, api_base: str | None = None) -> tuple[str, str]:
    """LiteLLM's (model, provider) for a deployment's model; raises when it cannot tell.
    LiteLLM prints a banner to stdout before raising unless told not to."""
    quiet = litellm.suppress_debug_info
    litellm.suppress_debug_info = True
    try:
        name, provider, _, _ = litellm.get_llm_provider(model, api_base=api_base)
    finally:
        litellm.suppress_debug_info = quiet
    return str(name), str(provider)


def _plain_params(entry: ModelEntry) -> dict[str, Any]:
    params = entry.litellm_params.model_dump(exclude_none=True, exclude={"api_keys"})
    for name in ROUTING_PARAMS:
        params.pop(name, None)
    key = entry.litellm_params.api_key
    if key is not None:
        params["api_key"] = key.get_secret_value()
    return params


def map_mode(model: str, provider: str | None = None) -> str | None:
    """The mode LiteLLM's price map gives a model (chat, embedding, image_generation...)."""
    info = litellm.model_cost.get(model) or litellm.model_cost.get(model.rsplit("/", 1)[-1])
    if info is None and provider is None:
        # No provider: any map entry whose last path segment is this model (dall-e-3 is
        # mapped as "1024-x-1024/dall-e-3"), if all such entries agree on the mode.
        suffix = "/" + model
        modes = {v.get("mode") for k, v in litellm.model_cost.items() if k.endswith(suffix)}
        return str(modes.pop()) if len(modes) == 1 and None not in modes else None
    mode = (info or {}).get("mode")
    return str(mode) if mode else None
