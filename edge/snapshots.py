"""Cameras that push JPEG snapshots instead of streaming: ``POST /cameras/<id>/snapshot``
with HTTP Basic credentials (the camera's id and password; the edge keeps the password's
SHA-256) and the JPEG as the body. Each snapshot becomes the camera's newest frame, read by
its lane like any stream's. A bad credential gets 401, a body that is not an image 400, one
over 20 MB 413; the listener goes on."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from edge.capture import Frame
from edge.config import CameraSection, SnapshotSection
from edge.images import MAX_BYTES, ImageError, decode

logger = logging.getLogger(__name__)
REQUEST_TIMEOUT_S = 10.0


class PushedFrames:
    """A camera's source when it pushes: the newest snapshot wins, like a stream's frame."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._latest: Frame | None = None
        self._number = 0
        self._cond = threading.Condition()

    def start(self) -> None:
        return

    def stop(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def push(self, image: np.ndarray) -> None:
        with self._cond:
            self._number += 1
            self._latest = Frame(self._number, image, time.monotonic())
            self._cond.notify_all()

    def next_frame(self, after: int, timeout_s: float) -> Frame | None:
        with self._cond:
            self._cond.wait_for(
                lambda: self._latest is not None and self._latest.number > after, timeout_s
            )
            latest = self._latest
        return latest if latest is not None and latest.number > after else None


class SnapshotListener:
    def __init__(self, section: SnapshotSection, cameras: list[CameraSection]) -> None:
        self.section = section
        self._cameras = {c.id: c for c in cameras if c.source == "push"}
        self.sources = {camera_id: PushedFrames(camera_id) for camera_id in self._cameras}
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self.section.listen_port
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._server = _server(self)
        threading.Thread(target=self._server.serve_forever, name="snapshots", daemon=True).start()
        logger.info("camera snapshots accepted on port %d", self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def authorised(self, camera_id: str, authorization: str | None) -> bool:
        camera = self._cameras.get(camera_id)
        if camera is None or camera.password_sha256 is None or authorization is None:
            return False
        if not authorization.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        digest = hashlib.sha256(password.encode()).hexdigest()
        return user == camera_id and hmac.compare_digest(digest, camera.password_sha256)


def _server(listener: SnapshotListener) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug(format, *args)

        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "cameras" or parts[2] != "snapshot":
                self._reply(404, "push to /cameras/<id>/snapshot")
                return
            camera_id = parts[1]
            if not listener.authorised(camera_id, self.headers.get("Authorization")):
                self._reply(401, "unknown camera or wrong password")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_BYTES:
                    self._reply(413, "missing or too large a snapshot")
                    return
                image = decode(self.rfile.read(length))
            except (ImageError, ValueError) as exc:
                self._reply(400, f"not a usable image: {exc}")
                return
            except (TimeoutError, ConnectionError):
                return
            listener.sources[camera_id].push(image)
            self._reply(202, "accepted")

        def _reply(self, status: int, text: str) -> None:
            if status >= 400:
                logger.warning("snapshot push refused (%d): %s", status, text)
            payload = json.dumps({"status": text}).encode()
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="cameras"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(
        (listener.section.listen_host, listener.section.listen_port), Handler
    )
    server.daemon_threads = True
    return server
