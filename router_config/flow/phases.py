"""The time limits of one attempt, from the deployment's learned latency and the prompt.

See ``FailoverSettings`` for the phases. Two numbers per attempt: when to start
the next deployment in parallel (the hedge point) and when this one has failed
(the first-token limit). Both grow with the prompt's expected prefill time, and
both come from this deployment's own p99 time to first token once enough calls
were seen, so a provider that is usually fast is left quickly when it hangs and
one that usually thinks for 20 s is given its 20 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import litellm

from router_config.config.plugin_settings import FailoverSettings
from router_config.config.schema import Deployment
from router_config.state.latency import LatencyStats

# Reasoning models think 10-60 s before their first visible token: until their latency is
# learned they get the ceiling as limit, and this hedge point, instead of the defaults.
REASONING_COLD_HEDGE_S = 15.0


@dataclass(frozen=True)
class Phase:
    """Seconds after an attempt starts: when to hedge, and when its first token is overdue."""

    hedge_after_s: float
    first_token_s: float
    learned: bool


class Phases:
    """Computes each attempt's phase and learns from each first token."""

    def __init__(self, settings: FailoverSettings, stats: LatencyStats) -> None:
        self._s = settings
        self.stats = stats

    def prefill_s(self, deployment: Deployment, prompt_tokens: int) -> float:
        """Expected extra time to a first token for a prompt this long."""
        rate = _number(deployment.model_info.get("prefill_s_per_1k_tokens"))
        rate = self._s.prefill_s_per_1k_tokens if rate is None else rate
        return rate * prompt_tokens / 1000

    def for_attempt(self, deployment: Deployment, prompt_tokens: int, *, last: bool) -> Phase:
        s = self._s
        p99 = self.stats.quantile(deployment.id, 0.99)
        if p99 is not None:
            limit = min(
                max(s.first_token_factor * p99, s.first_token_floor_s), s.first_token_ceiling_s
            )
            hedge = max(s.hedge_floor_s, p99)
        elif is_reasoning(deployment):
            limit, hedge = s.first_token_ceiling_s, REASONING_COLD_HEDGE_S
        else:
            own = _number(deployment.model_info.get("first_token_timeout_s"))
            limit, hedge = own or s.first_token_timeout_s, s.hedge_after_s
        if last:
            limit = max(limit, s.first_token_ceiling_s)  # nowhere else to go
        prefill = self.prefill_s(deployment, prompt_tokens)
        return Phase(min(hedge, limit) + prefill, limit + prefill, learned=p99 is not None)

    def record(self, deployment: Deployment, first_token_s: float, prompt_tokens: int) -> None:
        """Learn from one attempt's time to first token (prefill taken out)."""
        normalised = first_token_s - self.prefill_s(deployment, prompt_tokens)
        self.stats.record(deployment.id, max(0.0, normalised))


def is_reasoning(deployment: Deployment) -> bool:
    """A model that thinks before it answers: ``model_info.supports_reasoning``, else
    LiteLLM's price map of the pinned version."""
    declared = deployment.model_info.get("supports_reasoning")
    if isinstance(declared, bool):
        return declared
    return _map_says_reasoning(deployment.pinned_model, deployment.provider)


@cache
def _map_says_reasoning(model: str, provider: str) -> bool:
    try:
        return bool(litellm.supports_reasoning(model=model, custom_llm_provider=provider))
    except Exception:  # LiteLLM raises on models it does not know: not a reasoning model
        return False


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None
