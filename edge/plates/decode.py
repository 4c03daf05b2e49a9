"""Reading a plate from a text recogniser's probabilities rather than from its text.

A CTC recogniser gives, for each horizontal step across the crop, a probability for every
symbol (the blank first). Its best path is the text it would print. For a plate we know
more: which symbols may stand at each position of each class (`models.plates.TEMPLATES`).
The steps are cut into characters where the best path puts them, and each position takes
the likeliest symbol its class allows there, by the model's own probabilities: a round glyph
in the city-letter position becomes whichever letter the model found likeliest (D, Q, ...)
rather than the one a look-alike table names. One stray mark between characters may be
dropped, at the cost of its probability of not being blank. Separators (the plate's dot) are
not characters.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from models.plates import TEMPLATES, PlateClass

BLANK = 0
SEPARATORS = frozenset("·•．.-‐–—－_ ")


@dataclass(frozen=True, eq=False)
class Posterior:
    """Per step, the probability of each symbol: `probs` is (steps, len(symbols)) and
    symbol 0 is the CTC blank."""

    probs: np.ndarray
    symbols: Sequence[str]

    def then(self, other: Posterior) -> Posterior:
        """This line followed by `other` (a double-row plate's two rows), a blank between so
        that a character ending one row and starting the next stays two characters."""
        gap = np.zeros((1, self.probs.shape[1]), self.probs.dtype)
        gap[0, BLANK] = 1.0
        return Posterior(np.concatenate([self.probs, gap, other.probs]), self.symbols)


@dataclass(frozen=True)
class PlateGuess:
    number: str
    plate_class: PlateClass
    score: float  # mean probability of the characters chosen
    weakest: float  # lowest probability among them, the first (province) character aside
    first: float  # the first character's: provinces are the recogniser's weakest


def best_path(posterior: Posterior) -> tuple[str, float]:
    """The recogniser's own reading and its mean character probability (0 when empty)."""
    characters = _characters(posterior)
    if not characters:
        return "", 0.0
    text = "".join(posterior.symbols[int(peak.argmax())] for peak in characters)
    return text, float(np.mean([peak.max() for peak in characters]))


def read_plate(
    posterior: Posterior, classes: Collection[PlateClass] | None = None
) -> PlateGuess | None:
    """The likeliest plate of `classes` (any class by default) the probabilities allow, or
    None when none fits the number of characters the recogniser saw."""
    symbols = tuple(posterior.symbols)
    sources, targets = _same_glyph(symbols)
    characters = []
    for peak in _characters(posterior):
        if symbols[int(peak.argmax())] not in SEPARATORS:
            np.add.at(peak, targets, peak[sources])
            characters.append(peak)
    best: tuple[float, PlateGuess] | None = None
    for plate_class, allowed in _allowed(symbols):
        if classes is not None and plate_class not in classes:
            continue
        for kept, cost in _fits(characters, len(allowed)):
            likelihood, guess = _choose(kept, allowed, posterior.symbols, plate_class)
            if best is None or likelihood * cost > best[0]:
                best = (likelihood * cost, guess)
    return None if best is None else best[1]


@cache
def _same_glyph(symbols: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Symbols a plate cannot hold that its font draws as one it can: lower case as upper
    case, and O and I (never issued) as 0 and 1. Where the recogniser saw the first, the
    plate holds the second, so its probability counts for the second."""
    index = {symbol: i for i, symbol in enumerate(symbols)}
    pairs = [(c, c.upper()) for c in "abcdefghjkmnpqrstuvwxyz"]
    pairs += [("O", "0"), ("o", "0"), ("I", "1"), ("i", "1"), ("l", "1")]
    found = [(index[a], index[b]) for a, b in pairs if a in index and b in index]
    return np.array([a for a, _ in found], int), np.array([b for _, b in found], int)


@cache
def _allowed(symbols: tuple[str, ...]) -> list[tuple[PlateClass, list[np.ndarray]]]:
    """Each class's template as indices into `symbols`."""
    index = {symbol: i for i, symbol in enumerate(symbols)}
    usable = []
    for plate_class, template in TEMPLATES:
        positions = [np.array(sorted(index[c] for c in chars if c in index)) for chars in template]
        if all(len(ids) for ids in positions):  # a class the recogniser cannot write is skipped
            usable.append((plate_class, positions))
    return usable


def _characters(posterior: Posterior) -> list[np.ndarray]:
    """Each character of the best path as its peak probability per symbol over its steps."""
    path = posterior.probs.argmax(axis=1)
    characters: list[np.ndarray] = []
    previous = BLANK
    for step, symbol in enumerate(path):
        if symbol != BLANK:
            if symbol != previous:
                characters.append(posterior.probs[step].copy())
            else:
                np.maximum(characters[-1], posterior.probs[step], out=characters[-1])
        previous = symbol
    return characters


def _fits(characters: list[np.ndarray], length: int) -> list[tuple[list[np.ndarray], float]]:
    """The characters as they are when there are `length` of them; with one more, each way
    of dropping one, weighed by the dropped one's chance of having been nothing."""
    if len(characters) == length:
        return [(characters, 1.0)]
    if len(characters) == length + 1:
        return [
            (characters[:i] + characters[i + 1 :], 1.0 - float(characters[i].max()))
            for i in range(len(characters))
        ]
    return []


def _choose(
    kept: list[np.ndarray],
    allowed: list[np.ndarray],
    symbols: Sequence[str],
    plate_class: PlateClass,
) -> tuple[float, PlateGuess]:
    """Each position's likeliest allowed symbol, and how likely the whole choice is."""
    picks = [int(ids[int(peak[ids].argmax())]) for peak, ids in zip(kept, allowed, strict=True)]
    probabilities = [float(peak[i]) for peak, i in zip(kept, picks, strict=True)]
    guess = PlateGuess(
        number="".join(symbols[i] for i in picks),
        plate_class=plate_class,
        score=float(np.mean(probabilities)),
        weakest=min(probabilities[1:]),
        first=probabilities[0],
    )
    return float(np.prod(probabilities)), guess
