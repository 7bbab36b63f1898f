"""Typed settings for ``router_plugins.shared_state``: the spend journal and leases.

Every settled cost is written to a local SQLite journal before Redis, and replayed
to Redis (idempotently) when it returns. While Redis is up each replica leases
slices of every budget and rate limit; while it is down a replica spends only
from its lease, so a budget is overshot by at most one slice per replica.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def _default_state_dir() -> str:
    return os.environ.get("LLM_ROUTER_STATE_DIR", "~/.local/state/llm-router")


class SharedStateSettings(BaseModel):
    """Durability of spend and the size of leases.

    * ``state_dir``: where the spend journal lives (one SQLite file per process;
      ``LLM_ROUTER_STATE_DIR`` by default). Put it on a persistent volume.
    * ``journal_sync``: ``normal`` survives a crash or SIGKILL of the process with
      nothing lost; an OS crash or power cut may lose the entries written since
      SQLite's last WAL sync. ``full`` syncs every entry to disk (slower).
    * ``journal_keep_hours``: how long entries already in Redis stay in the journal,
      replayed if Redis comes back empty (a restart without persistence).
    * ``flush_interval_s``: settled costs reach Redis in batches this often (one
      round trip per batch, off the request path).
    * ``budget_lease_fraction``: the slice of each budget a replica leases at a time;
      also the most a replica may overshoot a budget while cut off from Redis. A
      slice is never smaller than the one request asking for it.
    * ``rate_lease_fraction``: the same for requests/tokens per minute (at least 1).
    * ``lease_ttl_s``: a lease not renewed for this long (a replica died or lost
      Redis) is given back to the others.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    state_dir: str = Field(default_factory=_default_state_dir)
    journal_sync: Literal["normal", "full"] = "normal"
    journal_keep_hours: float = Field(default=48.0, gt=0)
    flush_interval_s: float = Field(default=0.05, gt=0, le=10)
    budget_lease_fraction: float = Field(default=0.01, gt=0, le=1)
    rate_lease_fraction: float = Field(default=0.1, gt=0, le=1)
    lease_ttl_s: float = Field(default=30.0, ge=1, le=3600)
