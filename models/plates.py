"""Chinese licence plates: normalisation and format validation.

Plates are stored and compared without separators or spaces, upper case: 鲁C12345, 鲁CD12345.
Classes understood: ordinary 7-character plates (blue, yellow; the letter O after the province
marks the public-security and state organs' blue plates, 粤O·A9112), with the 挂/学/警/港/澳/领
suffixes; new-energy 8-character plates (small: D or F then five; large: five digits then D or
F); embassy plates (使); armed police (WJ). Strings that fit none of them (timestamps, shop
signs, van lettering) are rejected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from models.errors import ContractError

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_LETTER = "A-HJ-NP-Z"  # letters on plates: no I, no O
_AUTHORITY = "A-HJ-Z"  # an ordinary plate's issuing-authority letter: O for the organs
_ALNUM = f"0-9{_LETTER}"
_SEPARATORS = re.compile(r"[\s·•・.\-‐–—_]")  # the plate's dot, dashes, spaces


class PlateError(ContractError):
    reason = "bad_plate"


class PlateClass(StrEnum):
    ORDINARY = "ordinary"
    NEW_ENERGY_SMALL = "new_energy_small"
    NEW_ENERGY_LARGE = "new_energy_large"
    TRAILER = "trailer"
    COACH = "coach"
    POLICE = "police"
    HONG_KONG_MACAU = "hong_kong_macau"
    CONSULATE = "consulate"
    EMBASSY = "embassy"
    ARMED_POLICE = "armed_police"


_PATTERNS: tuple[tuple[PlateClass, re.Pattern[str]], ...] = tuple(
    (cls, re.compile(pattern))
    for cls, pattern in (
        (PlateClass.NEW_ENERGY_SMALL, f"^[{PROVINCES}][{_LETTER}][DF][{_ALNUM}][0-9]{{4}}$"),
        (PlateClass.NEW_ENERGY_LARGE, f"^[{PROVINCES}][{_LETTER}][0-9]{{5}}[DF]$"),
        (PlateClass.ORDINARY, f"^[{PROVINCES}][{_AUTHORITY}][{_ALNUM}]{{5}}$"),
        (PlateClass.TRAILER, f"^[{PROVINCES}][{_LETTER}][{_ALNUM}]{{4}}挂$"),
        (PlateClass.COACH, f"^[{PROVINCES}][{_LETTER}][{_ALNUM}]{{4}}学$"),
        (PlateClass.POLICE, f"^[{PROVINCES}][{_LETTER}][{_ALNUM}]{{4}}警$"),
        (PlateClass.HONG_KONG_MACAU, f"^粤Z[{_ALNUM}]{{4}}[港澳]$"),
        (PlateClass.CONSULATE, f"^[{PROVINCES}][{_LETTER}][0-9]{{4}}领$"),
        (PlateClass.EMBASSY, "^使[0-9]{6}$"),
        (PlateClass.ARMED_POLICE, f"^WJ[{PROVINCES}]?[0-9]{{4}}[{_ALNUM}]$"),
    )
)


@dataclass(frozen=True)
class Plate:
    number: str
    plate_class: PlateClass


def normalise(text: str) -> str:
    """Upper case, full-width folded to ASCII, separators and spaces removed."""
    folded = "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in text)
    return _SEPARATORS.sub("", folded).upper()


def parse(text: str) -> Plate:
    """A valid plate, or PlateError saying why not."""
    if len(text) > 20:
        raise PlateError("too long to be a plate")
    number = normalise(text)
    for plate_class, pattern in _PATTERNS:
        if pattern.match(number):
            return Plate(number, plate_class)
    raise PlateError(f"{text!r} is not a Chinese licence plate")


def within_one(a: str, b: str) -> bool:
    """Whether two plate numbers differ in at most one character (what one misread makes)."""
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) <= 1


# Position-aware repair of OCR confusions. Each plate class is a sequence of allowed sets;
# a character that is not allowed where it stands is replaced by its likeliest look-alike that
# is (O and I never appear after the city letter, so there they always have a repair). The
# new-energy D/F marker is never made by a repair (a stray round mark is not a class), and a
# reading that needs more than `MAX_REPAIRS` changes is not a plate.
_LETTERS = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ")
_AUTHORITIES = _LETTERS | {"O"}
_DIGITS = frozenset("0123456789")
_ALNUMS = _LETTERS | _DIGITS
_PROVINCE = frozenset(PROVINCES)
_LOOK_ALIKES: dict[str, str] = {
    "0": "DO",
    "O": "0D",
    "D": "0",
    "I": "1",
    "1": "I",
    "B": "8",
    "8": "B",
    "Z": "2",
    "2": "Z",
    "4": "A",
}
_MARKER = frozenset("DF")  # taken as read, never repaired into
_GUANGDONG = frozenset("粤")
MAX_REPAIRS = 2

Template = tuple[frozenset[str], ...]
# What may stand at each position of each plate class, for readers that choose characters by
# position (the repair below, and edge.plates.decode over a recogniser's probabilities).
TEMPLATES: tuple[tuple[PlateClass, Template], ...] = (
    (PlateClass.NEW_ENERGY_SMALL, (_PROVINCE, _LETTERS, _MARKER, _ALNUMS, *[_DIGITS] * 4)),
    (PlateClass.NEW_ENERGY_LARGE, (_PROVINCE, _LETTERS, *[_DIGITS] * 5, _MARKER)),
    (PlateClass.ORDINARY, (_PROVINCE, _AUTHORITIES, *[_ALNUMS] * 5)),
    (PlateClass.TRAILER, (_PROVINCE, _LETTERS, *[_ALNUMS] * 4, frozenset("挂"))),
    (PlateClass.COACH, (_PROVINCE, _LETTERS, *[_ALNUMS] * 4, frozenset("学"))),
    (PlateClass.POLICE, (_PROVINCE, _LETTERS, *[_ALNUMS] * 4, frozenset("警"))),
    (PlateClass.CONSULATE, (_PROVINCE, _LETTERS, *[_DIGITS] * 4, frozenset("领"))),
    (PlateClass.HONG_KONG_MACAU, (_GUANGDONG, frozenset("Z"), *[_ALNUMS] * 4, frozenset("港澳"))),
    (PlateClass.EMBASSY, (frozenset("使"), *[_DIGITS] * 6)),
    (PlateClass.ARMED_POLICE, (frozenset("W"), frozenset("J"), _PROVINCE, *[_DIGITS] * 4, _ALNUMS)),
    (PlateClass.ARMED_POLICE, (frozenset("W"), frozenset("J"), *[_DIGITS] * 4, _ALNUMS)),
)
# The classes a plate of each background colour may be (GA 36): a blue plate is an ordinary
# one, never a new-energy one; a yellow one may be a large new-energy plate (yellow shading
# into green). Green is not listed: a blue plate seen among trees or under a green lamp
# looks green, and a mistaken constraint would lose it.
CLASSES_BY_COLOUR: dict[str, frozenset[PlateClass]] = {
    "blue": frozenset({PlateClass.ORDINARY}),
    "yellow": frozenset(
        {PlateClass.ORDINARY, PlateClass.TRAILER, PlateClass.COACH, PlateClass.NEW_ENERGY_LARGE}
    ),
}

# Text alone is repaired only into the common classes: the rare ones must be read as they are.
_REPAIRED = frozenset(PlateClass) - {
    PlateClass.HONG_KONG_MACAU,
    PlateClass.EMBASSY,
    PlateClass.ARMED_POLICE,
}


def repair(text: str) -> Plate:
    """`text` as a valid plate, after undoing look-alike confusions where a character's
    position rules it out (a 0 where only letters go is a D); the reading needing the fewest
    changes wins, and a tie between different plates is refused rather than guessed."""
    number = normalise(text)
    with_changes: dict[str, int] = {}
    for plate_class, template in TEMPLATES:
        if plate_class not in _REPAIRED:
            continue
        fixed = _fit(number, template)
        if fixed is not None:
            changes = sum(a != b for a, b in zip(fixed, number, strict=True))
            with_changes[fixed] = min(changes, with_changes.get(fixed, changes))
    with_changes = {plate: n for plate, n in with_changes.items() if n <= MAX_REPAIRS}
    if not with_changes:
        return parse(number)
    fewest = min(with_changes.values())
    best = [plate for plate, n in with_changes.items() if n == fewest]
    if len(best) > 1:
        raise PlateError(f"{text!r} could be {' or '.join(sorted(best))}")
    return parse(best[0])


def _fit(number: str, template: tuple[frozenset[str], ...]) -> str | None:
    if len(number) != len(template):
        return None
    out = []
    for char, allowed in zip(number, template, strict=True):
        if char in allowed:
            out.append(char)
            continue
        options = [c for c in _LOOK_ALIKES.get(char, "") if c in allowed]
        if not options or allowed is _MARKER:
            return None
        out.append(options[0])
    return "".join(out)
