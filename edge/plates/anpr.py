"""Results pushed by ANPR barrier cameras, which recognise plates themselves.

A camera sends ``POST /anpr/events`` as ``multipart/form-data`` with HTTP Basic credentials
(its id and its password; the edge keeps only the password's SHA-256): a part ``event``
(JSON: ``plate``, optional ``confidence`` and ``colour``) and a part ``snapshot`` (the JPEG
the plate was read from). The plate is validated and repaired like one the edge read itself,
the snapshot is checked to be an image and kept as the decision's picture when this edge
keeps them (`edge.evidence`; events carry no images), and the lane's decision comes back as
JSON. The same plate from the same camera within `repeat_s` gets the same answer without a
second decision: cameras push a vehicle several times as it comes closer. Anything malformed
gets a 4xx with a reason, and the listener goes on."""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from edge.config import AnprCameraSection, AnprSection
from edge.images import MAX_BYTES, ImageError, decode
from edge.push_http import REQUEST_TIMEOUT_S, PushListener, PushServer, basic_user
from models.plates import PlateError, repair

logger = logging.getLogger(__name__)
PATH = "/anpr/events"


class PushedEvent(BaseModel):
    plate: str = Field(min_length=1, max_length=32)
    confidence: float | None = Field(None, ge=0, le=1)
    colour: str | None = Field(None, max_length=16)


@dataclass(frozen=True)
class Pushed:
    camera: AnprCameraSection
    number: str
    confidence: float | None
    snapshot: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Answer:
    result: str  # granted or denied
    reason_code: str


class PushRejected(ValueError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


Decide = Callable[[Pushed], Answer]


class AnprListener(PushListener):
    def __init__(self, section: AnprSection, decide: Decide) -> None:
        self.section = section
        self._decide = decide
        self._cameras = {camera.id: camera for camera in section.cameras}
        self._passwords = {camera.id: camera.password_sha256 for camera in section.cameras}
        self._recent: dict[tuple[str, str], tuple[float, Answer]] = {}
        self._lock = threading.Lock()
        self._server = PushServer(
            "ANPR pushes", section.listen_host, section.listen_port, _handler(self), section.tls
        )

    def handle(self, camera: AnprCameraSection, content_type: str, body: bytes) -> Answer:
        """One authenticated push: what it says, and the lane's answer (or PushRejected)."""
        pushed = _parse(camera, content_type, body)
        key = (camera.id, pushed.number)
        now = time.monotonic()
        with self._lock:
            recent = self._recent.get(key)
            if recent is not None and now - recent[0] <= self.section.repeat_s:
                self._recent[key] = (now, recent[1])  # the window slides while it keeps coming
                return recent[1]
            answer = self._decide(pushed)
            self._recent = {k: v for k, v in self._recent.items() if now - v[0] <= 60}
            self._recent[key] = (now, answer)
        return answer

    def authenticate(self, authorization: str | None) -> AnprCameraSection:
        user = basic_user(authorization, self._passwords)
        if user is None:
            raise PushRejected(401, "unknown camera or wrong password")
        return self._cameras[user]


def _parse(camera: AnprCameraSection, content_type: str, body: bytes) -> Pushed:
    parts = _multipart(content_type, body)
    if "event" not in parts:
        raise PushRejected(400, "no 'event' part")
    try:
        event = PushedEvent.model_validate_json(parts["event"])
    except ValidationError as exc:
        raise PushRejected(400, f"bad event: {exc.errors()[0]['msg']}") from exc
    try:
        plate = repair(event.plate)
    except PlateError as exc:
        raise PushRejected(422, f"not a plate: {exc}") from exc
    snapshot = None
    if "snapshot" in parts:
        try:
            snapshot = decode(parts["snapshot"])
        except ImageError as exc:
            raise PushRejected(400, f"bad snapshot: {exc}") from exc
    return Pushed(camera, plate.number, event.confidence, snapshot)


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    if not content_type.startswith("multipart/form-data"):
        raise PushRejected(415, "expected multipart/form-data")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise PushRejected(400, "malformed multipart body")
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = _field_name(part)
        payload = part.get_payload(decode=True)
        if name and isinstance(payload, bytes):
            parts[name] = payload
    return parts


def _field_name(part: Message) -> str | None:
    disposition = part.get("Content-Disposition", "")
    for item in str(disposition).split(";"):
        key, _, value = item.strip().partition("=")
        if key == "name":
            return value.strip('"')
    return None


def _handler(listener: AnprListener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug(format, *args)

        def do_POST(self) -> None:
            try:
                if self.path != PATH:
                    raise PushRejected(404, f"push to {PATH}")
                camera = listener.authenticate(self.headers.get("Authorization"))
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_BYTES + 65536:
                    raise PushRejected(413, "missing or too large a body")
                body = self.rfile.read(length)
                answer = listener.handle(camera, self.headers.get("Content-Type", ""), body)
                self._reply(200, {"result": answer.result, "reason_code": answer.reason_code})
            except PushRejected as exc:
                logger.warning("ANPR push refused (%d): %s", exc.status, exc)
                self._reply(exc.status, {"error": str(exc)})
            except ValueError as exc:
                self._reply(400, {"error": str(exc)})
            except (TimeoutError, ConnectionError):
                logger.info("ANPR push abandoned by its sender")
            except Exception:  # the listener must outlive any one push
                logger.exception("ANPR push failed")
                self._reply(500, {"error": "internal error; the push was not decided"})

        def _reply(self, status: int, data: dict[str, str]) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="anpr"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
