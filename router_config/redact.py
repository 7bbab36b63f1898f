"""Scrubs secrets out of text that came from elsewhere (provider error messages).

Providers echo keys in errors ("Incorrect API key provided: sk-proj-...") and
those messages reach logs, Langfuse and, for a caller's own mistakes, the
caller. Every secret the config holds is replaced by its last four characters
(the fingerprint ``/health/providers`` shows), and so is anything else shaped
like an API key or a bearer token, for keys whose shape we cannot know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from router_config.config.schema import RouterConfig
from router_config.keyhash import fingerprint

# sk-..., sk-ant-..., pk-lf-..., rk_..., key-..., Bearer tokens, AWS-style AKIA ids.
_SECRET = re.compile(
    r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{8,}=*"
    r"|\b(?:sk|pk|rk|key|api)[-_][A-Za-z0-9_\-]{6,}"
    r"|\bAKIA[A-Z0-9]{12,}"
)


def redact(text: str) -> str:
    """``text`` with every key-shaped token replaced by ``...`` and its last four characters."""
    return _SECRET.sub(lambda m: fingerprint(m.group(0)), text)


class Redactor:
    """``redact`` plus the exact secrets of one config."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, fingerprint(secret))
        return redact(text)


def config_secrets(config: RouterConfig) -> list[str]:
    """Every secret value the config holds: provider keys, the master key, client keys,
    the Langfuse secret, and any litellm_params value named like a secret."""
    out = [k.get_secret_value() for d in config.deployments for k in d.api_keys]
    for dep in config.deployments:
        for name, value in dep.litellm_params.items():
            if isinstance(value, str) and re.search(r"key|secret|token|password", name, re.I):
                out.append(value)
    if config.master_key is not None:
        out.append(config.master_key.get_secret_value())
    out += [k.key for k in config.plugins.client_keys if k.key]
    if config.plugins.langfuse.secret_key:
        out.append(config.plugins.langfuse.secret_key)
    return out
