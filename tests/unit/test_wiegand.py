from __future__ import annotations

import pytest

from models.wiegand import KeyPress, WiegandError, decode, decode_frame, encode, encode_key


@pytest.mark.parametrize(
    ("bits", "data"),
    [(26, 0), (26, 1001), (26, (1 << 24) - 1), (34, 123456789), (34, (1 << 32) - 1)],
)
def test_frames_round_trip(bits: int, data: int) -> None:
    read = decode(encode(bits, data))
    assert (read.bits, read.data, read.card_number) == (bits, data, str(data))


def test_h10301_frame_matches_a_known_card() -> None:
    # Facility 1, card 1: data bits 0x010001. The first 12 data bits hold one 1, so the even
    # parity bit is 1; the last 12 hold one 1, so the odd parity bit is 0.
    assert encode(26, 0x010001) == b"W26:2020002\r\n"


def _flip(line: bytes, bit: int) -> bytes:
    bits, hex_frame = line.decode().strip()[1:].split(":")
    frame = int(hex_frame, 16) ^ (1 << bit)
    return f"W{bits}:{frame:0{len(hex_frame)}X}\r\n".encode()


@pytest.mark.parametrize("bit", [0, 5, 13, 20, 25])
def test_any_single_bit_error_fails_parity(bit: int) -> None:
    with pytest.raises(WiegandError):
        decode(_flip(encode(26, 0xABCDE), bit))


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"hello\r\n",
        b"W27:0000001\r\n",
        b"W26:FFFFFFFF\r\n",
        b"W26:" + b"0" * 100,
        b"W26:xyz\r\n",
    ],
)
def test_bad_lines_are_rejected(line: bytes) -> None:
    with pytest.raises(WiegandError):
        decode(line)


def test_card_data_must_fit_the_frame() -> None:
    with pytest.raises(WiegandError):
        encode(26, 1 << 24)
    with pytest.raises(WiegandError):
        encode(30, 1)


@pytest.mark.parametrize("key", list("0123456789*#"))
def test_keypad_keys_round_trip(key: str) -> None:
    assert decode_frame(encode_key(key)) == KeyPress(key)


def test_card_frames_still_decode_through_decode_frame() -> None:
    assert decode_frame(encode(26, 1001)).card_number == "1001"  # type: ignore[union-attr]


@pytest.mark.parametrize("line", [b"W4:C\r\n", b"W4:F\r\n", b"W5:1\r\n"])
def test_unknown_key_codes_are_rejected(line: bytes) -> None:
    with pytest.raises(WiegandError):
        decode_frame(line)
