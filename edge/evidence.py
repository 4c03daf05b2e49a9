"""Decision snapshots, kept on this edge for a short time, sealed (docs/evidence.md).

A vehicle lane's decision keeps one picture: the plate as our reader cropped it from the
frame, or the snapshot an ANPR camera pushed with its reading, re-encoded (no metadata, at
most `MAX_WIDTH` wide). Faces are never kept: templates, not photos. A snapshot is sealed
with the edge's key (`edge.sealing`), named by its entry event's id, and deleted after
`retention_days` (or sooner, oldest first, when the store passes `max_mb`). The event says
that one was kept (its `snapshot` flag) and carries nothing else of it. Staff see one only
through the hub, which asks this edge with a signed request and audits the request.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.clock import EdgeClock
from edge.images import ImageError, decode, to_bgr8
from edge.sealing import SealError, seal, unseal
from models.evidence import (
    EVIDENCE_TTL_S,
    MAX_SNAPSHOT_BYTES,
    EvidenceReply,
    EvidenceRequest,
    seal_reply,
)
from models.tokens import TokenError, verify_token

logger = logging.getLogger(__name__)

MAX_WIDTH = 1280
JPEG_QUALITY = 85
PLATE_MARGIN = 0.35  # of the plate's height, around its box: the plate's edges, not the car
PURGE_EVERY_S = 3600.0
SUFFIX = ".sealed"

Box = tuple[int, int, int, int]  # x, y, width, height, as the plate reader gives them


def jpeg(image: np.ndarray) -> bytes:
    """`image` as a JPEG at most `MAX_WIDTH` wide, without metadata."""
    image = to_bgr8(image)
    if image.shape[1] > MAX_WIDTH:
        scale = MAX_WIDTH / image.shape[1]
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ImageError("the snapshot could not be encoded")
    return data.tobytes()


def plate_crop(frame: np.ndarray, box: Box) -> bytes:
    """The plate at `box` in `frame`, with a margin, as a JPEG."""
    x, y, width, height = box
    margin = round(height * PLATE_MARGIN)
    top, left = max(y - margin, 0), max(x - margin, 0)
    crop = frame[top : y + height + margin, left : x + width + margin]
    if crop.size == 0:
        raise ImageError(f"the plate's box {box} is outside the frame")
    return jpeg(crop)


def reencoded(data: bytes) -> bytes:
    """A pushed JPEG decoded (so checked) and encoded again, without its metadata."""
    return jpeg(decode(data))


class EvidenceStore:
    """Sealed snapshots in `directory`, one file per entry event, for `retention_s`."""

    def __init__(
        self,
        directory: Path,
        key: bytes | None,
        *,
        retention_s: float,
        max_bytes: int,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._key = key
        self._retention_s = retention_s
        self._max_bytes = max_bytes
        self._now = now
        self._lock = threading.Lock()
        self._last_purge = -PURGE_EVERY_S

    @property
    def enabled(self) -> bool:
        """Without the edge's key nothing is kept: a snapshot is never stored in the clear."""
        return self._key is not None

    def keep(self, event_id: uuid.UUID, snapshot: bytes) -> bool:
        """Whether `snapshot` is now kept for `event_id` (not when the store is disabled, the
        picture too large, or the disk refuses: the decision goes on without it)."""
        if self._key is None or not snapshot or len(snapshot) > MAX_SNAPSHOT_BYTES:
            return False
        try:
            self._write(self._path(event_id), seal(snapshot, self._key))
        except OSError as exc:
            logger.warning("snapshot of %s not kept: %s", event_id, exc)
            return False
        if self._now() - self._last_purge >= PURGE_EVERY_S:
            self.purge()
        return True

    def get(self, event_id: uuid.UUID) -> bytes | None:
        """The snapshot of `event_id`; None when none was kept or it is past its retention."""
        path = self._path(event_id)
        try:
            if self._now() - path.stat().st_mtime > self._retention_s:
                path.unlink(missing_ok=True)
                return None
            return unseal(path.read_bytes(), self._key)
        except FileNotFoundError:
            return None
        except (OSError, SealError) as exc:
            logger.warning("snapshot of %s unreadable: %s", event_id, exc)
            return None

    def purge(self) -> int:
        """Deletes snapshots past their retention, then the oldest while over `max_bytes`;
        how many went."""
        with self._lock:
            self._last_purge = self._now()
            files = sorted(self._files(), key=lambda f: f[1])  # oldest first
            total = sum(size for _, _, size in files)
            removed = 0
            for path, modified, size in files:
                if self._now() - modified <= self._retention_s and total <= self._max_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= size
                removed += 1
            return removed

    def _files(self) -> list[tuple[Path, float, int]]:
        found = []
        for path in self._directory.glob(f"*{SUFFIX}"):
            try:
                stat = path.stat()
            except FileNotFoundError:  # purged by another thread meanwhile
                continue
            found.append((path, stat.st_mtime, stat.st_size))
        return found

    def _path(self, event_id: uuid.UUID) -> Path:
        return self._directory / f"{uuid.UUID(str(event_id))}{SUFFIX}"

    def _write(self, path: Path, data: bytes) -> None:
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        temporary.replace(path)


class EvidenceDesk:
    """Answers the hub's requests for the snapshots kept here: a request must be signed by
    the compound's hub, name this edge, be at most `EVIDENCE_TTL_S` old by the edge's clock
    and never seen before; anything else is logged and dropped, unanswered."""

    def __init__(
        self,
        *,
        compound_id: str,
        edge_id: str,
        issuer_key: Ed25519PublicKey,
        signing_key: Ed25519PrivateKey,
        clock: EdgeClock,
        store: EvidenceStore,
        reply: Callable[[bytes], bool],
        seen: Callable[[str], bool],
    ) -> None:
        self._compound_id = compound_id
        self._edge_id = edge_id
        self._issuer_key = issuer_key
        self._signing_key = signing_key
        self._clock = clock
        self._store = store
        self._reply = reply
        self._first_time = seen

    def on_message(self, topic: str, payload: bytes) -> None:
        try:
            request = self._accept(payload)
        except TokenError as exc:
            logger.warning("snapshot request refused: %s", exc)
            return
        found = self._store.get(request.event_id)
        reply = EvidenceReply(
            request_id=request.request_id,
            event_id=request.event_id,
            edge_id=self._edge_id,
            jpeg=found,
            missing=None if found else "not kept on this edge, or past its retention",
        )
        logger.info("snapshot of %s sent for %s", request.event_id, request.issued_by)
        if not self._reply(seal_reply(reply, self._signing_key)):
            logger.warning("snapshot of %s not sent: the broker is out of reach", reply.event_id)

    def _accept(self, payload: bytes) -> EvidenceRequest:
        try:
            request = verify_token(payload.decode("ascii"), EvidenceRequest, self._issuer_key)
        except UnicodeDecodeError as exc:
            raise TokenError("not a token") from exc
        if request.compound_id != self._compound_id or request.edge_id != self._edge_id:
            raise TokenError(f"request {request.request_id} is for another edge")
        now = self._clock.read().now
        if abs(now - request.issued_at) > timedelta(seconds=EVIDENCE_TTL_S):
            raise TokenError(f"request {request.request_id} is stale or from the future")
        if not self._first_time(str(request.request_id)):
            raise TokenError(f"request {request.request_id} was already answered")
        return request
