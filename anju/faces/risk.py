"""How likely a stranger is to be taken for one of a compound's residents, from the
compound's own gallery: the risk gate's numbers (docs/faces.md, "The gate knows its risk").

For every pair of different residents, their distance is the nearest of their templates.
Those distances are what a stranger's face looks like to the gallery: a stranger is falsely
identified when one resident is nearer than the engine's threshold. The projected bound:

- a normal model of the pairs' distances, with one-sided 95% bounds on its mean (lower) and
  spread (upper), gives the share of residents a stranger falls under the threshold of;
- never below the share of pairs actually under the threshold;
- a stranger meets every resident: FPIR = 1 - (1 - share) ** residents.

Below `MIN_PEOPLE` residents there is too little to fit, and the bound is 1 (face alone is
off until the gallery says more). Each resident's nearest other resident is kept: two
residents nearer than the engine's `look_alike` distance are look-alikes, and neither opens
on the face alone whatever the bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from anju.faces.engines import Calibration, unit

MIN_PEOPLE = 8
Z95 = 1.6448536  # one-sided 95%


@dataclass(frozen=True)
class GalleryRisk:
    people: int
    pairs: int
    false_accepts: int  # pairs of different residents nearer than the threshold
    far_ci: tuple[float, float]  # Clopper-Pearson 95% for false_accepts / pairs
    far_bound: float  # projected share of residents a stranger is nearer than the threshold to
    fpir_bound: float
    nearest: dict[str, tuple[str, float]]  # each resident's nearest other, with the distance
    look_alikes: frozenset[str]

    def face_alone(self, person_id: str, limit: float) -> bool:
        """Whether `person_id` may open on the face alone with this gallery at `limit`."""
        return self.fpir_bound <= limit and person_id not in self.look_alikes


def gallery_risk(gallery: Mapping[str, np.ndarray], calibration: Calibration) -> GalleryRisk:
    """The risk of a gallery of (person -> their templates, one per row) for one engine."""
    people = sorted(gallery)
    distances = _person_distances([unit(np.atleast_2d(gallery[p])) for p in people])
    nearest = _nearest(people, distances)
    look_alikes = frozenset(p for p, (_, d) in nearest.items() if d < calibration.look_alike)
    upper = np.triu_indices(len(people), 1)
    pairs = distances[upper]
    false_accepts = int((pairs < calibration.threshold).sum())
    share = _projected_share(pairs, calibration.threshold, false_accepts, len(people))
    return GalleryRisk(
        people=len(people),
        pairs=len(pairs),
        false_accepts=false_accepts,
        far_ci=clopper_pearson(false_accepts, len(pairs)),
        far_bound=share,
        fpir_bound=1.0 - (1.0 - share) ** len(people) if people else 1.0,
        nearest=nearest,
        look_alikes=look_alikes,
    )


def _person_distances(templates: list[np.ndarray]) -> np.ndarray:
    """The distance between each two people: the nearest of their templates. One person's
    rows at a time, so that memory grows with the templates, not with their square."""
    if not templates:
        return np.zeros((0, 0))
    stacked = np.concatenate(templates)
    starts = np.cumsum([0] + [len(t) for t in templates[:-1]])
    result = np.empty((len(templates), len(templates)))
    for i, own in enumerate(templates):
        nearest = (own @ stacked.T).max(axis=0)  # unit vectors: the largest cosine
        result[i] = np.maximum.reduceat(nearest, starts)
    result = np.sqrt(np.maximum(2.0 - 2.0 * result, 0.0))
    np.fill_diagonal(result, np.inf)
    return result


def _nearest(people: list[str], distances: np.ndarray) -> dict[str, tuple[str, float]]:
    if len(people) < 2:
        return {}
    closest = distances.argmin(axis=1)
    return {
        person: (people[int(other)], round(float(distances[i, other]), 4))
        for i, (person, other) in enumerate(zip(people, closest, strict=True))
    }


def _projected_share(pairs: np.ndarray, threshold: float, false_accepts: int, people: int) -> float:
    if people < MIN_PEOPLE:
        return 1.0
    n = len(pairs)
    mean, spread = float(pairs.mean()), float(pairs.std(ddof=1))
    mean_low = mean - Z95 * spread / math.sqrt(n)
    spread_high = spread * (1 + Z95 / math.sqrt(2 * (n - 1)))
    tail = 0.5 * math.erfc((mean_low - threshold) / (spread_high * math.sqrt(2)))
    return min(1.0, max(tail, false_accepts / n))


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact binomial confidence interval for k successes in n trials."""
    if n == 0:
        return (0.0, 1.0)
    tail = (1 - level) / 2
    low = 0.0 if k == 0 else _solve(lambda p: _at_least(k, n, p) - tail)
    high = 1.0 if k == n else _solve(lambda p: tail - _at_most(k, n, p))
    return (round(low, 6), round(high, 6))


def _at_most(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if p <= 0:
        return 1.0
    if p >= 1:
        return 0.0 if k < n else 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * log_p
        + (n - i) * log_q
        for i in range(k + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _at_least(k: int, n: int, p: float) -> float:
    return 1.0 - _at_most(k - 1, n, p) if k > 0 else 1.0


def _solve(increasing: object) -> float:
    """The p in (0, 1) where the increasing function crosses zero, by bisection."""
    assert callable(increasing)
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        if increasing(middle) < 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2
