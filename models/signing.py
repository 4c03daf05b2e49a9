"""Per-edge Ed25519 signatures and the signed envelope events travel in.

The envelope carries the event's JSON text as a string, and the signature covers exactly those
bytes: no canonical-JSON step that two implementations could disagree on. Only the edge holds
its private key, so the hub (which knows only public keys) cannot forge an edge's events.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from models.errors import (
    BadSignature,
    ContractError,
    InvalidBody,
    MalformedPayload,
    PayloadTooLarge,
    UnknownVersion,
)
from models.events import KNOWN_VERSIONS, SCHEMA_VERSION, EdgeEvent, Identifier

MAX_PAYLOAD_BYTES = 64 * 1024

_EVENT_ADAPTER: TypeAdapter[EdgeEvent] = TypeAdapter(EdgeEvent)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int
    edge_id: Identifier
    body: str
    sig: str


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ContractError(f"cannot load signing key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ContractError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ContractError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ContractError("not an Ed25519 public key")
    return key


def seal(event: EdgeEvent, key: Ed25519PrivateKey) -> bytes:
    """The MQTT payload for `event`, signed by its edge."""
    return sign_body(event.position.edge_id, event.model_dump_json(), key)


def sign_body(edge_id: str, body: str, key: Ed25519PrivateKey) -> bytes:
    """`body` (JSON text) in an envelope signed by edge `edge_id`, as an MQTT payload: an
    event, or another message the edge vouches for (`models.evidence`)."""
    sig = base64.b64encode(key.sign(body.encode("utf-8"))).decode("ascii")
    envelope = Envelope(v=SCHEMA_VERSION, edge_id=edge_id, body=body, sig=sig)
    return envelope.model_dump_json().encode("utf-8")


def open_envelope(payload: bytes, limit: int = MAX_PAYLOAD_BYTES) -> Envelope:
    """Parse the outer envelope without trusting anything in it yet."""
    if len(payload) > limit:
        raise PayloadTooLarge(f"{len(payload)} bytes, the limit is {limit}")
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedPayload(f"not JSON: {exc}") from exc
    if isinstance(raw, dict) and isinstance(raw.get("v"), int) and raw["v"] not in KNOWN_VERSIONS:
        raise UnknownVersion(f"schema version {raw['v']} is not one this hub knows")
    try:
        return Envelope.model_validate(raw)
    except ValidationError as exc:
        raise MalformedPayload(f"not an envelope: {_first_error(exc)}") from exc


def verify(envelope: Envelope, public_key: Ed25519PublicKey) -> EdgeEvent:
    """Check the signature, then parse the body; the body must name the envelope's edge."""
    check_signature(envelope, public_key)
    try:
        event = _EVENT_ADAPTER.validate_json(envelope.body)
    except ValidationError as exc:
        raise InvalidBody(_first_error(exc)) from exc
    if event.position.edge_id != envelope.edge_id:
        raise InvalidBody("the body's edge_id differs from the envelope's")
    return event


def check_signature(envelope: Envelope, public_key: Ed25519PublicKey) -> None:
    """BadSignature unless `public_key` signed the envelope's body."""
    try:
        signature = base64.b64decode(envelope.sig, validate=True)
        public_key.verify(signature, envelope.body.encode("utf-8"))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise BadSignature(f"signature does not verify for edge {envelope.edge_id}") from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "payload"
    return f"{where}: {error['msg']}"
