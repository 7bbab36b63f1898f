"""How keys are stored, compared and shown: sha256, constant time, last four characters."""

from __future__ import annotations

import hashlib
import hmac


def sha256_hex(secret: str) -> str:
    """The hex sha256 a client key is stored as; the plain key is never kept."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Compare two digests in constant time, so timing reveals nothing."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))


def fingerprint(key: str) -> str:
    """What may be shown of a key: its last four characters (nothing of a short key)."""
    return f"...{key[-4:]}" if len(key) >= 12 else "..."
