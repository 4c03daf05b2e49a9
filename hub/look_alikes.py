"""The registered plates a plate refused at a gate may be, for the guard booth.

The reader misreads a character now and then, its province most often, and the edge never
matches across provinces (docs/plates.md), so a resident whose 桂 is read as 皖 is refused.
For a plate refused as not on the register (or sent to the guard by a stale registry) the
guard is shown the plates one character from it, or equal to it (an edge that has not synced
a new plate yet, or a visitor come early), exact first, then those a province apart: people's
registered plates, and the plates of visitor passes open now (or opening within the hour:
visitors come early), each plate once (a person's before a pass's). The guard asks the
driver and opens by command. Nothing is offered when a watchlisted plate is
that close: staff are not told about the watchlist, and must not be nudged to open for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import NamedTuple

from sqlmodel import Session, col, select

from hub.schemas.guard import LooksLike
from hub.tables import Person, Plate, VisitorPass, WatchlistEntry, as_utc, utcnow
from models.plates import PROVINCES, normalise, within_one

REASONS = frozenset({"plate_unknown", "ask_guard", "registry_stale"})
MAX_SHOWN = 3
EARLY = timedelta(hours=1)  # a pass opening this soon is shown: its visitor may be early


class _Held(NamedTuple):
    plate: str
    holder: str  # a person's id, or a pass's
    order: int  # for the same plate: a person's (0), a pass open now (1), one opening (2)

    @property
    def is_pass(self) -> bool:
        return self.order > 0


class PlateRegister:
    """One compound's plates, open passes' plates and watchlisted plates, read once per
    request when needed."""

    def __init__(self, session: Session, compound_id: str, now: datetime | None = None) -> None:
        self._session = session
        self._compound_id = compound_id
        self._now = now or utcnow()

    def looks_like(self, read: str) -> list[LooksLike]:
        """The plates `read` may be, most likely first, at most `MAX_SHOWN`."""
        number = normalise(read)
        return [self._shown(held, held.plate == number) for held in self._near(number)]

    def holds_near(self, holder: str, read: str) -> bool:
        """Whether `holder` (a person or a pass) holds a plate that `read` may be (a guard's
        command for them deals with that plate's wait)."""
        return any(held.holder == holder for held in self._near(normalise(read)))

    def _near(self, number: str) -> list[_Held]:
        """The plates `number` may be, with their holders, as `looks_like` shows them."""
        if any(within_one(number, watched) for watched in self._watched):
            return []
        near = sorted(
            (held for held in self._held if within_one(held.plate, number)),
            key=lambda held: (_rank(number, held.plate), held.plate, held.order, held.holder),
        )
        once = {held.plate: held for held in reversed(near)}  # each plate's first holder
        return [held for held in near if once[held.plate] is held][:MAX_SHOWN]

    @cached_property
    def _held(self) -> list[_Held]:
        held = [_Held(number, person.id, 0) for number, person in self._plates]
        held.extend(
            _Held(str(p.plate), p.id, 1 if as_utc(p.valid_from) <= self._now else 2)
            for p in self._passes.values()
        )
        return held

    @cached_property
    def _plates(self) -> list[tuple[str, Person]]:
        """Every person's plate, with its holder."""
        return list(
            self._session.exec(
                select(Plate.number, Person)
                .join(Person, col(Plate.person_id) == col(Person.id))
                .where(
                    col(Plate.compound_id) == self._compound_id,
                    col(Person.compound_id) == self._compound_id,
                )
            ).all()
        )

    @cached_property
    def _people(self) -> dict[str, Person]:
        return {person.id: person for _, person in self._plates}

    @cached_property
    def _passes(self) -> dict[str, VisitorPass]:
        """Passes with a plate that are open now or open within `EARLY`, with entries left."""
        rows = self._session.exec(
            select(VisitorPass).where(
                col(VisitorPass.compound_id) == self._compound_id,
                col(VisitorPass.plate).is_not(None),
                col(VisitorPass.revoked_at).is_(None),
                col(VisitorPass.valid_from) <= self._now + EARLY,
                col(VisitorPass.valid_until) >= self._now,
                col(VisitorPass.entries_used) < col(VisitorPass.max_entries),
            )
        ).all()
        return {row.id: row for row in rows}

    @cached_property
    def _watched(self) -> list[str]:
        return list(
            self._session.exec(
                select(WatchlistEntry.value).where(
                    col(WatchlistEntry.compound_id) == self._compound_id,
                    col(WatchlistEntry.kind) == "plate",
                )
            ).all()
        )

    def _shown(self, held: _Held, exact: bool) -> LooksLike:
        if held.is_pass:
            visit = self._passes[held.holder]
            return LooksLike(
                plate=held.plate,
                exact=exact,
                person_id=None,
                pass_id=visit.id,
                valid_from=as_utc(visit.valid_from),
                valid_until=as_utc(visit.valid_until),
                kind="visitor",
                display_name=visit.visitor_name,
                unit_id=visit.unit_id,
            )
        person = self._people[held.holder]
        return LooksLike(
            plate=held.plate,
            exact=exact,
            person_id=person.id,
            kind=person.kind,
            display_name=person.display_name,
            unit_id=person.unit_id,
        )


def _rank(read: str, plate: str) -> int:
    """0 for the same plate, 1 for another province, 2 for another character."""
    differing = [a for a, b in zip(read, plate, strict=True) if a != b]
    if not differing:
        return 0
    return 1 if differing[0] in PROVINCES else 2
