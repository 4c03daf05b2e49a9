"""Unknown faces, pseudonymously: repeat visits of the same unknown person can be counted
without knowing who it is.

An unidentified face gets a short id (`u-` and 10 hex digits) shared with earlier sightings
whose template is within `SAME_PERSON` of it. The templates stay on this edge, in memory and
on disk encrypted with the registry key, for at most `KEEP_DAYS` days; only the pseudonym
ever leaves the edge (in the entry event), never a template.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.sealing import SealError, seal, unseal, write_private

KEEP_DAYS = 7
CONTEXT = b"unknown-faces"  # what the sealed file holds (`edge.sealing`)
SAME_PERSON = 0.5


@dataclass
class _Sighting:
    pseudonym: str
    template: np.ndarray
    seen_at: float


class UnknownFaces:
    def __init__(
        self,
        path: Path | None = None,
        key: bytes | None = None,
        *,
        purge_on_load: bool = True,
        same_person: float = SAME_PERSON,
    ) -> None:
        self._same_person = same_person  # the lane's engine's threshold
        self._path = path if key is not None else None  # never on disk unencrypted
        self._key = key
        self._purge_on_load = purge_on_load
        self._sightings: list[_Sighting] = []
        self._lock = threading.Lock()
        self._load()

    def pseudonym(self, template: np.ndarray, now: float | None = None) -> str:
        now = time.time() if now is None else now
        with self._lock:
            self._forget(now)
            vector = np.asarray(template, dtype=np.float32)
            for sighting in self._sightings:
                if sighting.template.shape != vector.shape:
                    continue  # another engine's, from before a change of engine
                if float(np.linalg.norm(sighting.template - vector)) < self._same_person:
                    self._sightings.append(_Sighting(sighting.pseudonym, vector, now))
                    self._save()
                    return sighting.pseudonym
            name = f"u-{secrets.token_hex(5)}"
            self._sightings.append(_Sighting(name, vector, now))
            self._save()
            return name

    def __len__(self) -> int:
        return len(self._sightings)

    def _forget(self, now: float) -> None:
        oldest = now - KEEP_DAYS * 86_400
        self._sightings = [s for s in self._sightings if s.seen_at >= oldest]

    def _save(self) -> None:
        if self._path is None or self._key is None:
            return
        data = json.dumps(
            [[s.pseudonym, s.template.tolist(), s.seen_at] for s in self._sightings]
        ).encode()
        write_private(self._path, seal(data, self._key, CONTEXT))

    def _load(self) -> None:
        if self._path is None or self._key is None or not self._path.exists():
            return
        try:
            data = unseal(self._path.read_bytes(), self._key, CONTEXT, strict=True)
        except SealError:
            self._path.unlink()  # another key, or damaged: forgetting is the safe side
            return
        self._sightings = [
            _Sighting(name, np.asarray(vector, dtype=np.float32), float(at))
            for name, vector, at in json.loads(data)
        ]
        if self._purge_on_load:
            self._forget(time.time())
            self._save()
