"""What the hub signs for its edges: visitor-pass QR tokens, the guard booth's gate commands,
and requests for decision snapshots (`models.evidence`).

A token is ``AJ1.<kind>.<body>.<signature>``: the body is base64url JSON, and the Ed25519
signature (base64url) covers the ASCII text before the last dot, kind included, so a pass can
never be replayed as a command. The compound's issuer key stays on the hub; every edge holds
its public half and verifies offline. A QR code of a pass token is about 300 characters.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Literal, TypeVar
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, ValidationError, model_validator

from models.errors import ContractError
from models.events import Contract, Direction, Identifier, Text, UtcDatetime
from models.evidence import EvidenceRequest

PREFIX = "AJ1"
MAX_TOKEN_CHARS = 1024
TokenKind = Literal["pass", "cmd", "evid"]


class TokenError(ContractError):
    """Not a token, not signed by this compound's hub, or not of the expected kind."""

    reason = "bad_token"


class ForgedToken(TokenError):
    """Shaped like a token, but its signature is not the compound hub's."""

    reason = "forged_token"


class PassToken(Contract):
    """A visitor pass as its QR code carries it; the edge also checks the pass is not revoked."""

    pass_id: Identifier
    compound_id: Identifier
    valid_from: UtcDatetime
    valid_until: UtcDatetime
    max_entries: int = Field(ge=1)
    plate: str | None = Field(None, max_length=10)
    issued_at: UtcDatetime
    registry_version: int = Field(
        ge=0,
        description="The hub's registry version with this pass in it: an edge whose"
        " registry is at least this new and lacks the pass knows it was revoked",
    )

    @model_validator(mode="after")
    def _window(self) -> PassToken:
        if self.valid_until <= self.valid_from:
            raise ValueError("a pass ends after it starts")
        return self

    def window_contains(self, moment: datetime) -> bool:
        return self.valid_from <= moment < self.valid_until


GateAction = Literal["open", "deny", "emergency_open", "emergency_end"]


class GateCommand(Contract):
    """From the guard booth to one gate: open or deny (a person waiting), or hold a lane open
    in an emergency until `emergency_end`. Valid for `ADDRESSED_TTL_S` after `issued_at`."""

    command_id: UUID
    compound_id: Identifier
    edge_id: Identifier
    gate_id: Identifier
    direction: Direction = Direction.IN
    action: GateAction
    reason: Text = Field(min_length=3, max_length=300)
    issued_by: Identifier
    issued_at: UtcDatetime
    subject_id: Identifier | None = None
    pass_id: Identifier | None = None


ADDRESSED_TTL_S = 30.0  # a hub's token to one edge: a command, a request for a snapshot
Signed = TypeVar("Signed", PassToken, GateCommand, EvidenceRequest)
_KINDS: dict[type[Contract], TokenKind] = {
    PassToken: "pass",
    GateCommand: "cmd",
    EvidenceRequest: "evid",
}


def sign_token(claims: PassToken | GateCommand | EvidenceRequest, key: Ed25519PrivateKey) -> str:
    body = _b64(claims.model_dump_json().encode("utf-8"))
    signed = f"{PREFIX}.{_KINDS[type(claims)]}.{body}"
    return f"{signed}.{_b64(key.sign(signed.encode('ascii')))}"


def verify_token(token: str, kind: type[Signed], key: Ed25519PublicKey) -> Signed:
    """The claims of `token`, or TokenError saying what is wrong with it."""
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError(f"token of {len(token)} characters, the limit is {MAX_TOKEN_CHARS}")
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise TokenError("not an Anju token")
    if parts[1] != _KINDS[kind]:
        raise TokenError(f"a {parts[1]!r} token where a {_KINDS[kind]!r} token was expected")
    try:
        key.verify(_unb64(parts[3]), ".".join(parts[:3]).encode("ascii"))
    except (InvalidSignature, ValueError, UnicodeEncodeError) as exc:
        raise ForgedToken("the signature does not verify: forged, altered or foreign") from exc
    try:
        return kind.model_validate_json(_unb64(parts[2]))
    except (ValidationError, ValueError) as exc:
        raise TokenError(f"signed but unreadable claims: {exc}") from exc


Addressed = TypeVar("Addressed", GateCommand, EvidenceRequest)


def addressed_to(
    payload: bytes, kind: type[Addressed], key: Ed25519PublicKey, compound_id: str, edge_id: str
) -> Addressed:
    """The claims of a hub's token sent to one edge over MQTT, if it is signed by `key` and
    names this compound and edge; else TokenError saying why."""
    try:
        claims = verify_token(payload.decode("ascii"), kind, key)
    except UnicodeDecodeError as exc:
        raise TokenError("not a token") from exc
    if claims.compound_id != compound_id or claims.edge_id != edge_id:
        raise TokenError(f"a {_KINDS[kind]!r} token for another edge")
    return claims


def off_clock(claims: GateCommand | EvidenceRequest, now: datetime) -> str | None:
    """Why a hub's token to an edge is too old (or dated ahead) by the edge's clock `now`,
    more than `ADDRESSED_TTL_S` off; None when it is fresh."""
    skew = abs(now - claims.issued_at)
    if skew <= timedelta(seconds=ADDRESSED_TTL_S):
        return None
    return f"issued {skew.total_seconds():.0f} s off this edge's clock"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenError("token part is not base64url") from exc
