"""Cameras that push JPEG snapshots instead of streaming: ``POST /cameras/<id>/snapshot``
with HTTP Basic credentials (the camera's id and password; the edge keeps the password's
SHA-256) and the JPEG as the body. Each snapshot becomes the camera's newest frame, read by
its lane like any stream's. A bad credential gets 401, a body that is not an image 400, one
over 20 MB 413; the listener goes on."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np

from edge.capture import Frame
from edge.config import CameraSection, SnapshotSection
from edge.images import MAX_BYTES, ImageError, decode
from edge.push_http import REQUEST_TIMEOUT_S, PushListener, PushServer, basic_user

logger = logging.getLogger(__name__)


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


class SnapshotListener(PushListener):
    def __init__(self, section: SnapshotSection, cameras: list[CameraSection]) -> None:
        self.section = section
        pushing = [c for c in cameras if c.source == "push"]
        self._passwords = {c.id: c.password_sha256 or "" for c in pushing}
        self.sources = {c.id: PushedFrames(c.id) for c in pushing}
        self._server = PushServer(
            "camera snapshots",
            section.listen_host,
            section.listen_port,
            _handler(self),
            section.tls,
        )

    def authorised(self, camera_id: str, authorization: str | None) -> bool:
        return basic_user(authorization, self._passwords) == camera_id


def _handler(listener: SnapshotListener) -> type[BaseHTTPRequestHandler]:
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

    return Handler
