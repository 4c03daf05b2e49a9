"""Passwords, session and edge tokens, PIN digests, and the encryption of secrets at rest.

Secrets at rest are encrypted with AES-GCM under the hub's secret keys (`ANJU_HUB_SECRET_KEYS`,
or the file named by `ANJU_HUB_SECRET_KEYS_FILE`): a comma-separated list of base64 keys of
32 bytes, the first one current. To rotate, put a new key first, keep the old ones after it,
run `python -m hub rotate-secrets` (which re-encrypts everything under the first key), then
drop the old keys.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from hub.errors import HubError
from models.pins import pin_digest

__all__ = [
    "PasswordCost",
    "SecretBox",
    "SecretError",
    "hash_password",
    "pin_digest",
    "token_digest",
]

_NONCE_BYTES = 12
_KEY_ID_BYTES = 4


class SecretError(HubError):
    """A secret cannot be decrypted with any configured key, or no key is configured."""


@dataclass(frozen=True)
class PasswordCost:
    """argon2id's parameters for new password hashes (the defaults are production's). A
    stored hash carries its own, so a hash made at any cost verifies under any other."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4

    def hasher(self) -> PasswordHash:
        return _hasher(self)


@functools.cache
def _hasher(cost: PasswordCost) -> PasswordHash:
    argon2 = Argon2Hasher(
        time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism
    )
    return PasswordHash((argon2,))


def hash_password(password: str, cost: PasswordCost) -> str:
    return cost.hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return PasswordCost().hasher().verify(password, password_hash)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are random and long: a plain SHA-256 is enough to keep them unusable at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SecretBox:
    """AES-GCM with a key ring: encrypts with the first key, decrypts with any."""

    keys: tuple[bytes, ...]

    @classmethod
    def from_config(cls, value: str) -> SecretBox:
        try:
            keys = tuple(base64.b64decode(k.strip(), validate=True) for k in value.split(","))
        except (binascii.Error, ValueError) as exc:
            raise SecretError("secret keys must be base64, separated by commas") from exc
        if not keys or any(len(k) != 32 for k in keys):
            raise SecretError("each secret key must be 32 bytes (base64 of 32 random bytes)")
        return cls(keys)

    @staticmethod
    def generate_key() -> str:
        return base64.b64encode(os.urandom(32)).decode()

    def encrypt(self, plaintext: bytes) -> bytes:
        key = self.keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        return _key_id(key) + nonce + AESGCM(key).encrypt(nonce, plaintext, None)

    def decrypt(self, sealed: bytes) -> bytes:
        key_id, nonce = sealed[:_KEY_ID_BYTES], sealed[_KEY_ID_BYTES : _KEY_ID_BYTES + _NONCE_BYTES]
        for key in self.keys:
            if hmac.compare_digest(_key_id(key), key_id):
                try:
                    return AESGCM(key).decrypt(nonce, sealed[_KEY_ID_BYTES + _NONCE_BYTES :], None)
                except InvalidTag as exc:
                    raise SecretError("a secret failed its integrity check") from exc
        raise SecretError("no configured key decrypts this secret (was a key dropped too early?)")

    def is_current(self, sealed: bytes) -> bool:
        return hmac.compare_digest(sealed[:_KEY_ID_BYTES], _key_id(self.keys[0]))

    def derived_keys(self, purpose: str) -> tuple[tuple[str, bytes], ...]:
        """For each key, the current first: its id (hex, as sealed secrets name it) and a key
        derived from it for `purpose` alone (HMAC-SHA256), so that no key serves two uses."""
        return tuple(
            (_key_id(key).hex(), hmac.new(key, purpose.encode(), hashlib.sha256).digest())
            for key in self.keys
        )


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:_KEY_ID_BYTES]
