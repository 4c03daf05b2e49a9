"""When the hub counts an event: at its edge's time, unless that time cannot be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.event_time import CLOCK_AHEAD, OUT_OF_BOUNDS, TimeBounds
from models.events import EntryEvent
from tests import factories

NOW = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
IN_SERVICE = NOW - timedelta(days=30)
BOUNDS = TimeBounds(NOW, timedelta(minutes=5))


def _placed(at: datetime) -> tuple[datetime, datetime | None, bool, tuple[str, ...]]:
    placed = BOUNDS.place(factories.entry(at=at, flags=("offline_limit",)), IN_SERVICE)
    event = placed.event
    assert isinstance(event, EntryEvent)
    return event.occurred_at, placed.reported_at, placed.counted, event.decision.flags


def test_an_edge_time_near_the_hubs_or_in_the_past_is_taken() -> None:
    for at in (NOW, NOW + timedelta(minutes=4), NOW - timedelta(days=2)):
        assert _placed(at) == (at, None, True, ("offline_limit",))


def test_an_event_from_a_clock_ahead_is_counted_at_the_hubs_time() -> None:
    ahead = NOW + timedelta(hours=2)
    assert _placed(ahead) == (NOW, ahead, True, ("offline_limit", CLOCK_AHEAD))


def test_an_impossible_time_is_kept_but_not_counted() -> None:
    for at in (
        NOW + timedelta(days=1, minutes=1),
        datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        IN_SERVICE - timedelta(minutes=1),
    ):
        assert _placed(at) == (NOW, at, False, ("offline_limit", OUT_OF_BOUNDS))
