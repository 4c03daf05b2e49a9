"""A Wiegand-to-network converter with a card reader, a keypad and a QR scanner behind it.

It connects to the edge over TCP, sends one Wiegand frame a line for every card presented or key
pressed on its keypad, and reads the LED answer (G granted, R denied, K key taken, E rejected
frame). When the connection drops before
an answer, it reconnects and presents the card again, as a person would swipe again.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from models.wiegand import encode, encode_key, encode_qr

_ANSWERS = {"G": "granted", "R": "denied", "E": "rejected", "K": "key"}


@dataclass(frozen=True)
class Swipe:
    card: int
    bits: int = 26


@dataclass(frozen=True)
class Answer:
    card: int
    result: str
    attempts: int


BIT_INTERVAL_S = 0.002  # a Wiegand bit: a 50 µs pulse every 2 ms
END_OF_FRAME_S = 0.025  # the converter's silence before it forwards a frame
QR_DECODE_S = 0.08  # a scanner finding and decoding a code on a phone screen


class CardReader:
    """`realistic` adds the time the frame takes on the Wiegand wire (or the scanner takes to
    decode) before the converter forwards it; the tests leave it off."""

    def __init__(
        self, host: str, port: int, *, timeout_s: float = 5.0, realistic: bool = False
    ) -> None:
        self._address = (host, port)
        self._timeout_s = timeout_s
        self._realistic = realistic
        self._sock: socket.socket | None = None
        self._stream: socket.SocketIO | None = None

    def present(self, swipe: Swipe, *, give_up_after_s: float = 60.0) -> Answer:
        deadline = time.monotonic() + give_up_after_s
        attempts = 0
        while True:
            attempts += 1
            try:
                self._on_the_wire(swipe.bits * BIT_INTERVAL_S)
                return Answer(swipe.card, self._send(encode(swipe.bits, swipe.card)), attempts)
            except OSError:
                self.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def show_qr(self, text: str) -> str:
        """Hold a QR code (a visitor pass on a phone) to the scanner: the answer to it."""
        self._on_the_wire(QR_DECODE_S)
        return self._send(encode_qr(text))

    def enter_pin(self, pin: str) -> str:
        """Type `pin` on the keypad and press `#`: the answer to the whole PIN."""
        for key in pin:
            self._on_the_wire(4 * BIT_INTERVAL_S)
            answer = self._send(encode_key(key))
            if answer != "key":
                return answer
        return self._send(encode_key("#"))

    def send_raw(self, line: bytes) -> str:
        """Send an arbitrary line (for testing the edge against a faulty converter)."""
        return self._send(line)

    def _on_the_wire(self, seconds: float) -> None:
        if self._realistic:
            time.sleep(seconds + END_OF_FRAME_S)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None

    def _send(self, line: bytes) -> str:
        sock = self._connect()
        sock.sendall(line)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = sock.recv(16)
            if not chunk:
                raise ConnectionResetError("edge closed the connection")
            answer += chunk
        code = answer.decode("ascii", errors="replace").strip()
        return _ANSWERS.get(code, f"unexpected:{code}")

    def _connect(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection(self._address, timeout=self._timeout_s)
        return self._sock


def play(reader: CardReader, swipes: Iterable[Swipe], interval_s: float) -> list[Answer]:
    answers = []
    for swipe in swipes:
        answers.append(reader.present(swipe))
        time.sleep(interval_s)
    return answers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m firmware_mocks.card_reader", description=__doc__
    )
    parser.add_argument("--edge", required=True, help="HOST:PORT of the edge's reader listener")
    parser.add_argument("--cards", default="", help="comma-separated card numbers, in order")
    parser.add_argument("--qr", action="append", default=[], help="a QR code to show, after cards")
    parser.add_argument("--bits", type=int, default=26, choices=(26, 34))
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between swipes")
    args = parser.parse_args(argv)
    host, _, port = args.edge.rpartition(":")
    reader = CardReader(host, int(port), realistic=True)
    swipes = [Swipe(int(card), args.bits) for card in args.cards.split(",") if card]
    for answer in play(reader, swipes, args.interval):
        print(json.dumps({"card": answer.card, "result": answer.result}), flush=True)
    for code in args.qr:
        print(json.dumps({"qr": code[:24], "result": reader.show_qr(code)}), flush=True)
        time.sleep(args.interval)
    reader.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
