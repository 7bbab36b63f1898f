"""Scrubs secrets out of text that came from elsewhere (provider error messages).

Providers echo keys in errors ("Incorrect API key provided: sk-proj-...") and
those messages reach logs, Langfuse and, for a caller's own mistakes, the
caller. Every secret the config holds is replaced by its last four characters
(the fingerprint ``/health/providers`` shows), and so is any run of 8 or more of
its leading characters (providers echo a key cut short: the first 18 of 30),
and anything else shaped like an API key or a bearer token, for keys whose
shape we cannot know.
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


# The shortest run of a secret's leading characters that counts as an echo of it.
ECHO_CHARS = 8


class Redactor:
    """``redact`` plus the secrets of one config, whole or any echo of their beginning."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= ECHO_CHARS}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret[:ECHO_CHARS] in text:
                text = _without_echoes(text, secret)
        return redact(text)


def _without_echoes(text: str, secret: str) -> str:
    """``text`` with every run of ``secret``'s leading characters (``ECHO_CHARS`` or more,
    up to the whole secret) replaced by its fingerprint."""
    head, mark = secret[:ECHO_CHARS], fingerprint(secret)
    start = text.find(head)
    while start != -1:
        end = start + ECHO_CHARS
        while end < len(text) and end - start < len(secret) and text[end] == secret[end - start]:
            end += 1
        text = text[:start] + mark + text[end:]
        start = text.find(head, start + len(mark))
    return text


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
    if config.plugins.server.metrics_key:
        out.append(config.plugins.server.metrics_key)
    return out
