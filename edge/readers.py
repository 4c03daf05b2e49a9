"""Card readers: Wiegand-to-network converters that connect to the edge over TCP.

Each converter sends one frame a line (see `models.wiegand`); the edge answers each frame with
an LED command once the event is committed: ``G`` (green, granted), ``R`` (red, denied) or
``E`` (error, frame rejected). A bad frame is answered and logged; the connection stays up.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable

from edge.config import WiegandReaderSection
from models.wiegand import MAX_LINE_BYTES, WiegandError, WiegandRead, decode

logger = logging.getLogger(__name__)

CardHandler = Callable[[WiegandReaderSection, WiegandRead], bool]


class WiegandListener:
    def __init__(self, section: WiegandReaderSection, on_card: CardHandler) -> None:
        self.section = section
        self._on_card = on_card
        self._server = _Server((section.listen_host, section.listen_port), self._handle)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        logger.info("reader for gate %s listening on port %d", self.section.gate_id, self.port)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, sock: socket.socket) -> None:
        stream = sock.makefile("rb")
        for line in iter(lambda: stream.readline(MAX_LINE_BYTES + 1), b""):
            sock.sendall(self._answer(line))

    def _answer(self, line: bytes) -> bytes:
        try:
            read = decode(line)
        except WiegandError as exc:
            logger.warning("reader %s: %s", self.section.gate_id, exc)
            return b"E\r\n"
        return b"G\r\n" if self._on_card(self.section, read) else b"R\r\n"


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handle: Callable[[socket.socket], None]) -> None:
        self.handle_connection = handle
        super().__init__(address, _Connection)


class _Connection(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        try:
            self.server.handle_connection(self.request)
        except (ConnectionError, TimeoutError) as exc:
            logger.info("reader connection closed: %s", exc)
