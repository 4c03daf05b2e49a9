"""Reading a plate from a text recogniser's probabilities rather than from its text.

A CTC recogniser gives, for each horizontal step across the crop, a probability for every
symbol (the blank first). Its best path is the text it would print. For a plate we know
more: which symbols may stand at each position of each class (`models.plates.TEMPLATES`).
Symbols no plate holds first give their probability to the one the plate's font draws the
same (full-width and lower-case letters to upper case, I and O to 1 and 0: I is never
issued, and O only as the organs' city letter, drawn as a zero is and read as one by the
models here, so that O is never chosen).
The steps are then cut into characters where the best path puts them, separators (the
plate's dot) left out, and each position takes the likeliest symbol its class allows there,
by the model's own probabilities: a round glyph in the city-letter position becomes
whichever letter the model found likeliest (D, Q, ...) rather than the one a look-alike table
names. One stray mark may be dropped; the choice that it was nothing then counts with the
probability one minus its peak.

A second recogniser's reading of the same crop may be weighed in (`second`): at each
position a symbol's score is the first model's log probability plus `SECOND_WEIGHT` times
the second's, each floored at `FLOOR`, and where the first model has never learned a symbol
(`Alphabet.unlearned`: the plate model's 学) the second speaks for both. The second then
breaks the first's near ties and fills its blind spot, but cannot overrule a confident read:
the plate model is confidently wrong where it is wrong (docs/plates.md has the figures).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from models.plates import PROVINCES, TEMPLATES, PlateClass, Template, normalise

BLANK = 0
# Letters left off plates (but the organs' city-letter O, which no model here tells from
# a zero), and the digit drawn alike.
NEVER_ISSUED = {"O": "0", "I": "1"}
# How much a second model's reading counts beside the first's. Chosen on the fixture scenes
# (the plate models first, PP-OCR second; 114 scenes read alone): 117 at 0.1 and at 0.25,
# 116 at 0.5, which lost a province PP-OCR was sure of and wrong; the fixture crops read
# 489 of 492 at all three.
SECOND_WEIGHT = 0.25
FLOOR = 1e-3  # a symbol a model gave less is as unlikely as this, whatever else it gave
TINY = 1e-12  # the floor with one model: only to keep a log finite
# The most a second reading can move the odds between two symbols at one position: a choice
# the first model gives more than this times its runner-up's probability stands.
DECISIVE = FLOOR**-SECOND_WEIGHT
_PROVINCE_SET = frozenset(PROVINCES)


class Alphabet:
    """A recogniser's symbols (the CTC blank first) and what plates make of them, worked out
    once: which are separators, which count for a twin, and each class's template as
    symbol indices (a class the recogniser cannot write is left out). `unlearned` are
    symbols the model has but never gives real probability to: no evidence either way."""

    def __init__(self, symbols: Sequence[str], unlearned: Collection[str] = ()) -> None:
        self.symbols = tuple(symbols)
        index = {symbol: i for i, symbol in enumerate(self.symbols)}
        self.unlearned = np.array([s in unlearned for s in self.symbols], bool)
        self.separators = frozenset(
            i for i, s in enumerate(self.symbols) if i != BLANK and s and not normalise(s)
        )
        twins = [(i, index[t]) for i, s in enumerate(self.symbols) if (t := _twin(i, s)) in index]
        self.twin_sources = np.array([s for s, _ in twins], int)
        self.twin_targets = np.array([t for _, t in twins], int)
        templates = (_template(plate_class, chars, index) for plate_class, chars in TEMPLATES)
        self.templates = tuple(t for t in templates if t is not None)
        self.blind_to = frozenset(  # classes with a symbol the model never learned
            t.plate_class for t in self.templates if any(self.unlearned[i].any() for i in t.allowed)
        )


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
    # With one model: the smallest, over positions, of the chosen symbol's odds against the
    # next allowed one; 0 when a character was dropped (`settled` reads it).
    margin: float = float("inf")


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
    posterior: Posterior,
    classes: Collection[PlateClass] | None = None,
    second: Posterior | None = None,
) -> PlateGuess | None:
    """The likeliest plate of `classes` (any class by default) the probabilities allow, or
    None when none fits the number of characters the recogniser saw; `second`, another
    recogniser's reading of the same crop, weighed in where it has as many characters."""
    alphabet = posterior.alphabet
    characters = _plate_characters(posterior)
    seconds = [] if second is None else _in_symbols(_plate_characters(second), second, alphabet)
    best: tuple[float, PlateGuess, Fit, _Template] | None = None
    for template in alphabet.templates:
        if classes is not None and template.plate_class not in classes:
            continue
        length = len(template.allowed)
        # a second reading with another number of characters has no say on this class
        other_fits: list[Fit | None] = [*_fits(seconds, length)] or [None]
        for fit in _fits(characters, length):
            for other in other_fits:
                likelihood, guess = _choose(fit, other, template, alphabet)
                if best is None or likelihood > best[0]:
                    best = (likelihood, guess, fit, template)
    if best is None:
        return None
    _, guess, fit, template = best
    return guess if second is not None else replace(guess, margin=_margin(fit, template))


def settled(
    guess: PlateGuess, posterior: Posterior, classes: Collection[PlateClass] | None = None
) -> bool:
    """Whether no second reading could change a character of `guess`: each choice is more
    than `DECISIVE` times likelier than the next, none was dropped, and none of `classes`
    has a symbol the first model never learned. (A second reading could still favour
    another class that the first model fits less well; where the first is this sure of
    every character, it is not asked.)"""
    if guess.margin <= DECISIVE:
        return False
    blind_to = posterior.alphabet.blind_to
    return not (blind_to if classes is None else blind_to.intersection(classes))


def _plate_characters(posterior: Posterior) -> list[np.ndarray]:
    alphabet = posterior.alphabet
    return [
        peak
        for peak in _characters(_fold(posterior.probs, alphabet))
        if int(peak.argmax()) not in alphabet.separators
    ]


def _in_symbols(
    characters: list[np.ndarray], posterior: Posterior, target: Alphabet
) -> list[np.ndarray]:
    """`posterior`'s characters with their probabilities moved to `target`'s symbols (0 for
    a symbol it does not have)."""
    source, missing = _symbol_map(posterior.alphabet, target)
    moved = []
    for peak in characters:
        mapped = peak[source]
        mapped[missing] = 0.0
        moved.append(mapped)
    return moved


@lru_cache(maxsize=64)  # a pair of alphabets for each plate lane's engine
def _symbol_map(source: Alphabet, target: Alphabet) -> tuple[np.ndarray, np.ndarray]:
    """For each of `target`'s symbols its index in `source`, and which `source` lacks."""
    index = {symbol: i for i, symbol in enumerate(source.symbols)}
    found = np.array([index.get(symbol, -1) for symbol in target.symbols])
    return np.maximum(found, 0), found < 0


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


Fit = tuple[list[np.ndarray], list[float]]  # characters kept, each dropped one's peak


def _fits(characters: list[np.ndarray], length: int) -> list[Fit]:
    """The characters as they are when there are `length` of them; with one more, each way
    of dropping one, with the peak of the one dropped."""
    if len(characters) == length:
        return [(characters, [])]
    if len(characters) == length + 1:
        return [
            (characters[:i] + characters[i + 1 :], [float(characters[i].max())])
            for i in range(len(characters))
        ]
    return []


def _choose(
    fit: Fit, other: Fit | None, template: _Template, alphabet: Alphabet
) -> tuple[float, PlateGuess]:
    """Each position's likeliest allowed symbol, and how likely the whole choice is (a log).
    With a second reading each choice's probability is the two models' weighted geometric
    mean, and a character either model dropped counts with its chance of having been
    nothing."""
    kept, dropped = fit
    weight = 0.0 if other is None else SECOND_WEIGHT
    floor = TINY if other is None else FLOOR
    picks, chosen, likelihood = [], [], 0.0
    for position, ids in enumerate(template.allowed):
        first = kept[position][ids]
        if other is None:
            logs = np.log(np.maximum(first, floor))
        else:
            second = other[0][position][ids]
            first = np.where(alphabet.unlearned[ids], second, first)
            logs = np.log(np.maximum(first, floor)) + weight * np.log(np.maximum(second, floor))
            logs /= 1 + weight
        best = int(logs.argmax())
        picks.append(int(ids[best]))
        likelihood += float(logs[best])
        chosen.append(float(np.exp(logs[best])))
    nothing = [1.0 - peak for peak in dropped]
    likelihood += sum(np.log(max(p, floor)) for p in nothing) / (1 + weight)
    if other is not None:
        likelihood += sum(weight * np.log(max(1.0 - p, floor)) for p in other[1]) / (1 + weight)
    others = [p for i, p in enumerate(chosen) if i not in template.province_at] + nothing
    provinces = [p for i, p in enumerate(chosen) if i in template.province_at]
    guess = PlateGuess(
        number="".join(alphabet.symbols[i] for i in picks),
        plate_class=template.plate_class,
        score=float(np.mean(chosen + nothing)),
        weakest=min(others),
        province=min(provinces, default=1.0),
    )
    return float(likelihood), guess


def _margin(fit: Fit, template: _Template) -> float:
    """The smallest, over positions, of the likeliest allowed symbol's odds against the
    next allowed one; 0 when a character was dropped."""
    kept, dropped = fit
    if dropped:
        return 0.0
    margin = np.inf
    for peak, ids in zip(kept, template.allowed, strict=True):
        if len(ids) > 1:
            runner_up, top = np.partition(peak[ids], -2)[-2:]
            margin = min(margin, float(top) / max(float(runner_up), TINY))
    return float(margin)
