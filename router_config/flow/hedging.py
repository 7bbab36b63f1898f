"""How many hedged calls a deployment may cost: a token bucket per deployment.

A hedge sends a second call while the first may still answer, so it costs money
and load. Each call made to a deployment earns ``budget`` of a token (5 % by
default); a hedge started because that deployment was late spends one. The
bucket holds at most ``burst`` tokens and starts full, so the onset of an outage
(many requests stuck at once) is covered, while a provider that is merely slow
for a long time can never be sent more than ``budget`` extra calls.
Per process: a budget shared across replicas would cost a Redis round trip per
call for a few percent of accuracy.
"""

from __future__ import annotations


class HedgeBudget:
    """Token buckets keyed by deployment id."""

    def __init__(self, budget: float, burst: int) -> None:
        self._budget = budget
        self._burst = float(burst)
        self._tokens: dict[str, float] = {}

    def earn(self, deployment: str) -> None:
        """A call was made to ``deployment``."""
        have = self._tokens.get(deployment, self._burst)
        self._tokens[deployment] = min(self._burst, have + self._budget)

    def spend(self, deployment: str) -> bool:
        """Take one token for a hedge because ``deployment`` was late; False when none is left."""
        have = self._tokens.get(deployment, self._burst)
        if have < 1:
            return False
        self._tokens[deployment] = have - 1
        return True
