"""The compound's issuer key: the hub signs visitor-pass QR tokens, guard-booth gate
commands and requests for decision snapshots with it; every edge holds its public half (from
its provisioning bundle) and verifies offline. The private key is kept encrypted with the
hub's secret keys, made on first use."""

from __future__ import annotations

from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from hub.core.security import SecretBox
from hub.registry import get_compound
from hub.tables import VisitorPass, as_utc
from models.evidence import EvidenceRequest
from models.signing import generate_key, private_key_pem, public_key_pem
from models.tokens import GateCommand, PassToken, sign_token


def issuer_key(*, session: Session, compound_id: str, box: SecretBox) -> Ed25519PrivateKey:
    """The compound's key; made (and added to `session`, for the caller to commit) if new."""
    compound = get_compound(session=session, compound_id=compound_id)
    if compound.issuer_key is None:
        key = generate_key()
        compound.issuer_key = box.encrypt(private_key_pem(key))
        session.add(compound)
        return key
    loaded = serialization.load_pem_private_key(box.decrypt(compound.issuer_key), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise TypeError(f"compound {compound_id}: the issuer key is not Ed25519")
    return loaded


def issuer_public_pem(*, session: Session, compound_id: str, box: SecretBox) -> str:
    return public_key_pem(issuer_key(session=session, compound_id=compound_id, box=box))


def pass_token(*, session: Session, row: VisitorPass, box: SecretBox, now: datetime) -> str:
    """Call once the pass is committed with the registry version that carries it."""
    compound = get_compound(session=session, compound_id=row.compound_id)
    claims = PassToken(
        pass_id=row.id,
        compound_id=row.compound_id,
        valid_from=as_utc(row.valid_from),
        valid_until=as_utc(row.valid_until),
        max_entries=row.max_entries,
        plate=row.plate,
        issued_at=now,
        registry_version=compound.registry_version,
    )
    return sign_token(claims, issuer_key(session=session, compound_id=row.compound_id, box=box))


def sign_for_edge(
    *, session: Session, box: SecretBox, claims: GateCommand | EvidenceRequest
) -> str:
    """What the hub asks of one edge: a guard's command to a gate, or a snapshot it keeps."""
    key = issuer_key(session=session, compound_id=claims.compound_id, box=box)
    return sign_token(claims, key)
