"""Bulk import of residents, their units, cards and plates from CSV (and of the face-consent
forms that `enrol-faces` records, one per person).

Columns: building, unit, person_id, name, kind (resident, staff or visitor), cards and plates
(several separated by `;`). Every row is checked before anything is written; a file with a
rejected row imports nothing, unless `skip_bad_rows` is set. One registry version covers the
whole import, so edges pull it as one delta.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from hub.registry import Changes, get_compound
from hub.tables import Building, Card, Person, Plate, Unit
from hub.tables.registry import MAX_DOCUMENT_REF
from models.events import SubjectKind, has_control_characters
from models.plates import PlateError, parse

COLUMNS = ("building", "unit", "person_id", "name", "kind", "cards", "plates")
CONSENT_COLUMNS = ("person_id", "document_ref")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CARD = re.compile(r"^[0-9]{1,20}$")
_KINDS = {k.value for k in SubjectKind if k is not SubjectKind.UNKNOWN}


class CsvError(Exception):
    """The file itself cannot be read as the expected CSV."""


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    committed: bool = False
    version: int | None = None


@dataclass(frozen=True)
class _Row:
    line: int
    building: str
    unit: str
    person_id: str
    name: str
    kind: str
    cards: tuple[str, ...]
    plates: tuple[str, ...]


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]


@dataclass
class _Seen:
    """What is taken: in this compound (ids, cards, plates, each unit's building), and ids
    that other compounds use (ids are global keys)."""

    people: set[str]
    cards: set[str]
    plates: set[str]
    units: dict[str, str]
    foreign: set[str]


def numbered(rows: Iterable[dict[str, str]]) -> list[CsvRow]:
    """Rows as a header-led file would number them."""
    return [CsvRow(index + 2, values) for index, values in enumerate(rows)]


def read_rows(path: Path, columns: Sequence[str] = COLUMNS) -> list[CsvRow]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(columns) - set(reader.fieldnames or ())
            if missing:
                raise CsvError(f"{path}: missing columns {', '.join(sorted(missing))}")
            return [CsvRow(reader.line_num, values) for values in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvError(f"cannot read {path}: {exc}") from exc


def read_consent_forms(path: Path) -> dict[str, str]:
    """Each person's signed face-consent form: a CSV with the columns person_id and
    document_ref (where the property office files the form). A row without both, an id
    that is not one, a reference longer than the consent record keeps or holding control
    characters, or a person listed twice refuses the whole file."""
    forms: dict[str, str] = {}
    for row in read_rows(path, CONSENT_COLUMNS):
        person = (row.values.get("person_id") or "").strip()
        document = (row.values.get("document_ref") or "").strip()
        problem = _consent_problem(person, document, forms)
        if problem:
            raise CsvError(f"{path}, line {row.line}: {problem}")
        forms[person] = document
    return forms


def _consent_problem(person: str, document: str, forms: dict[str, str]) -> str | None:
    if not _IDENTIFIER.match(person):
        return f"{person!r} is not a person id"
    if person in forms:
        return f"{person} is listed twice"
    if not document:
        return f"no form reference for {person}"
    if len(document) > MAX_DOCUMENT_REF:
        return f"the form reference for {person} is over {MAX_DOCUMENT_REF} characters"
    if has_control_characters(document):
        return f"the form reference for {person} holds control characters"
    return None


def import_residents(
    *,
    session: Session,
    compound_id: str,
    rows: Sequence[CsvRow],
    skip_bad_rows: bool = False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ImportReport:
    get_compound(session=session, compound_id=compound_id)
    raw = list(rows)
    report = ImportReport(rows=len(raw))
    seen = _existing(session, compound_id, raw)
    good: list[_Row] = []
    for index, row in enumerate(raw):
        try:
            good.append(_check(row.line, row.values, seen))
        except ValueError as exc:
            report.rejected.append(Rejected(row.line, str(exc)))
        if index % 500 == 0:
            progress(index, len(raw))
    progress(len(raw), len(raw))
    if report.rejected and not skip_bad_rows:
        return report
    report.version = _write(session, compound_id, good)
    session.commit()
    report.imported = len(good)
    report.committed = True
    return report


def _existing(session: Session, compound_id: str, rows: Sequence[CsvRow]) -> _Seen:
    def mine(column: object, table: type) -> set[str]:
        query = select(column).where(col(table.compound_id) == compound_id)  # type: ignore[call-overload,attr-defined]
        return set(session.exec(query))

    named = {
        (r.values.get(n) or "").strip() for r in rows for n in ("building", "unit", "person_id")
    }
    foreign: set[str] = set()
    for table in (Building, Unit, Person):
        foreign |= set(
            session.exec(
                select(table.id).where(
                    col(table.id).in_(named), col(table.compound_id) != compound_id
                )
            )
        )
    units = session.exec(
        select(Unit.id, Unit.building_id).where(col(Unit.compound_id) == compound_id)
    )
    return _Seen(
        people=mine(Person.id, Person),
        cards=mine(Card.number, Card),
        plates=mine(Plate.number, Plate),
        units=dict(units.all()),
        foreign=foreign,
    )


def _check(line: int, values: dict[str, str], seen: _Seen) -> _Row:
    """Check a row against the file so far and the registry; claim its ids only if it passes."""
    text = {name: (values.get(name) or "").strip() for name in COLUMNS}
    for name in ("building", "unit", "person_id"):
        if not _IDENTIFIER.match(text[name]):
            raise ValueError(f"{name} {text[name]!r} is not a valid id")
        if text[name] in seen.foreign:
            raise ValueError(f"{name} {text[name]} is an id already in use; choose another")
    if text["kind"] not in _KINDS:
        raise ValueError(f"kind {text['kind']!r} is not one of {', '.join(sorted(_KINDS))}")
    if not text["name"] or len(text["name"]) > 100:
        raise ValueError("name is empty or longer than 100 characters")
    if text["person_id"] in seen.people:
        raise ValueError(f"person {text['person_id']} is already registered")
    building = seen.units.get(text["unit"], text["building"])
    if building != text["building"]:
        raise ValueError(f"unit {text['unit']} is in building {building}, not {text['building']}")
    cards = tuple(c.strip() for c in text["cards"].split(";") if c.strip())
    plates = tuple(_plate(p) for p in text["plates"].split(";") if p.strip())
    _check_new(cards, seen.cards, "card", _CARD)
    _check_new(plates, seen.plates, "plate", None)
    seen.people.add(text["person_id"])
    seen.cards.update(cards)
    seen.plates.update(plates)
    seen.units[text["unit"]] = text["building"]
    return _Row(
        line,
        text["building"],
        text["unit"],
        text["person_id"],
        text["name"],
        text["kind"],
        cards,
        plates,
    )


def _plate(text: str) -> str:
    try:
        return parse(text).number
    except PlateError as exc:
        raise ValueError(str(exc)) from exc


def _check_new(
    values: tuple[str, ...], taken: set[str], what: str, form: re.Pattern[str] | None
) -> None:
    for value in values:
        if form is not None and not form.match(value):
            raise ValueError(f"{what} {value!r} is not a valid {what} number")
        if value in taken or values.count(value) > 1:
            raise ValueError(f"{what} {value} is registered twice")


def _write(session: Session, compound_id: str, rows: list[_Row]) -> int:
    changes = Changes(compound_id)
    buildings = set(
        session.exec(select(Building.id).where(col(Building.compound_id) == compound_id))
    )
    units = set(session.exec(select(Unit.id).where(col(Unit.compound_id) == compound_id)))
    for row in rows:
        if row.building not in buildings:
            session.add(Building(id=row.building, compound_id=compound_id, name=row.building))
            buildings.add(row.building)
        if row.unit not in units:
            session.add(
                Unit(id=row.unit, compound_id=compound_id, building_id=row.building, label=row.unit)
            )
            units.add(row.unit)
    session.flush()
    for row in rows:
        session.add(
            Person(
                id=row.person_id,
                compound_id=compound_id,
                kind=row.kind,
                unit_id=row.unit,
                display_name=row.name,
            )
        )
        changes.upsert("person", row.person_id)
    session.flush()  # people before the credentials that refer to them
    for row in rows:
        _add_credentials(session, compound_id, row, changes)
    session.flush()
    return changes.commit_version(session)


def _add_credentials(session: Session, compound_id: str, row: _Row, changes: Changes) -> None:
    for number in row.cards:
        card_id = f"card-{uuid.uuid4().hex[:20]}"
        session.add(
            Card(id=card_id, compound_id=compound_id, person_id=row.person_id, number=number)
        )
        changes.upsert("card", card_id)
    for number in row.plates:
        plate_id = f"plate-{uuid.uuid4().hex[:20]}"
        session.add(
            Plate(id=plate_id, compound_id=compound_id, person_id=row.person_id, number=number)
        )
        changes.upsert("plate", plate_id)
