"""Helpers for tests of shared state: a replica's ``/health/shared-state`` and waiting until
every replica's spend journal is confirmed by Redis (entries go in batches)."""

from __future__ import annotations

from typing import Any

import httpx


def shared_state(gateway: Any) -> dict[str, Any]:
    """``GET /health/shared-state`` of a gateway started by the ``serve`` fixture."""
    answer = httpx.get(f"{gateway.base_url}/health/shared-state", timeout=10)
    return dict(answer.json())


def settled(*gateways: Any) -> bool:
    """Redis is reachable from every replica and has every entry of their journals."""
    states = [shared_state(g) for g in gateways]
    return all(s["redis"]["reachable"] and s["journal"]["pending"] == 0 for s in states)
