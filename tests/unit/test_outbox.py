from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from edge.errors import OutboxError, OutboxFull
from edge.outbox import Outbox
from models.events import Position


def _open(path: Path, capacity: int = 100, thresholds: tuple[float, ...] = (0.8, 0.9)) -> Outbox:
    return Outbox.open(path, edge_id="edge-1", capacity=capacity, alarm_thresholds=thresholds)


def _sealer(ids: list[uuid.UUID]):
    def seal(position: Position) -> tuple[uuid.UUID, bytes]:
        event_id = uuid.uuid4()
        ids.append(event_id)
        return event_id, f"{position.epoch}/{position.seq}".encode()

    return seal


def test_positions_count_up_and_survive_a_restart(tmp_path: Path) -> None:
    outbox = _open(tmp_path / "o.sqlite")
    ids: list[uuid.UUID] = []
    first, _ = outbox.append(_sealer(ids))
    second, _ = outbox.append(_sealer(ids))
    outbox.confirm(ids)
    outbox.close()

    reopened = _open(tmp_path / "o.sqlite")
    third, _ = reopened.append(_sealer(ids))
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    assert first.epoch == third.epoch == reopened.epoch


def test_a_fresh_outbox_starts_a_new_epoch(tmp_path: Path) -> None:
    old = _open(tmp_path / "old.sqlite")
    new = _open(tmp_path / "new.sqlite")
    assert old.epoch != new.epoch
    assert new.append(_sealer([]))[0].seq == 1


def test_unconfirmed_events_stay_until_confirmed_and_are_resent(tmp_path: Path) -> None:
    outbox = _open(tmp_path / "o.sqlite")
    ids: list[uuid.UUID] = []
    for _ in range(3):
        outbox.append(_sealer(ids))
    due = outbox.due(now=1000.0, limit=10)
    assert [p.seq for p in due] == [1, 2, 3]
    outbox.mark_sent([p.seq for p in due], now=1000.0, resend_after_s=10)
    assert outbox.due(now=1005.0, limit=10) == []
    assert outbox.in_flight(now=1005.0) == 3

    assert outbox.confirm(ids[:2]) == 2
    assert [p.seq for p in outbox.due(now=1011.0, limit=10)] == [3]


def test_a_reconnect_makes_everything_unconfirmed_due(tmp_path: Path) -> None:
    outbox = _open(tmp_path / "o.sqlite")
    outbox.append(_sealer([]))
    outbox.mark_sent([1], now=1000.0, resend_after_s=10)
    outbox.mark_all_unsent()
    assert [p.seq for p in outbox.due(now=1000.1, limit=10)] == [1]


def test_rows_survive_a_restart_and_are_due_at_once(tmp_path: Path) -> None:
    outbox = _open(tmp_path / "o.sqlite")
    ids: list[uuid.UUID] = []
    outbox.append(_sealer(ids))
    outbox.mark_sent([1], now=1000.0, resend_after_s=10)
    outbox.close()
    reopened = _open(tmp_path / "o.sqlite")
    reopened.mark_all_unsent()
    pending = reopened.due(now=1000.1, limit=10)
    assert [(p.seq, p.event_id) for p in pending] == [(1, ids[0])]
    assert reopened.health(now=1000.2).rows == 1


def test_confirming_unknown_or_repeated_ids_changes_nothing(tmp_path: Path) -> None:
    outbox = _open(tmp_path / "o.sqlite")
    ids: list[uuid.UUID] = []
    outbox.append(_sealer(ids))
    assert outbox.confirm([uuid.uuid4()]) == 0
    assert outbox.confirm(ids) == 1
    assert outbox.confirm(ids) == 0
    assert outbox.health(now=0).rows == 0


def test_a_full_outbox_refuses_events_but_keeps_what_it_has(tmp_path: Path) -> None:
    outbox = _open(tmp_path / "o.sqlite", capacity=10)
    for _ in range(10):
        outbox.append(_sealer([]))
    with pytest.raises(OutboxFull):
        outbox.append(_sealer([]))
    assert outbox.health(now=0).rows == 10
    assert outbox.append_alarm(_sealer([])) is not None


def test_fill_alarms_fire_once_per_crossing_and_rearm(tmp_path: Path) -> None:
    outbox = _open(tmp_path / "o.sqlite", capacity=10)
    ids: list[uuid.UUID] = []
    fired = [outbox.append(_sealer(ids))[1] for _ in range(10)]
    thresholds = [[a.threshold for a in alarms] for alarms in fired]
    assert thresholds == [[], [], [], [], [], [], [], [0.8], [0.9], [1.0]]
    outbox.confirm(ids[:5])
    again = [outbox.append(_sealer(ids))[1] for _ in range(4)]
    assert [[a.threshold for a in alarms] for alarms in again] == [[], [], [0.8], [0.9]]
    assert outbox.health(now=0).rows == 9


def test_health_reports_backlog_and_age(tmp_path: Path) -> None:
    outbox = _open(tmp_path / "o.sqlite", capacity=50)
    assert outbox.health(now=time.time()).oldest_age_s is None
    outbox.append(_sealer([]))
    health = outbox.health(now=time.time() + 7.0)
    assert (health.rows, health.capacity) == (1, 50)
    assert health.oldest_age_s == pytest.approx(7.0, abs=0.5)


def test_another_edges_outbox_is_refused(tmp_path: Path) -> None:
    _open(tmp_path / "o.sqlite").close()
    with pytest.raises(OutboxError, match="belongs to edge 'edge-1'"):
        Outbox.open(tmp_path / "o.sqlite", edge_id="edge-2", capacity=10)


def test_a_damaged_outbox_is_an_outbox_error_not_a_crash(tmp_path: Path) -> None:
    outbox = _open(tmp_path / "o.sqlite")
    outbox.append(_sealer([]))
    outbox._db.execute("DROP TABLE outbox")  # what a damaged file looks like from here
    for call in (
        lambda: outbox.due(now=0, limit=1),
        lambda: outbox.in_flight(now=0),
        lambda: outbox.health(now=0),
        lambda: outbox.append(_sealer([])),
        lambda: outbox.confirm([uuid.uuid4()]),
    ):
        with pytest.raises(OutboxError):
            call()


def test_the_wait_for_a_confirmation_doubles_with_each_attempt(tmp_path: Path) -> None:
    outbox = _open(tmp_path / "o.sqlite")
    outbox.append(_sealer([]))
    waits = []
    now = 0.0
    for _ in range(6):
        outbox.mark_sent([1], now=now, resend_after_s=10)
        waits.append(_next_due(outbox, now) - now)
        now = _next_due(outbox, now)
    assert waits == [10, 20, 40, 80, 160, 160]


def _next_due(outbox: Outbox, now: float) -> float:
    """The first whole second after `now` at which the event is due again."""
    at = now
    while not outbox.due(now=at, limit=1):
        at += 1
    return at
