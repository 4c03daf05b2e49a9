"""Card readers: Wiegand-to-network converters that connect to the edge over TCP.

Each converter sends one card frame, key or QR scan a line (see `models.wiegand`); the edge
answers each line with an LED command once the decision is made, the event committed (or
refused by a full outbox, in which case the gate still follows the decision) and the relay
commanded: ``G`` (green, granted), ``R`` (red, denied),
``K`` (key taken: a PIN is being typed, ended by ``#``) or ``E`` (error, line rejected). A bad
or oversized line gets one ``E`` and is logged; the connection stays up.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

from edge.config import ReaderSection, WiegandReaderSection
from edge.errors import ListenError
from models.wiegand import (
    MAX_READER_LINE_BYTES,
    KeyPress,
    QrScan,
    WiegandError,
    WiegandRead,
    decode_frame,
)

logger = logging.getLogger(__name__)

CardHandler = Callable[[WiegandReaderSection, WiegandRead], bool]
PinHandler = Callable[[WiegandReaderSection, str], bool]
QrHandler = Callable[[WiegandReaderSection, str], bool]


class CredentialHandlers(Protocol):
    """What a reader hands its reads to; each answers whether the gate opened."""

    def card(self, reader: WiegandReaderSection, read: WiegandRead) -> bool: ...

    def pin(self, reader: WiegandReaderSection, pin: str) -> bool: ...

    def qr(self, reader: WiegandReaderSection, token: str) -> bool: ...


class ReaderListener(Protocol):
    section: WiegandReaderSection

    @property
    def port(self) -> int: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


MAX_CONNECTIONS = 8
MAX_PIN_DIGITS = 8
KEY_TIMEOUT_S = 10.0


class WiegandListener:
    def __init__(
        self,
        section: WiegandReaderSection,
        on_card: CardHandler,
        on_pin: PinHandler | None = None,
        on_qr: QrHandler | None = None,
    ) -> None:
        self.section = section
        self._on_card = on_card
        self._on_pin = on_pin
        self._on_qr = on_qr
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self.section.listen_port
        return int(self._server.server_address[1])

    def start(self) -> None:
        address = (self.section.listen_host, self.section.listen_port)
        try:
            self._server = _Server(address, self._handle)
        except OSError as exc:
            raise ListenError(f"reader for gate {self.section.gate_id}", address, exc) from exc
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        logger.info("reader for gate %s listening on port %d", self.section.gate_id, self.port)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, sock: socket.socket) -> None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        keypad = _Keypad()
        with sock.makefile("rb") as stream:
            for line in _lines(stream):
                sock.sendall(self._answer(line, keypad))

    def _answer(self, line: bytes | None, keypad: _Keypad) -> bytes:
        if line is None:
            limit = MAX_READER_LINE_BYTES
            logger.warning("reader %s: line over %d bytes", self.section.gate_id, limit)
            return b"E\r\n"
        try:
            frame = decode_frame(line)
        except WiegandError as exc:
            logger.warning("reader %s: %s", self.section.gate_id, exc)
            return b"E\r\n"
        if isinstance(frame, KeyPress):
            return self._key(frame.key, keypad)
        if isinstance(frame, QrScan):
            return _led(self._on_qr is not None and self._on_qr(self.section, frame.text))
        return _led(self._on_card(self.section, frame))

    def _key(self, key: str, keypad: _Keypad) -> bytes:
        """Digits gather (K); `*` clears (K); `#` submits the PIN (G or R)."""
        pin = keypad.press(key, time.monotonic())
        if pin is None:
            return b"K\r\n"
        if self._on_pin is None or not pin:
            return b"R\r\n"
        return _led(self._on_pin(self.section, pin))


def _led(granted: bool) -> bytes:
    return b"G\r\n" if granted else b"R\r\n"


class _Keypad:
    """The digits typed at one reader connection, forgotten after a pause or a `*`."""

    def __init__(self) -> None:
        self._digits = ""
        self._last = 0.0

    def press(self, key: str, now: float) -> str | None:
        """The PIN when `#` ends it; None while typing."""
        if now - self._last > KEY_TIMEOUT_S:
            self._digits = ""
        self._last = now
        if key == "#":
            pin, self._digits = self._digits, ""
            return pin
        if key == "*":
            self._digits = ""
        elif len(self._digits) < MAX_PIN_DIGITS:
            self._digits += key
        return None


def _lines(stream: BinaryIO) -> Iterator[bytes | None]:
    """Lines of at most MAX_READER_LINE_BYTES; None for a longer one, which is skipped whole."""
    while line := stream.readline(MAX_READER_LINE_BYTES + 1):
        if len(line) <= MAX_READER_LINE_BYTES:
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(MAX_READER_LINE_BYTES + 1)
        yield None


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handle: Callable[[socket.socket], None]) -> None:
        self.handle_connection = handle
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Connection)

    def verify_request(self, request: object, client_address: object) -> bool:
        if self.slots.acquire(blocking=False):
            return True
        logger.warning("reader connection from %s refused: too many connections", client_address)
        return False


class _Connection(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            self.server.handle_connection(self.request)
        except (ConnectionError, TimeoutError) as exc:
            logger.info("reader connection closed: %s", exc)
        finally:
            self.server.slots.release()


def _wiegand_tcp(section: ReaderSection, handlers: CredentialHandlers) -> ReaderListener:
    return WiegandListener(section, handlers.card, handlers.pin, handlers.qr)


# The reader listeners by the `type` of their configuration section.
READERS: dict[str, Callable[[ReaderSection, CredentialHandlers], ReaderListener]] = {
    "wiegand_tcp": _wiegand_tcp,
}


def make_reader(section: ReaderSection, handlers: CredentialHandlers) -> ReaderListener:
    return READERS[section.type](section, handlers)
