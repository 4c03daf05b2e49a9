from __future__ import annotations

from edge.pin_guard import PinGuard


def test_five_wrong_pins_in_a_row_lock_that_reader_only() -> None:
    guard = PinGuard(limit=5, window_s=300, lock_s=300)
    starts = [guard.record("east-in", granted=False, now=float(t)) for t in range(5)]
    assert starts == [False, False, False, False, True]
    assert guard.locked("east-in", now=10)
    assert not guard.locked("west-in", now=10)
    assert not guard.locked("east-in", now=305)


def test_a_right_pin_or_a_long_pause_resets_the_count() -> None:
    guard = PinGuard(limit=3, window_s=60, lock_s=60)
    guard.record("r", granted=False, now=0)
    guard.record("r", granted=False, now=1)
    guard.record("r", granted=True, now=2)
    assert not guard.record("r", granted=False, now=3)
    assert not guard.record("r", granted=False, now=4)
    assert not guard.record("r", granted=False, now=100)  # the first two are too old
    assert not guard.locked("r", now=101)
