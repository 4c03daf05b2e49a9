"""The registry as the source of truth: people and credentials, versioned for the edges.

Every change goes through `Changes`, which bumps the compound's registry version once per
transaction and logs what changed (`hub.audited.commit` commits it with its audit record);
`delta_since` turns that log into what an edge needs to go from the version it holds to the
current one.
"""

from __future__ import annotations

import base64
import itertools
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlmodel import Session, col, select

from hub.auth import Role
from hub.core.security import SecretBox, pin_digest
from hub.errors import Conflict, InvalidInput, NotFound
from hub.tables import (
    Card,
    Compound,
    FaceConsent,
    FaceTemplate,
    Person,
    Pin,
    Plate,
    RegistryChange,
    User,
    VisitorPass,
    WatchlistEntry,
    as_utc,
    utcnow,
)
from models.events import SubjectKind
from models.plates import PlateError
from models.plates import parse as parse_plate
from models.registry import (
    CardRecord,
    Change,
    FaceRecord,
    Op,
    PassRecord,
    PersonRecord,
    PinRecord,
    PlateRecord,
    Record,
    RecordKind,
    RegistryDelta,
    WatchlistRecord,
)

Row = Person | Card | Pin | Plate | VisitorPass | WatchlistEntry | FaceTemplate
_TABLES: dict[str, type[Row]] = {
    "person": Person,
    "card": Card,
    "pin": Pin,
    "plate": Plate,
    "pass": VisitorPass,
    "watchlist": WatchlistEntry,
    "face": FaceTemplate,
}


def create_compound(
    *,
    session: Session,
    compound_id: str,
    name: str,
    box: SecretBox,
    in_service_since: datetime | None = None,
) -> Compound:
    if session.get(Compound, compound_id) is not None:
        raise Conflict(f"compound {compound_id} exists")
    compound = Compound(
        id=compound_id,
        name=name,
        pin_pepper=box.encrypt(secrets.token_bytes(32)),
        # In UTC, as every stored time (SQLite keeps the wall clock it is given).
        in_service_since=as_utc(in_service_since) if in_service_since else utcnow(),
    )
    session.add(compound)
    return compound


def get_compound(*, session: Session, compound_id: str) -> Compound:
    compound = session.get(Compound, compound_id)
    if compound is None:
        raise NotFound(f"no compound {compound_id}")
    return compound


def pin_pepper(*, session: Session, compound_id: str, box: SecretBox) -> bytes:
    return box.decrypt(get_compound(session=session, compound_id=compound_id).pin_pepper)


@dataclass
class Changes:
    """Collects one transaction's registry changes; `commit_version` records them."""

    compound_id: str
    logged: list[tuple[RecordKind, str, Op]] = field(default_factory=list)

    def upsert(self, kind: RecordKind, record_id: str) -> None:
        self.logged.append((kind, record_id, Op.UPSERT))

    def delete(self, kind: RecordKind, record_id: str) -> None:
        self.logged.append((kind, record_id, Op.DELETE))

    def commit_version(self, session: Session) -> int:
        """Bump the version once for everything logged (the row lock orders writers)."""
        compound = session.exec(
            select(Compound).where(col(Compound.id) == self.compound_id).with_for_update()
        ).one()
        if not self.logged:
            return compound.registry_version
        compound.registry_version += 1
        now = utcnow()
        for kind, record_id, op in self.logged:
            session.add(
                RegistryChange(
                    compound_id=self.compound_id,
                    version=compound.registry_version,
                    record_kind=kind,
                    record_id=record_id,
                    op=op.value,
                    at=now,
                )
            )
        session.add(compound)
        return compound.registry_version


def unlink_accounts(*, session: Session, person: Person, moved_out: bool = False) -> None:
    """Accounts that may no longer name `person` as their holder stop naming them: all of
    them when the person moves out (the accounts stay until staff close them), a resident's
    when the person no longer lives in its unit."""
    for user in session.exec(select(User).where(col(User.person_id) == person.id)):
        if moved_out or (user.role == Role.RESIDENT and user.unit_id != person.unit_id):
            user.person_id = None
            session.add(user)


def delete_person(*, session: Session, person: Person, changes: Changes) -> None:
    """Move-out: the person, every credential of theirs and their face templates and consent
    records leave the registry (the audit log keeps who did what, when)."""
    for kind in ("card", "pin", "plate", "face"):
        table = _TABLES[kind]
        query = select(table).where(col(table.person_id) == person.id)  # type: ignore[union-attr]
        for row in _rows(session.exec(query)):
            session.delete(row)
            changes.delete(kind, row.id)
    session.flush()
    for consent in session.exec(select(FaceConsent).where(col(FaceConsent.person_id) == person.id)):
        session.delete(consent)
    unlink_accounts(session=session, person=person, moved_out=True)
    session.flush()
    session.delete(person)
    changes.delete("person", person.id)


def withdraw_face_consent(
    *, session: Session, person: Person, changes: Changes, now: datetime
) -> int:
    """Consent withdrawn: the person's templates are deleted (on the hub now, on the edges
    with this change); the consent records stay, marked withdrawn. How many were deleted."""
    templates = session.exec(select(FaceTemplate).where(col(FaceTemplate.person_id) == person.id))
    deleted = 0
    for template in templates:
        session.delete(template)
        changes.delete("face", template.id)
        deleted += 1
    consents = session.exec(
        select(FaceConsent).where(
            col(FaceConsent.person_id) == person.id, col(FaceConsent.withdrawn_at).is_(None)
        )
    )
    for consent in consents:
        consent.withdrawn_at = now
        session.add(consent)
    return deleted


def delta_since(
    *, session: Session, compound_id: str, since: int, box: SecretBox | None = None
) -> RegistryDelta:
    """`box` decrypts face templates; without it the delta carries none (a caller that
    cannot decrypt gets the rest of the registry)."""
    compound = get_compound(session=session, compound_id=compound_id)
    current = compound.registry_version
    if since <= 0 or since > current:
        return _snapshot(session, compound_id, current, box)
    latest: dict[tuple[str, str], str] = {}
    rows = session.exec(
        select(RegistryChange)
        .where(col(RegistryChange.compound_id) == compound_id, col(RegistryChange.version) > since)
        .order_by(col(RegistryChange.id))
    )
    for row in rows:
        latest[(row.record_kind, row.record_id)] = row.op
    changes = [
        change
        for (kind, record_id) in latest
        if kind != "face_policy"  # derived from the faces: computed below
        and (change := _change(session, compound_id, kind, record_id, box)) is not None
    ]
    if box is not None and any(kind in ("face", "face_policy") for kind, _ in latest):
        changes.extend(_face_policies(session, compound, box))
    return RegistryDelta(
        compound_id=compound_id, from_version=since, to_version=current, changes=changes
    )


def _snapshot(
    session: Session, compound_id: str, version: int, box: SecretBox | None
) -> RegistryDelta:
    changes: list[Change] = []
    for kind, table in _TABLES.items():
        if kind == "face" and box is None:
            continue
        for row in _rows(session.exec(select(table).where(col(table.compound_id) == compound_id))):
            if _live(row):
                changes.append(_upsert(kind, to_record(row, box)))  # type: ignore[arg-type]
    if box is not None:
        compound = get_compound(session=session, compound_id=compound_id)
        changes.extend(_face_policies(session, compound, box))
    return RegistryDelta(
        compound_id=compound_id, from_version=0, to_version=version, changes=changes
    )


def _change(
    session: Session, compound_id: str, kind: str, record_id: str, box: SecretBox | None
) -> Change | None:
    row = get_row(session, kind, record_id)
    # Ids are global keys: a row that now belongs to another compound is gone from this one.
    if row is None or row.compound_id != compound_id or not _live(row):
        return Change(op=Op.DELETE, record_kind=kind, id=record_id)
    if kind == "face" and box is None:
        return None
    return _upsert(kind, to_record(row, box))  # type: ignore[arg-type]


def _face_policies(session: Session, compound: Compound, box: SecretBox) -> list[Change]:
    """The risk gate of each engine's gallery, computed from the templates as they are now
    (a derived record: it changes whenever a face does)."""
    from hub.faces import face_policies  # noqa: PLC0415 (hub.faces enrols through this module)

    return [
        _upsert("face_policy", policy)
        for policy in face_policies(session=session, compound=compound, box=box)
    ]


def _upsert(kind: RecordKind, record: Record) -> Change:
    return Change(op=Op.UPSERT, record_kind=kind, id=record.id, record=record)


def table_for(kind: str) -> type[Row]:
    return _TABLES[kind]


def get_row(session: Session, kind: str, record_id: str) -> Row | None:
    """One row of a registry table (select() and get() cannot type a union of tables)."""
    return cast(Row | None, session.get(_TABLES[kind], record_id))


def _rows(result: Iterable[Any]) -> list[Row]:
    return cast(list[Row], list(result))


def _live(row: Row) -> bool:
    return not (isinstance(row, VisitorPass) and row.revoked_at is not None)


def to_record(row: Row, box: SecretBox | None = None) -> Record:  # noqa: PLR0911 (a case a table)
    """What an edge needs of a row, and no more: no names, no reasons leave the hub."""
    if isinstance(row, FaceTemplate):
        return _face_record(row, box)
    match row:
        case Person():
            return PersonRecord(id=row.id, subject_kind=SubjectKind(row.kind), unit_id=row.unit_id)
        case Card():
            return CardRecord(
                id=row.id,
                person_id=row.person_id,
                number=row.number,
                valid_from=_utc(row.valid_from),
                valid_until=_utc(row.valid_until),
            )
        case Pin():
            return PinRecord(
                id=row.id, person_id=row.person_id, digest=row.digest, duress=row.duress
            )
        case Plate():
            return PlateRecord(id=row.id, person_id=row.person_id, number=row.number)
        case VisitorPass():
            return PassRecord(
                id=row.id,
                unit_id=row.unit_id,
                valid_from=as_utc(row.valid_from),
                valid_until=as_utc(row.valid_until),
                max_entries=row.max_entries,
                plate=row.plate,
            )
    return WatchlistRecord(id=row.id, target=row.kind, value=row.value, action=row.action)


def _face_record(row: FaceTemplate, box: SecretBox | None) -> FaceRecord:
    if box is None:
        raise ValueError("a face template needs the secret keys to be read")
    text = base64.b64encode(box.decrypt(row.template)).decode("ascii")
    return FaceRecord(id=row.id, person_id=row.person_id, engine=row.engine, template=text)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


class PinRefused(Conflict):
    """A PIN that cannot be given. The answer never says why: that it is someone else's
    (PINs are one per compound) must not be learnt by trying them."""

    def __init__(self) -> None:
        super().__init__(
            "this PIN cannot be given (too easy to guess, or not free): choose another"
        )


def guessable_pin(pin: str) -> bool:
    """One digit repeated, or a run up or down (1234, 9876): the first PINs anyone tries."""
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def new_pin(
    *, session: Session, box: SecretBox, person: Person, pin: str, pin_id: str, duress: bool = False
) -> Pin:
    """The person's new PIN; `PinRefused` for a guessable one or one already given (the same
    answer for both)."""
    digest = pin_digest(pin_pepper(session=session, compound_id=person.compound_id, box=box), pin)
    taken = session.exec(
        select(Pin).where(col(Pin.compound_id) == person.compound_id, col(Pin.digest) == digest)
    ).first()
    if taken is not None or guessable_pin(pin):
        raise PinRefused
    return Pin(
        id=pin_id, compound_id=person.compound_id, person_id=person.id, digest=digest, duress=duress
    )


def people_of_unit(*, session: Session, unit_id: str) -> Sequence[Person]:
    return session.exec(select(Person).where(col(Person.unit_id) == unit_id)).all()


def plate_number(text: str) -> str:
    """The normalised number of a plate given through the API; InvalidInput if it is none."""
    try:
        return parse_plate(text).number
    except PlateError as exc:
        raise InvalidInput(str(exc)) from exc
