"""1:N identification against the enrolled templates of one engine, all in one matrix.

Templates are of unit length (`anju.faces.engines`), distances Euclidean; with the squared
norms kept beside the matrix, one query is one matrix-vector product whatever the number of
templates. A person may have several templates: their distance is the smallest. A match
needs a distance under the engine's `threshold` and a `margin` over the second-best person,
so that a look-alike who is nearly as close is not taken for the person. A gallery holds one
engine's templates: records of another engine are skipped, never compared.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from anju.faces.engines import Calibration, DlibEngine, unit
from edge.registry import RegistryCache
from models.registry import FaceRecord


@dataclass(frozen=True)
class Match:
    person_id: str | None  # None: nobody close enough, or too close a second
    distance: float
    margin: float
    nearest: str | None  # the closest person whether or not it is a match


class FaceGallery:
    def __init__(
        self,
        templates: np.ndarray,
        owners: list[str],
        *,
        calibration: Calibration = DlibEngine.calibration,
    ) -> None:
        templates = np.asarray(templates, dtype=np.float32)
        self._templates = unit(templates.reshape(len(owners), -1) if len(owners) else templates)
        self._norms = np.einsum("ij,ij->i", self._templates, self._templates)
        self._owners = np.asarray(owners)
        self._people, self._index = np.unique(self._owners, return_inverse=True)
        self.calibration = calibration
        self.threshold = calibration.threshold
        self.min_margin = calibration.margin

    @classmethod
    def from_records(cls, records: list[FaceRecord], calibration: Calibration) -> FaceGallery:
        if not records:
            return cls(np.zeros((0, 1), np.float32), [], calibration=calibration)
        matrix = np.stack([vector(r.template) for r in records])
        return cls(matrix, [r.person_id for r in records], calibration=calibration)

    @property
    def people(self) -> frozenset[str]:
        return frozenset(str(p) for p in self._people)

    def distance_to(self, encoding: np.ndarray, person_id: str) -> float:
        """1:1: the distance from `encoding` to `person_id`'s nearest template (inf if none)."""
        mine = self._owners == person_id
        if not mine.any():
            return float("inf")
        query = unit(np.asarray(encoding, np.float32))
        return float(np.linalg.norm(self._templates[mine] - query, axis=1).min())

    def __len__(self) -> int:
        return len(self._owners)

    def identify(self, encoding: np.ndarray) -> Match:
        if len(self._owners) == 0:
            return Match(None, float("inf"), 0.0, None)
        query = unit(np.asarray(encoding, dtype=np.float32))
        # Squared distances up to a constant: |t|^2 - 2 t.q (the |q|^2 term is the same).
        partial = self._norms - 2 * (self._templates @ query)
        best_index, second_index = self._two_people(partial)
        offset = float(query @ query)
        best = math.sqrt(max(float(partial[best_index]) + offset, 0.0))
        second = float("inf")
        if second_index is not None:
            second = math.sqrt(max(float(partial[second_index]) + offset, 0.0))
        margin = second - best
        nearest = str(self._owners[best_index])
        accepted = best < self.threshold and margin >= self.min_margin
        return Match(nearest if accepted else None, best, margin, nearest)

    def _two_people(self, partial: np.ndarray) -> tuple[int, int | None]:
        """The nearest template, and the nearest one of another person, looking at the few
        nearest first (a person has few templates) and at all only if they are one person's."""
        count = len(partial)
        for k in (min(count, 16), count):
            nearest = np.argpartition(partial, k - 1)[:k] if k < count else np.arange(count)
            nearest = nearest[np.argsort(partial[nearest])]
            best = int(nearest[0])
            others = nearest[self._index[nearest] != self._index[best]]
            if len(others) or k == count:
                return best, int(others[0]) if len(others) else None
        return int(np.argmin(partial)), None


def vector(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


class RegistryGallery:
    """One engine's gallery of a registry cache, rebuilt only when the registry's version
    changes (a withdrawn consent is gone from the next query after the sync that removes
    it). Records of other engines are skipped, and counted for the edge's status."""

    def __init__(
        self,
        registry: Callable[[], RegistryCache],
        engine: str,
        calibration: Calibration,
        *,
        length: int | None = None,
        only_without: str | None = None,
    ) -> None:
        """`length`: the engine's template length (a record of another length is skipped,
        never compared); `only_without`: only the people with no template of that engine
        (an older engine's gallery, for the people not yet enrolled again for the lane's)."""
        self._registry = registry
        self.engine = engine
        self._length = length
        self._only_without = only_without
        self._calibration = calibration
        self._version: int | None = None
        self._gallery = FaceGallery(np.zeros((0, 1), np.float32), [], calibration=calibration)

    def _fits(self, record: FaceRecord) -> bool:
        """A template of this engine's length (another length cannot be compared)."""
        size = len(record.template) * 3 // 4 - record.template.count("=")
        return self._length is None or size == 4 * self._length

    def __call__(self) -> FaceGallery:
        cache = self._registry()
        if cache.version != self._version:
            records = cache.faces()
            mine = [r for r in records if r.engine == self.engine and self._fits(r)]
            if self._only_without is not None:
                done = {r.person_id for r in records if r.engine == self._only_without}
                mine = [r for r in mine if r.person_id not in done]
            self._gallery = FaceGallery.from_records(mine, self._calibration)
            self._version = cache.version
        return self._gallery
