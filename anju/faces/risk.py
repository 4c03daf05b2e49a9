"""How likely a stranger is to be taken for one of a compound's residents, from the
compound's own gallery: the risk gate's numbers (docs/faces.md, "The gate knows its risk").

For every pair of different residents, their distance is the nearest of their templates.
Those distances are what a stranger's face looks like to the gallery: a stranger is falsely
identified when one resident is nearer than the engine's threshold. The projected bound:

- a normal model of the pairs' distances, with one-sided 95% bounds on its mean (lower) and
  spread (upper) from a jackknife over people (each person is in many pairs: the pairs are
  not independent, the people are), gives the share of residents a stranger falls under the
  threshold of;
- never below the share of pairs actually under the threshold;
- a stranger meets every resident: FPIR = 1 - (1 - share) ** residents, rounded up.

Below `MIN_PEOPLE` residents there is too little to fit, and the bound is 1 (face alone is
off until the gallery says more). Each resident's nearest other resident is kept: two
residents nearer than the engine's `look_alike` distance are look-alikes, and neither opens
on the face alone whatever the bound. The pairs are read one person's row at a time, so
memory grows with the templates, not with the number of pairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
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
    far_bound: float  # projected share of residents a stranger is nearer than the threshold to
    fpir_bound: float
    nearest: dict[str, tuple[str, float]]  # each resident's nearest other, with the distance
    look_alikes: frozenset[str]

    def face_alone(self, person_id: str, limit: float) -> bool:
        """Whether `person_id` may open on the face alone with this gallery at `limit`."""
        return self.fpir_bound <= limit and person_id not in self.look_alikes


@dataclass
class _Rows:
    """What the risk needs of the pairs' distances, gathered one person's row at a time."""

    sums: np.ndarray  # per person: the sum of their distances to the others
    squares: np.ndarray  # and of their squares
    nearest: np.ndarray  # the index of the nearest other person
    nearest_distance: np.ndarray
    false_accepts: int


def gallery_risk(gallery: Mapping[str, np.ndarray], calibration: Calibration) -> GalleryRisk:
    """The risk of a gallery of (person -> their templates, one per row) for one engine."""
    people = sorted(gallery)
    rows = _rows([unit(np.atleast_2d(gallery[p])) for p in people], calibration.threshold)
    count = len(people)
    nearest = {
        person: (people[int(rows.nearest[i])], float(rows.nearest_distance[i]))
        for i, person in enumerate(people)
        if count > 1
    }
    look_alikes = frozenset(p for p, (_, d) in nearest.items() if d < calibration.look_alike)
    pairs = count * (count - 1) // 2
    share = _projected_share(rows, calibration.threshold, count)
    fpir = 1.0 if count < MIN_PEOPLE else 1.0 - (1.0 - share) ** count
    return GalleryRisk(
        people=count,
        pairs=pairs,
        false_accepts=rows.false_accepts,
        far_bound=share,
        fpir_bound=min(1.0, math.ceil(fpir * 1e6) / 1e6),  # rounded up, never down
        nearest=nearest,
        look_alikes=look_alikes,
    )


def _rows(templates: list[np.ndarray], threshold: float) -> _Rows:
    count = len(templates)
    rows = _Rows(np.zeros(count), np.zeros(count), np.zeros(count, int), np.full(count, np.inf), 0)
    if count < 2:
        return rows
    stacked = np.concatenate(templates)
    starts = np.cumsum([0] + [len(t) for t in templates[:-1]])
    for i, own in enumerate(templates):
        cosines = np.maximum.reduceat((own @ stacked.T).max(axis=0), starts)
        distances = np.sqrt(np.maximum(2.0 - 2.0 * cosines, 0.0))
        distances[i] = np.inf
        others = np.delete(distances, i)
        rows.sums[i], rows.squares[i] = others.sum(), (others**2).sum()
        rows.nearest[i] = int(np.argmin(distances))
        rows.nearest_distance[i] = distances[rows.nearest[i]]
        rows.false_accepts += int((distances[i + 1 :] < threshold).sum())
    return rows


def _projected_share(rows: _Rows, threshold: float, people: int) -> float:
    """The share of residents a stranger falls under `threshold` of, bounded above."""
    if people < MIN_PEOPLE:
        return 1.0
    pairs = people * (people - 1) / 2
    total, squares = rows.sums.sum() / 2, rows.squares.sum() / 2  # each pair counted twice
    without = pairs - (people - 1)  # pairs left when one person is left out
    means = (total - rows.sums) / without
    spreads = np.sqrt(np.maximum((squares - rows.squares - without * means**2) / (without - 1), 0))
    mean, spread = (
        total / pairs,
        math.sqrt(max((squares - pairs * (total / pairs) ** 2) / (pairs - 1), 0)),
    )
    mean_low = mean - Z95 * _jackknife_error(means)
    spread_high = spread + Z95 * _jackknife_error(spreads)
    if spread_high <= 0:  # every pair at one distance: the data say nothing of a tail
        return 1.0
    tail = 0.5 * math.erfc((mean_low - threshold) / (spread_high * math.sqrt(2)))
    return min(1.0, max(tail, rows.false_accepts / pairs))


def _jackknife_error(estimates: np.ndarray) -> float:
    """The jackknife's standard error, from the leave-one-out estimates."""
    n = len(estimates)
    return math.sqrt((n - 1) / n * float(((estimates - estimates.mean()) ** 2).sum()))


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


def _solve(increasing: Callable[[float], float]) -> float:
    """The p in (0, 1) where the increasing function crosses zero, by bisection."""
    low, high = 0.0, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        if increasing(middle) < 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2
