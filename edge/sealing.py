"""What the edge keeps on disk that it must not show to whoever takes the disk (the registry
snapshot with its face templates, decision snapshots) is sealed with the edge's key: AES-256
in GCM mode, a fresh nonce each time, tagged so that a sealed file is told from a plain one."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED = b"AJR1"
PARTIAL = ".partial"  # a file being written; one left behind was cut short


class SealError(ValueError):
    """Sealed data without the key, with another key, or altered."""


def seal(data: bytes, key: bytes | None, context: bytes = b"") -> bytes:
    """`data` sealed with `key`, bound to `context` (what it is, e.g. which event's picture:
    it cannot be passed off as something else); as it is when there is no key."""
    if key is None:
        return data
    nonce = os.urandom(12)
    return SEALED + nonce + AESGCM(key).encrypt(nonce, data, SEALED + context)


def unseal(data: bytes, key: bytes | None, context: bytes = b"", *, strict: bool = False) -> bytes:
    """What `seal` was given with `context`; data that was never sealed comes back as it is,
    unless `strict` (where nothing may ever be kept in the clear)."""
    if not data.startswith(SEALED):
        if strict:
            raise SealError("the data is not sealed")
        return data
    if key is None:
        raise SealError("the data is sealed and this edge has no key")
    try:
        return AESGCM(key).decrypt(data[4:16], data[16:], SEALED + context)
    except InvalidTag as exc:
        raise SealError(
            "the data was sealed with another key or for another use, or altered"
        ) from exc


def write_private(path: Path, data: bytes) -> None:
    """`data` to `path` whole or not at all, even across a power cut (written beside it,
    synced, then renamed), readable by this user only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(path.name + PARTIAL)
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
