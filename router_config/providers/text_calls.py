"""Which legacy text completions go direct: those LiteLLM sends to a provider's own
``/completions`` unchanged.

LiteLLM calls ``/completions`` itself for ``text-completion-openai/`` deployments and
for ``openai/`` models that are not OpenAI chat models (an OpenAI-compatible server's
own model, ``gpt-3.5-turbo-instruct``), passing the caller's prompt and parameters as
given. Through LiteLLM such calls lose what its chat-shaped stream wrapper cannot hold
(every choice of ``n`` but the first, log probabilities), and a whole call leaves an
HTTP client of its own open; sent directly over our pool they keep both, as OpenAI
answers them. Chat models get LiteLLM's translation (the prompt as a user message).
tests/test_direct_calls_match_litellm_for_text.py compares what the provider receives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import litellm

from router_config.config.schema import Deployment
from router_config.providers.direct_openai import plain_params

# Request parameters LiteLLM passes to /completions as given (each checked by the test).
_PLAIN_PARAMS = frozenset(
    {
        "prompt",
        "max_tokens",
        "temperature",
        "top_p",
        "n",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "echo",
        "best_of",
        "suffix",
        "seed",
        "user",
        "stream_options",
    }
)


def speaks_completions(deployment: Deployment) -> bool:
    """True when LiteLLM would send a text completion to this deployment's ``/completions``
    unchanged: a ``text-completion-openai/`` model, or an ``openai/`` one that is not an
    OpenAI chat model, with no ``litellm_params`` LiteLLM would act on."""
    if not plain_params(deployment) or litellm.headers:
        return False
    if deployment.provider == "text-completion-openai":
        return True
    chat_models = litellm.open_ai_chat_completion_models
    return deployment.provider == "openai" and deployment.pinned_model not in chat_models


def is_plain_text(params: Mapping[str, Any]) -> bool:
    """A request whose parameters LiteLLM passes through (at most 4 stop sequences: it
    keeps the first 4 of more)."""
    stop = params.get("stop")
    if isinstance(stop, list) and len(stop) > 4 and not litellm.disable_stop_sequence_limit:
        return False
    return params.keys() <= _PLAIN_PARAMS
