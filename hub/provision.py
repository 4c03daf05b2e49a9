"""Enrolling an edge: one command makes everything it needs and registers it with the hub.

The bundle holds the edge's signing key (made here, never stored by the hub: the hub keeps only
the public half), its HTTPS token (the hub keeps its SHA-256), its MQTT user and password (the
hub keeps nothing; a Mosquitto password-file line is written beside it for the broker), the
compound's PIN key, a key that encrypts its registry snapshot on disk (the hub keeps nothing),
the public half of the compound's issuer key (QR passes and gate commands verify against
it), and an edge.toml with its readers.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlmodel import Session

from hub import crud, issuer, registry
from hub.core.security import SecretBox, new_token, token_digest
from hub.errors import InvalidInput
from models.signing import generate_key, private_key_pem, public_key_pem


@dataclass(frozen=True)
class ReaderSpec:
    gate_id: str
    lane: str
    direction: str
    port: int

    @classmethod
    def parse(cls, text: str) -> ReaderSpec:
        """GATE:LANE:in|out:PORT"""
        parts = text.split(":")
        if len(parts) != 4 or parts[2] not in ("in", "out") or not parts[3].isdigit():
            raise InvalidInput(f"reader {text!r}: expected GATE:LANE:in|out:PORT")
        return cls(parts[0], parts[1], parts[2], int(parts[3]))


@dataclass(frozen=True)
class EdgeBundle:
    directory: Path
    mqtt_username: str
    mosquitto_password_line: str


def provision_edge(
    *,
    session: Session,
    box: SecretBox,
    compound_id: str,
    edge_id: str,
    out: Path,
    hub_url: str,
    mqtt_url: str,
    readers: list[ReaderSpec],
    topic_prefix: str = "anju",
    hub_ca: bytes | None = None,
) -> EdgeBundle:
    """Register the edge and write its bundle to `out`; `hub_ca`, the CA that signed the
    hub's HTTPS certificate (a compound's own), goes in as hub-ca.pem."""
    check_edge_id(edge_id)
    pepper = registry.pin_pepper(session=session, compound_id=compound_id, box=box)
    issuer_pem = issuer.issuer_public_pem(session=session, compound_id=compound_id, box=box)
    key = generate_key()
    token = new_token()
    edge = crud.register_edge(
        session=session, edge_id=edge_id, compound_id=compound_id, public_key=public_key_pem(key)
    )
    edge.token_hash = token_digest(token)
    session.add(edge)
    password = secrets.token_urlsafe(24)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    _secret(out / "signing-key.pem", private_key_pem(key))
    _secret(out / "hub-token", token.encode())
    _secret(out / "pin-key", base64.b64encode(pepper))
    _secret(out / "registry-key", base64.b64encode(secrets.token_bytes(32)))
    (out / "issuer-key.pub").write_text(issuer_pem, encoding="ascii")
    if hub_ca is not None:
        (out / HUB_CA).write_bytes(hub_ca)
    line = mosquitto_password_line(edge_id, password)
    (out / "mosquitto-passwd").write_text(line + "\n", encoding="ascii")
    mqtt = _with_credentials(mqtt_url, edge_id, password)
    config = _edge_toml(
        edge_id=edge_id,
        compound_id=compound_id,
        hub_url=hub_url,
        mqtt_url=mqtt,
        topic_prefix=topic_prefix,
        readers=readers,
        hub_ca=hub_ca is not None,
    )
    _secret(out / "edge.toml", config.encode())
    session.commit()
    return EdgeBundle(out, edge_id, line)


HUB_CA = "hub-ca.pem"
EDGE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
RESERVED_USERS = ("anju-hub", "anju-officers")  # the broker's other users (deploy/mosquitto)


def check_edge_id(edge_id: str) -> None:
    """An edge id is its MQTT user name and a segment of its topics: lower-case letters,
    digits, `_`, `.`, `-`; never a name the broker's ACL gives other rights."""
    if not EDGE_ID.match(edge_id):
        raise InvalidInput(
            f"edge id {edge_id!r}: lower-case letters, digits, '_', '.' and '-', at most 64"
        )
    if edge_id in RESERVED_USERS or edge_id.startswith("bridge-"):
        raise InvalidInput(f"edge id {edge_id!r} is reserved for the broker's own users")


def mosquitto_password_line(username: str, password: str) -> str:
    """A line for Mosquitto's password_file (PBKDF2-SHA512, its `$7$` format)."""
    salt = os.urandom(12)
    iterations = 101
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"{username}:$7${iterations}${encoded[0]}${encoded[1]}"


def _secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _with_credentials(url: str, username: str, password: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    netloc = f"{username}:{password}@{parts.hostname}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _edge_toml(
    *,
    edge_id: str,
    compound_id: str,
    hub_url: str,
    mqtt_url: str,
    topic_prefix: str,
    readers: list[ReaderSpec],
    hub_ca: bool,
) -> str:
    text = (
        f'edge_id = "{edge_id}"\ncompound_id = "{compound_id}"\n'
        'signing_key = "signing-key.pem"\nregistry_path = "registry.json"\n'
        'registry_key_file = "registry-key"\n'
        f'\n[mqtt]\nurl = "{mqtt_url}"\ntopic_prefix = "{topic_prefix}"\n'
        f'\n[hub]\nurl = "{hub_url}"\ntoken_file = "hub-token"\npin_key_file = "pin-key"\n'
        'issuer_key_file = "issuer-key.pub"\n'
        + (f'ca_file = "{HUB_CA}"\n' if hub_ca else "")
        + '\n[outbox]\npath = "outbox.sqlite"\n'
    )
    for reader in readers:
        text += (
            f'\n[[readers]]\ntype = "wiegand_tcp"\nlisten_port = {reader.port}\n'
            f'gate_id = "{reader.gate_id}"\nlane = "{reader.lane}"\n'
            f'direction = "{reader.direction}"\n'
        )
    return text
