"""The edge's Wiegand listener against a converter that misbehaves, over real TCP."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from edge.config import WiegandReaderSection
from edge.readers import MAX_CONNECTIONS, WiegandListener
from firmware_mocks.card_reader import CardReader, Swipe
from harness.processes import free_port
from models.events import Direction
from models.wiegand import WiegandRead, encode

GRANTED = {"1001"}


@pytest.fixture
def listener() -> Iterator[tuple[WiegandListener, list[str]]]:
    seen: list[str] = []

    def on_card(section: WiegandReaderSection, read: WiegandRead) -> bool:
        seen.append(read.card_number)
        return read.card_number in GRANTED

    section = WiegandReaderSection(
        listen_port=free_port(), gate_id="g1", lane="l1", direction=Direction.IN
    )
    listener = WiegandListener(section, on_card)
    listener.start()
    yield listener, seen
    listener.stop()


def _exchange(port: int, data: bytes, answers: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while received.count(b"\n") < answers:
            chunk = sock.recv(64)
            if not chunk:
                break
            received += chunk
        return received


def test_swipes_are_decided_and_answered(listener: tuple[WiegandListener, list[str]]) -> None:
    server, seen = listener
    reader = CardReader("127.0.0.1", server.port)
    assert [reader.present(Swipe(c)).result for c in (1001, 4242)] == ["granted", "denied"]
    reader.close()
    assert seen == ["1001", "4242"]


def test_a_frame_hidden_after_junk_on_one_line_does_not_open(
    listener: tuple[WiegandListener, list[str]],
) -> None:
    server, seen = listener
    line = b"x" * 70 + encode(26, 1001)  # one line: junk, then a valid frame
    assert _exchange(server.port, line + encode(26, 4242), answers=2) == b"E\r\nR\r\n"
    assert seen == ["4242"]


def test_garbage_gets_an_error_answer_and_the_connection_stays_up(
    listener: tuple[WiegandListener, list[str]],
) -> None:
    server, _ = listener
    data = b"hello\r\nW26:0000000\r\n\xff\xfe\r\n" + encode(26, 1001)
    assert _exchange(server.port, data, answers=4) == b"E\r\nE\r\nE\r\nG\r\n"


def test_connections_beyond_the_limit_are_refused_and_others_served(
    listener: tuple[WiegandListener, list[str]],
) -> None:
    server, _ = listener
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(MAX_CONNECTIONS)]
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as extra:
            extra.sendall(encode(26, 1001))
            assert extra.recv(16) == b""  # closed without an answer
    finally:
        for sock in idle:
            sock.close()
    reader = CardReader("127.0.0.1", server.port)
    assert reader.present(Swipe(1001), give_up_after_s=10).result == "granted"
    reader.close()


@pytest.fixture
def keypad() -> Iterator[tuple[WiegandListener, list[str]]]:
    pins: list[str] = []

    def on_pin(section: WiegandReaderSection, pin: str) -> bool:
        pins.append(pin)
        return pin == "482913"

    section = WiegandReaderSection(
        listen_port=free_port(), gate_id="g1", lane="l1", direction=Direction.IN
    )
    listener = WiegandListener(section, lambda s, r: False, on_pin)
    listener.start()
    yield listener, pins
    listener.stop()


def test_a_pin_is_typed_key_by_key_and_ended_by_hash(
    keypad: tuple[WiegandListener, list[str]],
) -> None:
    server, pins = keypad
    reader = CardReader("127.0.0.1", server.port)
    assert reader.enter_pin("482913") == "granted"
    assert reader.enter_pin("1234") == "denied"
    assert reader.enter_pin("99*482913") == "granted"  # * clears what was typed
    reader.close()
    assert pins == ["482913", "1234", "482913"]


def test_a_pin_is_never_longer_than_eight_digits(
    keypad: tuple[WiegandListener, list[str]],
) -> None:
    server, pins = keypad
    reader = CardReader("127.0.0.1", server.port)
    assert reader.enter_pin("1234567890") == "denied"
    reader.close()
    assert pins == ["12345678"]
