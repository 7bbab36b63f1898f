"""Scrubs secrets out of text that came from elsewhere (provider error messages).

Providers echo keys in errors ("Incorrect API key provided: sk-proj-...") and
those messages reach logs, Langfuse and, for a caller's own mistakes, the
caller. Anything shaped like an API key or a bearer token is cut down to its
last four characters, the same fingerprint ``/health/providers`` shows.
"""

from __future__ import annotations

import re

# sk-..., sk-ant-..., pk-lf-..., rk_..., key-..., Bearer tokens, AWS-style AKIA ids.
_SECRET = re.compile(
    r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{8,}=*"
    r"|\b(?:sk|pk|rk|key|api)[-_][A-Za-z0-9_\-]{6,}"
    r"|\bAKIA[A-Z0-9]{12,}"
)


def redact(text: str) -> str:
    """``text`` with every key-shaped token replaced by ``...`` and its last four characters."""
    return _SECRET.sub(lambda m: f"...{m.group(0)[-4:]}" if len(m.group(0)) >= 12 else "...", text)
