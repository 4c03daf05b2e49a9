"""PIN digests: how the hub stores a PIN and how an edge recognises it, with no PIN kept."""

from __future__ import annotations

import hashlib
import hmac


def pin_digest(key: bytes, pin: str) -> str:
    """HMAC-SHA-256 of the PIN under the compound's PIN key (given to its edges at enrolment)."""
    return hmac.new(key, pin.encode(), hashlib.sha256).hexdigest()
