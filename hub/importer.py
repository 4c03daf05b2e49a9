"""Bulk import of residents, their units, cards and plates from CSV.

Columns: building, unit, person_id, name, kind (resident, staff or visitor), cards and plates
(several separated by `;`). Every row is checked before anything is written; a file with a
rejected row imports nothing, unless `skip_bad_rows` is set. One registry version covers the
whole import, so edges pull it as one delta.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from hub.registry import Changes, get_compound
from hub.tables import Building, Card, Person, Plate, Unit
from models.events import SubjectKind
from models.plates import PlateError, parse

COLUMNS = ("building", "unit", "person_id", "name", "kind", "cards", "plates")
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


@dataclass
class _Seen:
    people: set[str]
    cards: set[str]
    plates: set[str]


def read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise CsvError(f"{path}: missing columns {', '.join(sorted(missing))}")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvError(f"cannot read {path}: {exc}") from exc


def import_residents(
    *,
    session: Session,
    compound_id: str,
    rows: Iterable[dict[str, str]],
    skip_bad_rows: bool = False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ImportReport:
    get_compound(session=session, compound_id=compound_id)
    raw = list(rows)
    report = ImportReport(rows=len(raw))
    seen = _existing(session, compound_id)
    good: list[_Row] = []
    for index, values in enumerate(raw):
        line = index + 2  # the header is line 1
        try:
            good.append(_check(line, values, seen))
        except ValueError as exc:
            report.rejected.append(Rejected(line, str(exc)))
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


def _existing(session: Session, compound_id: str) -> _Seen:
    def values(column: object, table: type) -> set[str]:
        query = select(column).where(col(table.compound_id) == compound_id)  # type: ignore[call-overload,attr-defined]
        return set(session.exec(query))

    return _Seen(
        people=values(Person.id, Person),
        cards=values(Card.number, Card),
        plates=values(Plate.number, Plate),
    )


def _check(line: int, values: dict[str, str], seen: _Seen) -> _Row:
    text = {name: (values.get(name) or "").strip() for name in COLUMNS}
    for name in ("building", "unit", "person_id"):
        if not _IDENTIFIER.match(text[name]):
            raise ValueError(f"{name} {text[name]!r} is not a valid id")
    if text["kind"] not in _KINDS:
        raise ValueError(f"kind {text['kind']!r} is not one of {', '.join(sorted(_KINDS))}")
    if not text["name"] or len(text["name"]) > 100:
        raise ValueError("name is empty or longer than 100 characters")
    if text["person_id"] in seen.people:
        raise ValueError(f"person {text['person_id']} is already registered")
    cards = tuple(c.strip() for c in text["cards"].split(";") if c.strip())
    plates = tuple(_plate(p) for p in text["plates"].split(";") if p.strip())
    _claim(cards, seen.cards, "card", _CARD)
    _claim(plates, seen.plates, "plate", None)
    seen.people.add(text["person_id"])
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


def _claim(
    values: tuple[str, ...], taken: set[str], what: str, form: re.Pattern[str] | None
) -> None:
    for value in values:
        if form is not None and not form.match(value):
            raise ValueError(f"{what} {value!r} is not a valid {what} number")
        if value in taken or values.count(value) > 1:
            raise ValueError(f"{what} {value} is registered twice")
    taken.update(values)


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
