"""1:N identification against the enrolled templates, all in one matrix.

Distances are Euclidean, as face_recognition's model is trained for; with the squared norms
kept beside the matrix, one query is one matrix-vector product whatever the number of
templates. A person may have several templates: their distance is the smallest. A match
needs a distance under `threshold` and a `margin` over the second-best person, so that a
look-alike who is nearly as close is not taken for the person.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.registry import RegistryCache
from models.registry import FaceRecord

# Frozen on the development fixtures with `python -m edge.faces.calibrate` (docs/faces.md):
# the threshold with the lowest FNIR at FPIR 0 there. One probe at 0.55 let 4% of impostors
# through on other real faces: the margin and the agreement of two identifications at the
# gate are what stand between that and a wrong grant. Calibrate on each site's own faces.
THRESHOLD = 0.55
MIN_MARGIN = 0.05


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
        threshold: float = THRESHOLD,
        min_margin: float = MIN_MARGIN,
    ) -> None:
        self._templates = np.asarray(templates, dtype=np.float32).reshape(-1, 128)
        self._norms = np.einsum("ij,ij->i", self._templates, self._templates)
        self._owners = np.asarray(owners)
        self._people, self._index = np.unique(self._owners, return_inverse=True)
        self.threshold = threshold
        self.min_margin = min_margin

    @classmethod
    def from_records(cls, records: list[FaceRecord], **limits: float) -> FaceGallery:
        if not records:
            return cls(np.zeros((0, 128), np.float32), [], **limits)
        matrix = np.stack([_vector(r.template) for r in records])
        return cls(matrix, [r.person_id for r in records], **limits)

    def __len__(self) -> int:
        return len(self._owners)

    def identify(self, encoding: np.ndarray) -> Match:
        if len(self._owners) == 0:
            return Match(None, float("inf"), 0.0, None)
        query = np.asarray(encoding, dtype=np.float32)
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


def _vector(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


class RegistryGallery:
    """The gallery of a registry cache, rebuilt only when the registry's version changes
    (a withdrawn consent is gone from the next query after the sync that removes it)."""

    def __init__(self, registry: Callable[[], RegistryCache], **limits: float) -> None:
        self._registry = registry
        self._limits = limits
        self._version: int | None = None
        self._gallery = FaceGallery(np.zeros((0, 128), np.float32), [])

    def __call__(self) -> FaceGallery:
        cache = self._registry()
        if cache.version != self._version:
            self._gallery = FaceGallery.from_records(cache.faces(), **self._limits)
            self._version = cache.version
        return self._gallery
