from __future__ import annotations

import pytest

from models.plates import PlateClass, PlateError, normalise, parse, repair


@pytest.mark.parametrize(
    ("text", "number", "plate_class"),
    [
        ("鲁C·12345", "鲁C12345", PlateClass.ORDINARY),
        ("京A 8B3C1", "京A8B3C1", PlateClass.ORDINARY),
        ("粤O·A9112", "粤OA9112", PlateClass.ORDINARY),  # a public-security organ's plate
        ("苏ED51712", "苏ED51712", PlateClass.NEW_ENERGY_SMALL),
        ("鲁C·D12345", "鲁CD12345", PlateClass.NEW_ENERGY_SMALL),
        ("粤B12345F", "粤B12345F", PlateClass.NEW_ENERGY_LARGE),
        ("沪A1234挂", "沪A1234挂", PlateClass.TRAILER),
        ("浙A1234学", "浙A1234学", PlateClass.COACH),
        ("京A0123警", "京A0123警", PlateClass.POLICE),
        ("粤Z1234港", "粤Z1234港", PlateClass.HONG_KONG_MACAU),
        ("使123456", "使123456", PlateClass.EMBASSY),
        ("WJ京1234X", "WJ京1234X", PlateClass.ARMED_POLICE),
    ],
)
def test_every_plate_class_parses(text: str, number: str, plate_class: PlateClass) -> None:
    plate = parse(text)
    assert (plate.number, plate.plate_class) == (number, plate_class)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28 08:00",  # a camera's timestamp
        "顺丰速运",  # van lettering
        "A12345",  # no province
        "鲁I12345",  # I is never a plate letter
        "鲁CO1234",  # nor O after the issuing authority
        "粤O1234学",  # whose O is on ordinary plates only
        "鲁C1234",  # too short
        "鲁C123456789",
        "",
        "x" * 100,
    ],
)
def test_strings_that_are_not_plates_are_rejected(text: str) -> None:
    with pytest.raises(PlateError):
        parse(text)


def test_full_width_and_lower_case_are_normalised() -> None:
    assert normalise("鲁ｃ·１２３４５") == "鲁C12345"


def test_an_organs_o_is_kept_and_any_other_o_is_a_zero() -> None:
    assert repair("粤OA9112").number == "粤OA9112"
    assert repair("粤AO9112").number == "粤A09112"
    assert repair("粤0A9112").number == "粤DA9112"  # a 0 read there is the commoner letter
