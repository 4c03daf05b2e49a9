"""Locks by name: the same name waits, another name does not, and nothing is left behind."""

from __future__ import annotations

import threading

from edge.keyed_locks import KeyedLocks


def test_the_same_name_waits_and_another_does_not() -> None:
    locks = KeyedLocks()
    inside = threading.Event()
    leave = threading.Event()

    def hold() -> None:
        with locks.holding(["p-wang-fang"]):
            inside.set()
            leave.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(10)
    other = threading.Event()

    def other_person() -> None:
        with locks.holding(["p-li-wei"]):
            other.set()

    threading.Thread(target=other_person).start()
    assert other.wait(10)  # while 王芳's lock is held
    same = threading.Event()

    def same_person() -> None:
        with locks.holding(["p-wang-fang"]):
            same.set()

    waiter = threading.Thread(target=same_person)
    waiter.start()
    assert not same.wait(0.3)  # waits for the holder
    leave.set()
    assert same.wait(10)
    holder.join(10)
    waiter.join(10)
    assert len(locks) == 0


def test_names_in_any_order_do_not_deadlock() -> None:
    locks = KeyedLocks()
    done = []

    def take(names: list[str]) -> None:
        for _ in range(500):
            with locks.holding(names):
                pass
        done.append(names)

    threads = [threading.Thread(target=take, args=(n,)) for n in (["a", "b"], ["b", "a"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(done) == 2 and len(locks) == 0


def test_a_failure_inside_releases_the_lock() -> None:
    locks = KeyedLocks()
    try:
        with locks.holding(["x"]):
            raise RuntimeError("the decision failed")
    except RuntimeError:
        pass
    with locks.holding(["x"]):
        assert len(locks) == 1
    assert len(locks) == 0
