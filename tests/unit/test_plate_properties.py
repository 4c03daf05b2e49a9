"""Property tests of the plate validator and of the look-alike repair, for every plate class."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from models.plates import (
    MAX_REPAIRS,
    PROVINCES,
    PlateClass,
    PlateError,
    normalise,
    parse,
    repair,
)

LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = LETTERS + DIGITS


def _chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


province = st.sampled_from(PROVINCES)
letter = st.sampled_from(LETTERS)
authority = st.sampled_from(LETTERS + "O")  # an ordinary plate's: O for the organs
PLATES: dict[PlateClass, st.SearchStrategy[str]] = {
    PlateClass.ORDINARY: st.tuples(province, authority, _chars(ALNUM, 5)).map("".join),
    PlateClass.NEW_ENERGY_SMALL: st.tuples(
        province, letter, st.sampled_from("DF"), _chars(ALNUM, 1), _chars(DIGITS, 4)
    ).map("".join),
    PlateClass.NEW_ENERGY_LARGE: st.tuples(
        province, letter, _chars(DIGITS, 5), st.sampled_from("DF")
    ).map("".join),
    PlateClass.TRAILER: st.tuples(province, letter, _chars(ALNUM, 4), st.just("挂")).map("".join),
    PlateClass.COACH: st.tuples(province, letter, _chars(ALNUM, 4), st.just("学")).map("".join),
    PlateClass.POLICE: st.tuples(province, letter, _chars(ALNUM, 4), st.just("警")).map("".join),
    PlateClass.HONG_KONG_MACAU: st.tuples(
        st.just("粤Z"), _chars(ALNUM, 4), st.sampled_from("港澳")
    ).map("".join),
    PlateClass.CONSULATE: st.tuples(province, letter, _chars(DIGITS, 4), st.just("领")).map(
        "".join
    ),
    PlateClass.EMBASSY: st.tuples(st.just("使"), _chars(DIGITS, 6)).map("".join),
    PlateClass.ARMED_POLICE: st.tuples(
        st.just("WJ"), province, _chars(DIGITS, 4), _chars(ALNUM, 1)
    ).map("".join),
}
any_plate = st.sampled_from(list(PLATES)).flatmap(lambda cls: st.tuples(st.just(cls), PLATES[cls]))


@given(any_plate)
def test_every_generated_plate_parses_to_its_class(case: tuple[PlateClass, str]) -> None:
    plate_class, number = case
    plate = parse(number)
    assert plate.number == number
    # A 5-character ordinary tail can also be a new-energy shape; the class must be one
    # whose pattern the number fits, and new-energy shapes are tried first.
    if plate_class is not PlateClass.ORDINARY:
        assert plate.plate_class is plate_class


@given(any_plate, st.sampled_from(["", " ", "·", "-", "•"]), st.booleans())
def test_separators_and_case_do_not_change_a_plate(
    case: tuple[PlateClass, str], separator: str, lower: bool
) -> None:
    number = case[1]
    written = number[:2] + separator + number[2:]
    assert parse(written.lower() if lower else written).number == number


@given(any_plate)
def test_a_valid_plate_is_its_own_repair(case: tuple[PlateClass, str]) -> None:
    assert repair(case[1]).number == case[1]


# Where a position allows only digits, a look-alike letter can only have been that digit;
# where it allows only letters, a look-alike digit can only have been that letter; O and I
# are never on plates after the city letter. At most `MAX_REPAIRS` characters are misread.
TO_LETTER = {"D": "0", "B": "8", "Z": "2"}
TO_DIGIT = {"0": "O", "1": "I", "8": "B", "2": "Z"}
TO_ALNUM = {"0": "O", "1": "I"}


def _confuse(number: str, table: dict[str, str], positions: list[int], picks: list[int]) -> str:
    chars = list(number)
    for index in picks:
        position = positions[index % len(positions)]
        chars[position] = table.get(chars[position], chars[position])
    return "".join(chars)


@st.composite
def confused_ordinary(draw: st.DrawFn) -> tuple[str, str]:
    """The city letter read as a look-alike digit, and one more misread in the tail."""
    city = draw(st.sampled_from(sorted(TO_LETTER)))
    number = draw(province) + city + draw(_chars(ALNUM, 5))
    read = number[0] + TO_LETTER[city] + number[2:]
    picks = draw(st.lists(st.integers(0, 4), max_size=1))
    return number, _confuse(read, TO_ALNUM, [2, 3, 4, 5, 6], picks)


@st.composite
def confused_new_energy_large(draw: st.DrawFn) -> tuple[str, str]:
    number = draw(province) + draw(letter) + draw(_chars(DIGITS, 5)) + draw(st.sampled_from("DF"))
    picks = draw(st.lists(st.integers(0, 4), max_size=MAX_REPAIRS))
    return number, _confuse(number, TO_DIGIT, [2, 3, 4, 5, 6], picks)


@given(confused_ordinary())
@settings(max_examples=300)
def test_look_alikes_are_repaired_by_position(case: tuple[str, str]) -> None:
    number, read = case
    assert repair(read).number == number


@given(confused_new_energy_large())
@settings(max_examples=300)
def test_a_repair_is_right_or_refused_never_a_guess(case: tuple[str, str]) -> None:
    """A read that two plates explain with as many changes is refused, naming both, rather
    than guessed; otherwise the repair is the plate."""
    number, read = case
    try:
        assert repair(read).number == number
    except PlateError as exc:
        assert number in str(exc)


@given(province, letter, _chars(DIGITS, 5))
def test_a_stray_round_mark_never_makes_a_new_energy_plate(
    prov: str, city: str, digits: str
) -> None:
    """京A12345 with a rivet read as 0 after it is not the new-energy 京A12345D."""
    try:
        plate = repair(prov + city + digits + "0")
    except PlateError:
        return
    assert plate.plate_class is not PlateClass.NEW_ENERGY_LARGE


@given(st.text(max_size=12))
def test_repair_never_invents_a_plate_from_junk(text: str) -> None:
    """Whatever it returns is a plate the text was within `MAX_REPAIRS` characters of."""
    try:
        plate = repair(text)
    except PlateError:
        return
    read = normalise(text)
    assert parse(plate.number) == plate
    assert len(plate.number) == len(read)
    assert sum(a != b for a, b in zip(plate.number, read, strict=True)) <= MAX_REPAIRS
