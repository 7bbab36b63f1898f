"""What is particular to embedding calls: which go direct, and base64 vectors through LiteLLM.

A plain embeddings request to an ``openai/`` deployment (OpenAI or an
OpenAI-compatible server) is sent by LiteLLM as the caller wrote it:
``{"model", "input", "user", "encoding_format", "dimensions"}``, except that it
drops ``dimensions`` for models other than ``text-embedding-3-*`` (with
``drop_params``, our default). Such requests go direct like plain chat;
tests/test_direct_calls_match_litellm.py compares what the provider receives.

LiteLLM types each vector as a list of floats: a base64 vector makes its
response model warn (an error under ``-W error``). So through LiteLLM we ask for
floats and encode them as OpenAI does (little-endian float32, base64); the
provider's floats are float32 values, so the bytes are the same.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

from router_config.config.schema import Deployment

_PLAIN_PARAMS = frozenset({"input", "user", "encoding_format", "dimensions"})


def is_plain_embedding(deployment: Deployment, params: Mapping[str, Any]) -> bool:
    """True when LiteLLM would send this request to this deployment unchanged."""
    if deployment.provider != "openai" or not params.keys() <= _PLAIN_PARAMS:
        return False
    # LiteLLM drops (or refuses) dimensions for other models: its rule, so its path.
    return "dimensions" not in params or "text-embedding-3" in deployment.pinned_model


def without_base64(params: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The parameters to give LiteLLM, and whether the caller asked for base64 vectors."""
    out = dict(params)
    wants = out.get("encoding_format") == "base64"
    if wants:
        del out["encoding_format"]
    return out, wants


def as_base64(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with each float vector encoded as OpenAI's base64 (float32, little-endian)."""
    for item in body.get("data") or ():
        vector = item.get("embedding")
        if isinstance(vector, list):
            packed = struct.pack(f"<{len(vector)}f", *vector)
            item["embedding"] = base64.b64encode(packed).decode()
    return body
