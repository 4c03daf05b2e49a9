"""Property tests of the plate validator and of the look-alike repair, for every plate class."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from models.plates import PROVINCES, PlateClass, PlateError, normalise, parse, repair

LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = LETTERS + DIGITS


def _chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


province = st.sampled_from(PROVINCES)
letter = st.sampled_from(LETTERS)
PLATES: dict[PlateClass, st.SearchStrategy[str]] = {
    PlateClass.ORDINARY: st.tuples(province, letter, _chars(ALNUM, 5)).map("".join),
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
# where it allows only letters, a look-alike digit can only have been that letter.
TO_LETTER = {"D": "0", "B": "8", "Z": "2"}
TO_DIGIT = {"0": "O", "1": "I", "8": "B", "2": "Z"}


@st.composite
def confused_ordinary(draw: st.DrawFn) -> tuple[str, str]:
    """An ordinary plate whose city letter was read as a look-alike digit and whose O/I-free
    tail was read with O for 0 and I for 1 (O and I never appear on plates)."""
    city = draw(st.sampled_from(sorted(TO_LETTER)))
    tail = draw(_chars(ALNUM, 5))
    number = draw(province) + city + tail
    read = number[0] + TO_LETTER[city] + tail.replace("0", "O").replace("1", "I")
    return number, read


@st.composite
def confused_new_energy_large(draw: st.DrawFn) -> tuple[str, str]:
    digits = draw(_chars(DIGITS, 5))
    number = draw(province) + draw(letter) + digits + draw(st.sampled_from("DF"))
    read = number[:2] + "".join(TO_DIGIT.get(d, d) for d in digits) + number[-1]
    return number, read


@given(confused_ordinary())
@settings(max_examples=300)
def test_look_alikes_are_repaired_by_position(case: tuple[str, str]) -> None:
    number, read = case
    assert repair(read).number == number


@given(confused_new_energy_large())
@settings(max_examples=300)
def test_a_repair_is_right_or_refused_never_a_guess(case: tuple[str, str]) -> None:
    """京AOZOOOD is 京A02000D (large new-energy) or 京ADZ0000 (small) with as many changes
    either way: such a read is refused, naming both, rather than guessed."""
    number, read = case
    try:
        assert repair(read).number == number
    except PlateError as exc:
        assert number in str(exc)


@given(st.text(max_size=12))
def test_repair_never_invents_a_plate_from_junk(text: str) -> None:
    try:
        plate = repair(text)
    except PlateError:
        return
    assert len(plate.number) == len(normalise(text))
