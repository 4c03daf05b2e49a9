"""Choosing plate characters by position from a recogniser's per-step probabilities, on
posteriors built by hand (the real model's are exercised in test_plate_reading)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given

from edge.plates.decode import Alphabet, Posterior, best_path, read_plate, settled
from models.plates import PROVINCES, PlateClass, parse
from tests.unit.test_plate_properties import any_plate

SYMBOLS = ("blank", *PROVINCES, *"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", *"挂学警领港澳使")
SYMBOLS = (*SYMBOLS, "·", "o", "Ｄ", " ")
ALPHABET = Alphabet(SYMBOLS)

Step = dict[str, float]  # symbol -> probability; the rest of the step is blank


def _posterior(steps: list[Step], alphabet: Alphabet = ALPHABET) -> Posterior:
    index = {symbol: i for i, symbol in enumerate(alphabet.symbols)}
    probs = np.zeros((len(steps), len(alphabet.symbols)), np.float32)
    for row, step in enumerate(steps):
        for symbol, p in step.items():
            probs[row, index[symbol]] = p
        probs[row, 0] = 1.0 - sum(step.values())
    return Posterior(probs, alphabet)


def _clear(text: str, *, sure: float = 0.95) -> list[Step]:
    """Each character over two steps with a blank step between, as a CTC model writes."""
    steps: list[Step] = []
    for char in text:
        steps += [{char: sure}, {char: sure}, {}]
    return steps


@given(any_plate)
def test_a_clear_reading_of_any_plate_decodes_to_it(case: tuple[PlateClass, str]) -> None:
    _, number = case
    assume(number[1] != "O")  # the organs' O is read as the zero it is drawn as: a known gap
    guess = read_plate(_posterior(_clear(number)))
    assert guess is not None
    assert (guess.number, guess.plate_class) == (number, parse(number).plate_class)
    assert guess.score == pytest.approx(0.95)


def test_the_city_letter_is_the_likeliest_letter_by_the_model_not_a_table() -> None:
    steps = _clear("皖")
    steps += [{"0": 0.7, "Q": 0.2, "D": 0.05}, {}]  # a round glyph: zero, else Q
    steps += _clear("06417")
    guess = read_plate(_posterior(steps))
    assert guess is not None and guess.number == "皖Q06417"
    assert guess.weakest == pytest.approx(0.2)


def test_glyphs_no_plate_holds_count_for_their_twins() -> None:
    """O is never issued: where the model saw O the plate holds 0, and lower case is upper."""
    steps = [*_clear("皖AHB"), {"O": 0.9, "0": 0.02}, {}, {"o": 0.5, "0": 0.4}, {}]
    steps += [{"Ｄ": 0.6, "D": 0.3}, {}]  # full width
    guess = read_plate(_posterior(steps))
    assert guess is not None and guess.number == "皖AHB00D"
    assert guess.weakest == pytest.approx(0.9)
    assert guess.score <= 1.0


def test_a_glyph_read_as_o_then_as_0_is_one_character() -> None:
    steps = [*_clear("皖AHB"), {"O": 0.6}, {"0": 0.7}, {}, *_clear("12")]
    guess = read_plate(_posterior(steps))
    assert guess is not None and guess.number == "皖AHB012"
    assert guess.weakest == pytest.approx(0.7)


def test_separators_are_not_characters_and_a_stray_mark_may_be_dropped() -> None:
    with_dot = [*_clear("京A"), {"·": 0.9}, {}, *_clear("12345")]
    stray = [*_clear("京A12345"), {"1": 0.45, "7": 0.2}, {}]  # a bolt read as a faint 1
    for steps in (with_dot, stray):
        guess = read_plate(_posterior(steps))
        assert guess is not None and guess.number == "京A12345"
    guess = read_plate(_posterior(stray))
    assert guess is not None and guess.weakest == pytest.approx(0.55)  # it was nothing: 1 - 0.45


def test_dropping_a_confident_character_leaves_a_weak_guess() -> None:
    """Eight clear characters that fit no eight-character class are no seven-character
    plate: the dropped one counts with its chance of having been nothing."""
    guess = read_plate(_posterior(_clear("沪AB12345")))
    assert guess is not None and guess.weakest == pytest.approx(0.05)


def test_only_a_province_position_is_let_off_lightly() -> None:
    steps = [{"V": 0.9, "W": 0.02}, {}, *_clear("J12345")]
    guess = read_plate(_posterior(steps))
    assert guess is not None and guess.number == "WJ12345"
    assert guess.province == 1.0 and guess.weakest == pytest.approx(0.02)
    guess = read_plate(_posterior([{"京": 0.03, "A": 0.6}, {}, *_clear("A12345")]))
    assert guess is not None and guess.number == "京A12345"
    assert guess.province == pytest.approx(0.03) and guess.weakest == pytest.approx(0.95)


def test_a_reading_a_character_short_is_no_plate() -> None:
    assert read_plate(_posterior(_clear("川A662F"))) is None
    assert read_plate(_posterior([])) is None


def test_classes_limit_the_choice() -> None:
    """A blue plate is an ordinary one: an eighth mark is then a stray, not a new-energy
    plate's last digit."""
    steps = [*_clear("皖DFX886"), {"1": 0.6}, {}]
    assert read_plate(_posterior(steps)).number == "皖DFX8861"  # type: ignore[union-attr]
    ordinary = read_plate(_posterior(steps), {PlateClass.ORDINARY})
    assert ordinary is not None and ordinary.number == "皖DFX886"


def test_two_rows_joined_keep_a_character_that_ends_one_and_starts_the_next() -> None:
    top = _posterior([{"苏": 0.9}, {}, {"E": 0.9}, {"E": 0.9}])
    bottom = _posterior([{"E": 0.9}, {}, *_clear("1234")])
    guess = read_plate(top.then(bottom))
    assert guess is not None and guess.number == "苏EE1234"


def test_the_best_path_is_the_recognisers_own_text() -> None:
    text, score = best_path(_posterior(_clear("A·B", sure=0.8)))
    assert text == "A·B" and score == pytest.approx(0.8)
    assert best_path(_posterior([{}, {}])) == ("", 0.0)


# A second recogniser with its own alphabet: fewer symbols, in another order, no separators.
OTHER_SYMBOLS = ("", *reversed(PROVINCES), *"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", *"学挂")
OTHER = Alphabet(OTHER_SYMBOLS)


def _second(steps: list[Step]) -> Posterior:
    return _posterior(steps, OTHER)


def test_a_second_reading_breaks_the_first_models_near_tie() -> None:
    first = _posterior([{"鲁": 0.52, "粤": 0.45}, {}, *_clear("A5J512")])
    second = _second([{"粤": 0.9, "鲁": 0.01}, {}, *_clear("A5J512")])
    assert read_plate(first).number == "鲁A5J512"  # type: ignore[union-attr]
    guess = read_plate(first, second=second)
    assert guess is not None and guess.number == "粤A5J512"
    assert 0.45 < guess.province < 0.9  # between the two models' own


def test_a_second_reading_does_not_overrule_a_confident_first() -> None:
    """Counted as much as the first, this second reading would make it 桂; at its weight the
    first's 0.9 stands."""
    first = _posterior([{"皖": 0.9, "桂": 0.1}, {}, *_clear("ATK071")])
    second = _second([{"桂": 0.99, "皖": 0.01}, {}, *_clear("ATK071")])
    guess = read_plate(first, second=second)
    assert guess is not None and guess.number == "皖ATK071"


def test_the_second_reading_speaks_where_the_first_never_learned_a_symbol() -> None:
    blind = Alphabet(SYMBOLS, unlearned="学")
    steps = [*_clear("皖Q0686"), {"9": 0.9, "学": 1e-7}, {}]
    first = _posterior(steps, blind)
    second = _second([*_clear("皖Q0686"), {"学": 0.8, "9": 0.01}, {}])
    assert read_plate(first).number == "皖Q06869"  # type: ignore[union-attr]
    guess = read_plate(first, second=second)
    assert guess is not None and guess.number == "皖Q0686学"
    # Where the first has learned it, its own near-certainty that this is a 9 stands.
    guess = read_plate(_posterior(steps), second=second)
    assert guess is not None and guess.number == "皖Q06869"


def test_a_second_reading_of_another_length_has_no_say_on_that_class() -> None:
    """A second model that missed a character (or read nothing) does not turn the first's
    new-energy plate into the seven-character plate it read."""
    steps = [*_clear("苏E"), {"D": 0.8}, {"D": 0.8}, {}, *_clear("51712")]
    first = _posterior(steps)
    for second in (_second(_clear("苏E51712")), _second([])):
        guess = read_plate(first, second=second)
        assert guess is not None and guess.number == "苏ED51712"
        assert guess.score == pytest.approx((0.8 + 0.95 * 7) / 8)  # the first's own


def test_a_second_reading_is_asked_for_only_where_it_could_change_something() -> None:
    blind = Alphabet(SYMBOLS, unlearned="学")
    clear = _posterior(_clear("皖AHB012"), blind)
    unsure = _posterior([{"鲁": 0.8, "粤": 0.15}, {}, *_clear("A5J512")], blind)
    blue = {PlateClass.ORDINARY}
    assert settled(read_plate(clear, blue), clear, blue)  # type: ignore[arg-type]
    assert not settled(read_plate(unsure, blue), unsure, blue)  # type: ignore[arg-type]
    # a yellow plate may be a coach's, whose 学 the model never learned
    yellow = {PlateClass.ORDINARY, PlateClass.COACH}
    assert not settled(read_plate(clear, yellow), clear, yellow)  # type: ignore[arg-type]
    learned = _posterior(_clear("皖AHB012"))  # a model that has learned every symbol
    assert settled(read_plate(learned), learned)  # type: ignore[arg-type]


def test_a_character_sure_at_one_step_and_torn_at_the_next_is_not_settled() -> None:
    """Peaks over a character's steps can add up to more than one: what counts is the
    chosen symbol's odds against the next, not its probability alone."""
    torn = _posterior([{"鲁": 0.95}, {"鲁": 0.5, "粤": 0.49}, {}, *_clear("A5J512")])
    guess = read_plate(torn)
    assert guess is not None and guess.province == pytest.approx(0.95)
    assert not settled(guess, torn)
    dropped = _posterior([*_clear("京A12345"), {"1": 0.45, "7": 0.2}, {}])  # a stray mark
    guess = read_plate(dropped)
    assert guess is not None and guess.number == "京A12345" and not settled(guess, dropped)
