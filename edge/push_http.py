"""What the edge's push endpoints share (ANPR results, camera snapshots): a small threaded
HTTP server with a lifecycle, and devices that authenticate with HTTP Basic against the
SHA-256 of their password (the edge keeps no password), over HTTPS when the endpoint's
section has a certificate: the passwords and pictures cross the compound's network."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from anju.tls import TlsError, server_context
from edge.config import TlsSection
from edge.errors import ConfigError, ListenError

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


class _Server(ThreadingHTTPServer):
    """Each connection in its own thread; with TLS, the handshake happens there too, so a
    device that connects and stalls (or speaks plain HTTP) holds up no one else."""

    daemon_threads = True
    allow_reuse_address = True
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[Any, Any]:
        connection, address = super().get_request()
        if self.tls is not None:
            connection = self.tls.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(REQUEST_TIMEOUT_S)
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:  # plain HTTP, an untrusting client, silence
                logger.info("TLS handshake with %s failed: %s", client_address[0], exc)
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (TLS records garbled, a peer gone) is the peer's
        business; anything else is ours and is logged with its traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            logger.info("connection from %s failed: %s", client_address[0], error)
        else:
            logger.exception("request from %s failed", client_address[0])


class PushServer:
    """A threaded HTTP server on `host:port` (0: any free port) serving `handler`, over
    HTTPS when `tls` names a certificate and key."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        handler: type[BaseHTTPRequestHandler],
        tls: TlsSection | None = None,
    ) -> None:
        self._name, self._address, self._handler = name, (host, port), handler
        self._tls = tls
        self._server: _Server | None = None

    @property
    def port(self) -> int:
        return self._address[1] if self._server is None else int(self._server.server_address[1])

    @property
    def scheme(self) -> str:
        return "http" if self._tls is None else "https"

    def start(self) -> None:
        context = None
        if self._tls is not None:
            try:
                context = server_context(self._tls.cert_file, self._tls.key_file)
            except TlsError as exc:
                raise ConfigError(f"{self._name}: {exc}") from exc
        try:
            self._server = _Server(self._address, self._handler)
        except OSError as exc:
            raise ListenError(self._name, self._address, exc) from exc
        self._server.tls = context
        threading.Thread(target=self._server.serve_forever, name=self._name, daemon=True).start()
        logger.info("%s accepted on port %d (%s)", self._name, self.port, self.scheme)

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
