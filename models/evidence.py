"""Decision snapshots: what crosses between hub and edge when staff ask to see one.

A snapshot stays on the edge that made the decision (docs/evidence.md). To show one, the
hub sends that edge an `EvidenceRequest`, a token signed with the compound's issuer key (as
gate commands are, `models.tokens`), and the edge answers with an `EvidenceReply` in an
envelope signed with its own key (as its events are, `models.signing`): the hub shows only
a picture that edge vouches for, and an edge sends one only when its hub asked.
"""

from __future__ import annotations

from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ConfigDict, Field, ValidationError

from models.errors import BadSignature, InvalidBody
from models.events import Contract, Identifier, UtcDatetime
from models.signing import check_signature, open_envelope, sign_body

# What an edge keeps of one decision, and sends: a reply stays well under a district EMQX
# cluster's default packet limit (1 MB) and crosses a slow uplink within the hub's wait.
MAX_SNAPSHOT_BYTES = 384 * 1024
MAX_REPLY_BYTES = MAX_SNAPSHOT_BYTES * 4 // 3 + 4096  # base64, and the envelope around it
SNAPSHOT_FLAG = "snapshot"  # in an entry event's decision flags: its edge kept a snapshot


class EvidenceRequest(Contract):
    """From the hub to one edge: send the snapshot of entry `event_id`, for `issued_by`."""

    request_id: UUID
    compound_id: Identifier
    edge_id: Identifier
    event_id: UUID
    issued_by: Identifier
    issued_at: UtcDatetime


class EvidenceReply(Contract):
    """From the edge: the JPEG (base64 in JSON), or why there is none (never kept, or past
    its retention)."""

    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    request_id: UUID
    event_id: UUID
    edge_id: Identifier
    jpeg: bytes | None = Field(None, max_length=MAX_SNAPSHOT_BYTES)
    missing: str | None = Field(None, max_length=200)


def seal_reply(reply: EvidenceReply, key: Ed25519PrivateKey) -> bytes:
    """The MQTT payload for `reply`, signed by its edge."""
    return sign_body(reply.edge_id, reply.model_dump_json(), key)


def open_reply(payload: bytes, key: Ed25519PublicKey, edge_id: str) -> EvidenceReply:
    """The reply in `payload` if `edge_id` signed it, else a ContractError saying why."""
    envelope = open_envelope(payload, MAX_REPLY_BYTES)
    if envelope.edge_id != edge_id:
        raise BadSignature(f"a reply from {envelope.edge_id} on {edge_id}'s topic")
    check_signature(envelope, key)
    try:
        reply = EvidenceReply.model_validate_json(envelope.body)
    except ValidationError as exc:
        raise InvalidBody(f"not an evidence reply: {str(exc)[:200]}") from exc
    if reply.edge_id != edge_id:
        raise InvalidBody("the reply's edge_id differs from the envelope's")
    return reply
