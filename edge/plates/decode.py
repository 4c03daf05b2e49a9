"""Reading a plate from a text recogniser's probabilities rather than from its text.

A CTC recogniser gives, for each horizontal step across the crop, a probability for every
symbol (the blank first). Its best path is the text it would print. For a plate we know
more: which symbols may stand at each position of each class (`models.plates.TEMPLATES`).
Symbols no plate holds first give their probability to the one the plate's font draws the
same (full-width and lower-case letters to upper case, O and I, never issued, to 0 and 1).
The steps are then cut into characters where the best path puts them, separators (the
plate's dot) left out, and each position takes the likeliest symbol its class allows there,
by the model's own probabilities: a round glyph in the city-letter position becomes
whichever letter the model found likeliest (D, Q, ...) rather than the one a look-alike table
names. One stray mark may be dropped; the choice that it was nothing then counts with the
probability one minus its peak.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from models.plates import PROVINCES, TEMPLATES, PlateClass, Template, normalise

BLANK = 0
NEVER_ISSUED = {"O": "0", "I": "1"}  # letters left off plates, and the digit drawn alike
_PROVINCE_SET = frozenset(PROVINCES)


class Alphabet:
    """A recogniser's symbols (the CTC blank first) and what plates make of them, worked out
    once: which are separators, which count for a twin, and each class's template as
    symbol indices (a class the recogniser cannot write is left out)."""

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = tuple(symbols)
        index = {symbol: i for i, symbol in enumerate(self.symbols)}
        self.separators = frozenset(
            i for i, s in enumerate(self.symbols) if i != BLANK and s and not normalise(s)
        )
        twins = [(i, index[t]) for i, s in enumerate(self.symbols) if (t := _twin(i, s)) in index]
        self.twin_sources = np.array([s for s, _ in twins], int)
        self.twin_targets = np.array([t for _, t in twins], int)
        templates = (_template(plate_class, chars, index) for plate_class, chars in TEMPLATES)
        self.templates = tuple(t for t in templates if t is not None)


@dataclass(frozen=True, eq=False)
class Posterior:
    """Per step, the probability of each symbol: `probs` is (steps, symbols)."""

    probs: np.ndarray
    alphabet: Alphabet

    def then(self, other: Posterior) -> Posterior:
        """This line followed by `other` (a double-row plate's two rows), a blank between so
        that a character ending one row and starting the next stays two characters."""
        gap = np.zeros((1, self.probs.shape[1]), self.probs.dtype)
        gap[0, BLANK] = 1.0
        return Posterior(np.concatenate([self.probs, gap, other.probs]), self.alphabet)


@dataclass(frozen=True)
class PlateGuess:
    number: str
    plate_class: PlateClass
    score: float  # mean probability of the choices made (a dropped mark's: of being nothing)
    weakest: float  # the least probable of them, the province character's aside
    province: float  # the province character's probability (1.0 for a class without one)


@dataclass(frozen=True)
class _Template:
    plate_class: PlateClass
    allowed: tuple[np.ndarray, ...]  # per position, indices into the symbols
    province_at: frozenset[int]  # positions that hold a province character


def best_path(posterior: Posterior) -> tuple[str, float]:
    """The recogniser's own reading and its mean character probability (0 when empty)."""
    characters = _characters(posterior.probs)
    if not characters:
        return "", 0.0
    symbols = posterior.alphabet.symbols
    text = "".join(symbols[int(peak.argmax())] for peak in characters)
    return text, float(np.mean([peak.max() for peak in characters]))


def read_plate(
    posterior: Posterior, classes: Collection[PlateClass] | None = None
) -> PlateGuess | None:
    """The likeliest plate of `classes` (any class by default) the probabilities allow, or
    None when none fits the number of characters the recogniser saw."""
    alphabet = posterior.alphabet
    characters = [
        peak
        for peak in _characters(_fold(posterior.probs, alphabet))
        if int(peak.argmax()) not in alphabet.separators
    ]
    best: tuple[float, PlateGuess] | None = None
    for template in alphabet.templates:
        if classes is not None and template.plate_class not in classes:
            continue
        for kept, nothing in _fits(characters, len(template.allowed)):
            likelihood, guess = _choose(kept, nothing, template, alphabet.symbols)
            if best is None or likelihood > best[0]:
                best = (likelihood, guess)
    return None if best is None else best[1]


def _characters(probs: np.ndarray) -> list[np.ndarray]:
    """Each character of the best path as its peak probability per symbol over its steps."""
    path = probs.argmax(axis=1)
    characters: list[np.ndarray] = []
    previous = BLANK
    for step, symbol in enumerate(path):
        if symbol != BLANK:
            if symbol != previous:
                characters.append(probs[step].copy())
            else:
                np.maximum(characters[-1], probs[step], out=characters[-1])
        previous = symbol
    return characters


def _fold(probs: np.ndarray, alphabet: Alphabet) -> np.ndarray:
    """Each step's probabilities with those of symbols no plate holds moved to their twins."""
    folded = probs.copy()
    np.add.at(folded.T, alphabet.twin_targets, probs.T[alphabet.twin_sources])
    folded[:, alphabet.twin_sources] = 0.0
    return folded


def _twin(i: int, symbol: str) -> str | None:
    """The plate symbol `normalise` makes of one no plate holds (O and I, never issued, as 0
    and 1), or None."""
    if i == BLANK or len(symbol) != 1:
        return None
    twin = normalise(symbol)
    twin = NEVER_ISSUED.get(twin, twin)
    return twin if len(twin) == 1 and twin != symbol else None


def _template(
    plate_class: PlateClass, template: Template, index: dict[str, int]
) -> _Template | None:
    allowed = tuple(np.array(sorted(index[c] for c in chars if c in index)) for chars in template)
    if not all(len(ids) for ids in allowed):
        return None
    provinces = frozenset(i for i, chars in enumerate(template) if chars == _PROVINCE_SET)
    return _Template(plate_class, allowed, provinces)


def _fits(characters: list[np.ndarray], length: int) -> list[tuple[list[np.ndarray], list[float]]]:
    """The characters as they are when there are `length` of them; with one more, each way
    of dropping one, with the probability that the dropped one was nothing."""
    if len(characters) == length:
        return [(characters, [])]
    if len(characters) == length + 1:
        return [
            (characters[:i] + characters[i + 1 :], [1.0 - float(characters[i].max())])
            for i in range(len(characters))
        ]
    return []


def _choose(
    kept: list[np.ndarray], nothing: list[float], template: _Template, symbols: Sequence[str]
) -> tuple[float, PlateGuess]:
    """Each position's likeliest allowed symbol, and how likely the whole choice is."""
    picks = [
        int(ids[int(peak[ids].argmax())]) for peak, ids in zip(kept, template.allowed, strict=True)
    ]
    chosen = [float(peak[i]) for peak, i in zip(kept, picks, strict=True)]
    others = [p for i, p in enumerate(chosen) if i not in template.province_at] + nothing
    provinces = [p for i, p in enumerate(chosen) if i in template.province_at]
    guess = PlateGuess(
        number="".join(symbols[i] for i in picks),
        plate_class=template.plate_class,
        score=float(np.mean(chosen + nothing)),
        weakest=min(others),
        province=min(provinces, default=1.0),
    )
    return float(np.prod(chosen + nothing)), guess
