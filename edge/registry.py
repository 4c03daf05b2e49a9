"""The edge's registry cache, from which it decides while the hub is out of reach."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from edge.errors import ConfigError
from models.registry import CardRecord, Op, PersonRecord, RegistryDelta


@dataclass
class RegistryCache:
    version: int
    people: dict[str, PersonRecord]
    cards_by_number: dict[str, CardRecord]

    @classmethod
    def empty(cls) -> RegistryCache:
        return cls(version=0, people={}, cards_by_number={})

    @classmethod
    def load(cls, path: Path) -> RegistryCache:
        try:
            delta = RegistryDelta.model_validate_json(path.read_bytes())
        except OSError as exc:
            raise ConfigError(f"cannot read registry {path}: {exc}") from exc
        except ValidationError as exc:
            raise ConfigError(f"invalid registry {path}: {exc}") from exc
        cache = cls.empty()
        cache.apply(delta)
        return cache

    def apply(self, delta: RegistryDelta) -> None:
        if delta.from_version not in (self.version, 0):
            raise ValueError(f"delta starts at {delta.from_version}, cache is at {self.version}")
        if delta.from_version == 0:
            self.people.clear()
            self.cards_by_number.clear()
        for change in delta.changes:
            self._apply_one(change.op, change.record_kind, change.id, change.record)
        self.version = delta.to_version

    def _apply_one(
        self, op: Op, kind: str, record_id: str, record: PersonRecord | CardRecord | None
    ) -> None:
        if kind == "person":
            self.people.pop(record_id, None)
            if op is Op.UPSERT and isinstance(record, PersonRecord):
                self.people[record_id] = record
            return
        for number, card in list(self.cards_by_number.items()):
            if card.id == record_id:
                del self.cards_by_number[number]
        if op is Op.UPSERT and isinstance(record, CardRecord):
            self.cards_by_number[record.number] = record
