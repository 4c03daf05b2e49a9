"""The edge's registry cache, from which it decides while the hub is out of reach.

It applies deltas pulled from the hub and keeps a full snapshot on disk (written to a temporary
file, synced, then renamed), so a restarted edge decides offline from what it last knew.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from edge.errors import ConfigError
from edge.sealing import SealError, seal, unseal, write_private
from models.plates import within_one
from models.registry import (
    CardRecord,
    Change,
    FacePolicyRecord,
    FaceRecord,
    Op,
    PassRecord,
    PersonRecord,
    PinRecord,
    PlateRecord,
    Record,
    RegistryDelta,
    WatchlistRecord,
)

logger = logging.getLogger(__name__)


class StaleDelta(ValueError):
    """A delta that does not start where the cache is."""


@dataclass(frozen=True)
class RegistryInfo:
    version: int
    age_s: float | None
    stale: bool
    face_engine: str | None = None  # the engine the face lanes run, if any
    faces_skipped: dict[str, int] | None = None  # face records of engines this edge lacks


@dataclass
class RegistryCache:
    compound_id: str
    version: int = 0
    records: dict[tuple[str, str], Record] = field(default_factory=dict)
    synced_at: float | None = None
    sealing_key: bytes | None = field(default=None, repr=False)
    """With a key, the snapshot on disk is encrypted (it holds face templates)."""

    def card(self, number: str) -> CardRecord | None:
        return self._cards.get(number)

    def pin(self, digest: str) -> PinRecord | None:
        return self._pins.get(digest)

    def plate(self, number: str) -> PlateRecord | None:
        return self._plates.get(number)

    def person(self, person_id: str) -> PersonRecord | None:
        record = self.records.get(("person", person_id))
        return record if isinstance(record, PersonRecord) else None

    def faces(self, engine: str | None = None) -> list[FaceRecord]:
        """Every face record, or one engine's."""
        return [
            r
            for r in self.records.values()
            if isinstance(r, FaceRecord) and (engine is None or r.engine == engine)
        ]

    def face_policy(self, engine: str) -> FacePolicyRecord | None:
        """The hub's risk gate for `engine`'s gallery (without one, no face opens alone)."""
        record = self.records.get(("face_policy", f"policy-{engine}"))
        return record if isinstance(record, FacePolicyRecord) else None

    def visitor_pass(self, pass_id: str) -> PassRecord | None:
        record = self.records.get(("pass", pass_id))
        return record if isinstance(record, PassRecord) else None

    def plate_near(self, number: str) -> PlateRecord | None:
        """The one resident's plate that differs from `number` in one letter or digit (a
        misread character), if exactly one does; None when none or several do, when
        `number` is itself on the register (an unowned plate read right), or when a
        watchlisted or a pass's plate is that close too (never guess there). Never across
        provinces or classes: the reader writes 皖 where it cannot see a province, and a
        resident's plate with another province is another vehicle (the guard booth shows it
        beside the plate read, `hub.look_alikes`)."""
        if number in self._plates:
            return None
        guarded = [r.value for r in self._watch.values() if r.target == "plate"]
        guarded.extend(self._pass_plates)
        if any(within_one(number, plate) for plate in guarded):
            return None
        near: dict[str, PlateRecord] = {}
        for key in _wildcards(number):
            for record in self._near_plates.get(key, []):
                near[record.number] = record
        return next(iter(near.values())) if len(near) == 1 else None

    def passes_for_plate(self, number: str) -> list[PassRecord]:
        return self._pass_plates.get(number, [])

    def watched(self, target: str, value: str) -> WatchlistRecord | None:
        """The watchlist entry for a person id or a plate, if officers flagged it."""
        return self._watch.get((target, value))

    @classmethod
    def load(cls, path: Path, compound_id: str, key: bytes | None = None) -> RegistryCache:
        """The snapshot at `path`. With none, or a damaged one (moved aside, so that the hub
        can send a full snapshot), the cache starts empty and counts as never synced."""
        cache = cls(compound_id, sealing_key=key)
        if not path.exists():
            return cache
        try:
            cache.apply(RegistryDelta.model_validate_json(unseal(path.read_bytes(), key)))
        except (ValidationError, StaleDelta, SealError, ValueError) as exc:
            aside = path.with_suffix(f".damaged-{int(time.time())}")
            path.replace(aside)
            logger.error("registry snapshot %s unusable (%s); moved to %s", path, exc, aside)
            return cls(compound_id, sealing_key=key)
        except OSError as exc:
            raise ConfigError(f"cannot read registry {path}: {exc}") from exc
        cache.synced_at = path.stat().st_mtime
        return cache

    def apply(self, delta: RegistryDelta) -> None:
        if delta.compound_id != self.compound_id:
            raise StaleDelta(f"delta for compound {delta.compound_id}, cache is {self.compound_id}")
        if delta.from_version not in (self.version, 0):
            raise StaleDelta(f"delta starts at {delta.from_version}, cache is at {self.version}")
        # Build the new state aside and swap it in: readers never see a half-applied delta.
        records = {} if delta.from_version == 0 else dict(self.records)
        for change in delta.changes:
            _apply_one(records, change)
        self.records = records
        self._index()
        self.version = delta.to_version
        self.synced_at = time.time()

    def snapshot(self) -> RegistryDelta:
        changes = [
            Change(op=Op.UPSERT, record_kind=record.kind, id=record.id, record=record)
            for record in self.records.values()
        ]
        return RegistryDelta(
            compound_id=self.compound_id, from_version=0, to_version=self.version, changes=changes
        )

    def save(self, path: Path) -> None:
        """Atomically, readable by this user only, and encrypted with the sealing key when
        there is one (the snapshot holds card numbers, PIN digests and face templates)."""
        write_private(path, seal(self.snapshot().model_dump_json().encode(), self.sealing_key))

    def age_s(self, now: float) -> float | None:
        return None if self.synced_at is None else max(0.0, now - self.synced_at)

    def stale(self, now: float, max_age_s: float) -> bool:
        """Never synced, or last synced more than `max_age_s` ago."""
        age = self.age_s(now)
        return age is None or age > max_age_s

    def _index(self) -> None:
        values = self.records.values()
        self._cards = {r.number: r for r in values if isinstance(r, CardRecord)}
        self._pins = {r.digest: r for r in values if isinstance(r, PinRecord)}
        self._plates = {r.number: r for r in values if isinstance(r, PlateRecord)}
        near: dict[str, list[PlateRecord]] = {}
        for plate in self._plates.values():
            if plate.person_id is not None:
                for key in _wildcards(plate.number):
                    near.setdefault(key, []).append(plate)
        self._near_plates = near
        self._watch: dict[tuple[str, str], WatchlistRecord] = {
            (r.target, r.value): r for r in values if isinstance(r, WatchlistRecord)
        }
        pass_plates: dict[str, list[PassRecord]] = {}
        for record in values:
            if isinstance(record, PassRecord) and record.plate is not None:
                pass_plates.setdefault(record.plate, []).append(record)
        self._pass_plates = pass_plates

    def __post_init__(self) -> None:
        self._index()


def _wildcards(number: str) -> list[str]:
    """`number` with each letter or digit in turn made a wildcard: 京A12345 → 京?12345,
    京A?2345…; WJ京12345 → ?J京12345, W?京12345, WJ京?2345…. A province (wherever its class
    puts it) and a class's character (警, 挂, 学, 港, 领, 使…) are never taken as misread."""
    return [
        f"{number[:i]}?{number[i + 1 :]}"
        for i, character in enumerate(number)
        if character.isascii() and character.isalnum()
    ]


def _apply_one(records: dict[tuple[str, str], Record], change: Change) -> None:
    key = (change.record_kind, change.id)
    if change.op is Op.DELETE:
        records.pop(key, None)
    elif change.record is not None:
        records[key] = change.record
