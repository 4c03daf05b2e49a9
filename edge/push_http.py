"""What the edge's push endpoints share (ANPR results, camera snapshots): a small threaded
HTTP server with a lifecycle, and devices that authenticate with HTTP Basic against the
SHA-256 of their password (the edge keeps no password)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)
REQUEST_TIMEOUT_S = 10.0  # a sender that stops sending is dropped


def basic_user(authorization: str | None, password_sha256: dict[str, str]) -> str | None:
    """The device whose Basic credentials these are, or None (unknown or wrong)."""
    if authorization is None or not authorization.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    expected = password_sha256.get(user)
    digest = hashlib.sha256(password.encode()).hexdigest()
    return user if expected is not None and hmac.compare_digest(digest, expected) else None


class PushServer:
    """A ThreadingHTTPServer on `host:port` (0: any free port) serving `handler`."""

    def __init__(self, name: str, host: str, port: int, handler: type[BaseHTTPRequestHandler]):
        self._name, self._address, self._handler = name, (host, port), handler
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        return self._address[1] if self._server is None else int(self._server.server_address[1])

    def start(self) -> None:
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(self._address, self._handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=self._name, daemon=True).start()
        logger.info("%s accepted on port %d", self._name, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class PushListener:
    """The lifecycle every push endpoint shares; subclasses set `self._server`."""

    _server: PushServer

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
