"""Builders for valid contract objects, so each test states only what it is about."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from edge.config import CameraSection
from harness.compound import Resident
from models.events import (
    AlarmEvent,
    Credential,
    Decision,
    Direction,
    EntryEvent,
    Method,
    Outcome,
    Position,
    Severity,
    Subject,
    SubjectKind,
)
from models.registry import CardRecord, Change, Op, PersonRecord, RegistryDelta


def position(edge_id: str = "edge-1", epoch: uuid.UUID | None = None, seq: int = 1) -> Position:
    return Position(edge_id=edge_id, epoch=epoch or uuid.uuid4(), seq=seq)


def entry(
    pos: Position | None = None,
    *,
    compound_id: str = "c1",
    gate_id: str = "east-gate",
    direction: Direction = Direction.IN,
    subject_id: str | None = "p-1",
    kind: SubjectKind = SubjectKind.RESIDENT,
    method: Method = Method.CARD,
    outcome: Outcome = Outcome.GRANTED,
    at: datetime | None = None,
    reference: str | None = "1001",
    lane: str = "pedestrian-in",
    reason_code: str = "card_valid",
    flags: tuple[str, ...] = (),
) -> EntryEvent:
    return EntryEvent(
        event_id=uuid.uuid4(),
        position=pos or position(),
        compound_id=compound_id,
        gate_id=gate_id,
        lane=lane,
        direction=direction,
        occurred_at=at or datetime.now(UTC),
        subject=Subject(kind=kind, id=subject_id),
        credential=Credential(method=method, reference=reference),
        decision=Decision(
            outcome=outcome, reason_code=reason_code, reason="Registered card.", flags=flags
        ),
    )


def alarm(pos: Position | None = None, *, compound_id: str = "c1") -> AlarmEvent:
    return AlarmEvent(
        event_id=uuid.uuid4(),
        position=pos or position(),
        compound_id=compound_id,
        occurred_at=datetime.now(UTC),
        code="outbox_filling",
        severity=Severity.WARNING,
        text="Outbox 80% full.",
    )


def registry_snapshot(compound_id: str, people: Sequence[Resident]) -> RegistryDelta:
    """A full registry for an edge that runs without a hub (from a file)."""
    changes: list[Change] = []
    for person in people:
        record = PersonRecord(id=person.person_id, subject_kind=person.kind, unit_id=person.unit_id)
        card = CardRecord(
            id=f"card-{person.card}", person_id=person.person_id, number=str(person.card)
        )
        changes.append(Change(op=Op.UPSERT, record_kind="person", id=record.id, record=record))
        changes.append(Change(op=Op.UPSERT, record_kind="card", id=card.id, record=card))
    return RegistryDelta(compound_id=compound_id, from_version=0, to_version=1, changes=changes)


def pushing_camera(password: str, camera_id: str = "cam-door") -> CameraSection:
    """A face camera at the east door that pushes its snapshots with `password`."""
    return CameraSection(
        id=camera_id,
        source="push",
        kind="face",
        gate_id="east-gate",
        lane="pedestrian-in",
        direction=Direction.IN,
        password_sha256=hashlib.sha256(password.encode()).hexdigest(),
    )


def blue_plate_scene(text: str) -> np.ndarray:
    """A camera's scene, drawn: a grey street, stripes of plate yellow that are not a plate,
    and a blue plate reading `text` at (220, 200), 201 x 65 px."""
    scene = np.full((360, 640, 3), 90, dtype=np.uint8)
    scene[:, ::40] = (0, 200, 255)
    cv2.rectangle(scene, (220, 200), (420, 264), (170, 70, 10), -1)
    cv2.putText(scene, text, (232, 248), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3)
    return scene


# A real scene (EasyPR) with one yellow plate, and where the plate is: 176 x 57 px at (198, 139).
UNCOLOURED_SCENE = "plates/EasyPR/resources/image/general_test/浙A12903.jpg"
UNCOLOURED_PLATE = (106, 107, 184, 65)  # x, y, width, height


def uncoloured_plate_scene(fixtures_dir: Path, *, black: bool) -> np.ndarray:
    """The scene with its plate made white with dark characters (a police or WJ plate) or,
    `black`, black with light ones (a 港/澳 plate): no plate colour is left in it."""
    scene = cv2.imread(str(fixtures_dir / UNCOLOURED_SCENE))
    assert scene is not None, UNCOLOURED_SCENE
    x, y, width, height = UNCOLOURED_PLATE
    grey = cv2.cvtColor(scene[y : y + height, x : x + width], cv2.COLOR_BGR2GRAY)
    recoloured = 255 - grey if black else grey  # the yellow plate's grey is light
    scene[y : y + height, x : x + width] = cv2.cvtColor(recoloured, cv2.COLOR_GRAY2BGR)
    return scene
