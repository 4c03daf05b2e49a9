"""When the hub counts an event: at the time its edge gives it, unless that time cannot be.

An edge's clock can be wrong (a dead RTC battery, a bad NTP server) and a stolen edge key
can sign any date. An event dated more than the tolerance ahead of the hub's clock is counted
at the time the hub received it, flagged `clock_ahead`, its edge's own time kept beside it
(`reported_at`): a drifting clock must not empty occupancy. Beyond a hard bound (more than a
day ahead, or before the compound was in service) the event is kept the same way but left out
of occupancy and analytics (`time_out_of_bounds`, `counted` false). Events dated in the past
are taken as they are: an edge's backlog from a day offline is dated in the past on purpose.
Each such event raises an alarm naming its edge (at most one per edge per `ALARM_EVERY`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.events import AlarmEvent, EdgeEvent, EntryEvent

HARD_AHEAD = timedelta(days=1)
ALARM_EVERY = timedelta(minutes=10)
CLOCK_AHEAD = "clock_ahead"
OUT_OF_BOUNDS = "time_out_of_bounds"


@dataclass(frozen=True)
class Placed:
    """An event as the hub stores it: `event` dated as counted, `reported_at` its edge's own
    time where the hub did not take it, `counted` false where it stays out of analytics."""

    event: EdgeEvent
    reported_at: datetime | None = None
    counted: bool = True

    @property
    def flag(self) -> str | None:
        if self.reported_at is None:
            return None
        return CLOCK_AHEAD if self.counted else OUT_OF_BOUNDS


@dataclass(frozen=True)
class TimeBounds:
    received_at: datetime  # the hub's clock, when the batch arrived (UTC)
    tolerance: timedelta

    def place(self, event: EdgeEvent, in_service_since: datetime) -> Placed:
        claimed = event.occurred_at
        ahead = claimed - self.received_at
        if ahead > HARD_AHEAD or claimed < in_service_since:
            return Placed(_retimed(event, self.received_at, OUT_OF_BOUNDS), claimed, False)
        if ahead > self.tolerance:
            return Placed(_retimed(event, self.received_at, CLOCK_AHEAD), claimed)
        return Placed(event)


def _retimed(event: EdgeEvent, at: datetime, flag: str) -> EdgeEvent:
    if isinstance(event, EntryEvent):
        decision = event.decision
        flags = decision.flags if flag in decision.flags else (*decision.flags, flag)
        return event.model_copy(
            update={"occurred_at": at, "decision": decision.model_copy(update={"flags": flags})}
        )
    assert isinstance(event, AlarmEvent)
    return event.model_copy(update={"occurred_at": at})


def describe(placed: Placed, edge_id: str) -> str:
    """The alarm's text for the guard and the administrator."""
    reported = placed.reported_at
    assert reported is not None
    if placed.counted:
        return (
            f"Edge {edge_id}'s clock is ahead: an event dated {reported.isoformat()} was"
            f" counted at the hub's time, {placed.event.occurred_at.isoformat()}."
        )
    return (
        f"Edge {edge_id} sent an event dated {reported.isoformat()}, outside any time it can"
        " have happened: kept, but left out of occupancy and analytics. Check the edge's"
        " clock and its key."
    )
