"""The registered plates a plate refused at a gate may be, for the guard booth.

The reader misreads a character now and then, its province most often, and the edge never
matches across provinces (docs/plates.md), so a resident whose 桂 is read as 皖 is refused.
For a plate refused as not on the register (or sent to the guard by a stale registry) the
guard is shown the registered plates one character from it, or equal to it (an edge that has
not synced a new plate yet), exact first, then those a province apart; the guard asks the
driver and opens by command. Nothing is offered when a watchlisted plate is that close:
staff are not told about the watchlist, and must not be nudged to open for it.
"""

from __future__ import annotations

from functools import cached_property

from pydantic import BaseModel
from sqlmodel import Session, col, select

from hub.tables import Person, Plate, WatchlistEntry
from models.plates import PROVINCES, normalise, within_one

REASONS = frozenset({"plate_unknown", "ask_guard", "registry_stale"})
MAX_SHOWN = 3


class LooksLike(BaseModel):
    plate: str
    exact: bool  # the plate read is this one: the gate's registry is behind the hub's
    person_id: str
    kind: str
    display_name: str
    unit_id: str | None


class PlateRegister:
    """One compound's plates and watchlisted plates, read once per request when needed."""

    def __init__(self, session: Session, compound_id: str) -> None:
        self._session = session
        self._compound_id = compound_id

    def looks_like(self, read: str) -> list[LooksLike]:
        """The registered plates `read` may be, most likely first, at most `MAX_SHOWN`."""
        number = normalise(read)
        shown = (
            self._shown(plate, person, plate == number) for plate, person in self._near(number)
        )
        return [item for item in shown if item is not None]

    def owns_near(self, person_id: str, read: str) -> bool:
        """Whether `person_id` holds a plate that `read` may be (a guard's command for them
        deals with that plate's wait)."""
        return any(person == person_id for _, person in self._near(normalise(read)))

    def _near(self, number: str) -> list[tuple[str, str]]:
        """(plate, holder) of the plates `number` may be, as `looks_like` shows them."""
        if any(within_one(number, watched) for watched in self._watched):
            return []
        return sorted(
            ((plate, person) for plate, person in self._plates if within_one(plate, number)),
            key=lambda pair: (_rank(number, pair[0]), pair[0]),
        )[:MAX_SHOWN]

    @cached_property
    def _plates(self) -> list[tuple[str, str]]:
        rows = self._session.exec(
            select(Plate.number, Plate.person_id)
            .join(Person, col(Plate.person_id) == col(Person.id))
            .where(
                col(Plate.compound_id) == self._compound_id,
                col(Person.compound_id) == self._compound_id,
            )
        ).all()
        return [(number, str(person_id)) for number, person_id in rows]

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

    def _shown(self, plate: str, person_id: str, exact: bool) -> LooksLike | None:
        person = self._session.get(Person, person_id)
        if person is None:  # deleted since the plates were read
            return None
        return LooksLike(
            plate=plate,
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
