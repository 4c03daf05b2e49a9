"""Locks by name: admissions of the same person or the same pass wait for each other, and no
other lane waits for them."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class KeyedLocks:
    """A lock per name, made on first use and dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def holding(self, names: Iterable[str]) -> Iterator[None]:
        """Hold every lock of `names`, taken in sorted order (two callers asking for the same
        names in any order cannot deadlock), released in reverse."""
        registered: list[str] = []
        taken: list[threading.Lock] = []
        try:
            for name in sorted(set(names)):
                lock = self._register(name)
                registered.append(name)
                lock.acquire()
                taken.append(lock)
            yield
        finally:
            for lock in reversed(taken):
                lock.release()
            for name in registered:
                self._forget(name)

    def __len__(self) -> int:
        """How many names have a lock now (held or waited for)."""
        with self._guard:
            return len(self._locks)

    def _register(self, name: str) -> threading.Lock:
        with self._guard:
            lock, users = self._locks.get(name, (threading.Lock(), 0))
            self._locks[name] = (lock, users + 1)
            return lock

    def _forget(self, name: str) -> None:
        with self._guard:
            lock, users = self._locks[name]
            if users > 1:
                self._locks[name] = (lock, users - 1)
            else:
                del self._locks[name]
