"""Decision snapshots, kept on this edge for a short time, sealed (docs/evidence.md).

A vehicle lane's decision keeps one picture, and only of the plate: the plate as our reader
cropped it from the frame that decided, or, from an ANPR camera's pushed scene, its largest
plate-coloured, plate-shaped region, else the largest plate the plate detector finds (a
scene shows the driver; a crop of the plate does not, and a scene without a plate found
keeps nothing). Faces are never kept: templates, not
photos. A picture is encoded without metadata and within `MAX_SNAPSHOT_BYTES`, sealed with
the edge's key (`edge.sealing`, bound to its event), named by its entry event's id, and
deleted after `retention_days` by a sweep every `SWEEP_EVERY_S` (or sooner, oldest first,
past `max_mb`). The event says that one was kept (its `snapshot` flag) and carries nothing
else of it. Staff see one only through the hub, which asks this edge with a signed request
and audits the request; this edge answers only such requests.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from anju.mqtt import LinkDown
from edge.clock import EdgeClock
from edge.images import ImageError, to_bgr8
from edge.plates.locate import candidates
from edge.plates.ocr import Box, TextEngine, bounds
from edge.sealing import PARTIAL, SealError, seal, unseal, write_private
from models.evidence import (
    MAX_SNAPSHOT_BYTES,
    EvidenceReply,
    EvidenceRequest,
    seal_reply,
)
from models.tokens import TokenError, addressed_to, off_clock

logger = logging.getLogger(__name__)

MAX_WIDTH = 1280
QUALITIES = (85, 70, 50)  # tried in turn until the picture fits `MAX_SNAPSHOT_BYTES`
PLATE_MARGIN = 0.35  # of the plate's height, around its box: the plate's edges, not the car
# The detector's budget for a camera's picture with no plate colour in it: a barrier camera
# sees the plate from close by, and this keeps the search short, since it runs before the
# decision (docs/evidence.md has the time).
SNAPSHOT_DETECT_PIXELS = 500_000
SWEEP_EVERY_S = 600.0
FUTURE_SLACK_S = 3600.0  # a file this far ahead of the clock: the clock was stepped back
MIN_FREE_BYTES = 256 * 1024 * 1024  # the outbox and the ledger share the disk: they come first
SUFFIX = ".sealed"


def jpeg(image: np.ndarray) -> bytes:
    """`image` as a JPEG at most `MAX_WIDTH` wide and `MAX_SNAPSHOT_BYTES` long, without
    metadata; ImageError when it cannot be one."""
    image = to_bgr8(image)
    height, width = image.shape[:2]
    if height < 8 or width < 8:
        raise ImageError(f"a picture of {width} x {height} pixels")
    if width > MAX_WIDTH:
        size = (MAX_WIDTH, max(8, round(height * MAX_WIDTH / width)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    while True:
        for quality in QUALITIES:
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise ImageError("the picture could not be encoded")
            if len(data) <= MAX_SNAPSHOT_BYTES:
                return data.tobytes()
        height, width = image.shape[:2]
        if width <= 160:
            raise ImageError("the picture does not fit the snapshot's size")
        image = cv2.resize(image, (width // 2, max(8, height // 2)), interpolation=cv2.INTER_AREA)


def plate_crop(frame: np.ndarray, box: Box) -> bytes:
    """The plate at `box` in `frame`, with a margin, as a JPEG."""
    x, y, width, height = box
    margin = round(height * PLATE_MARGIN)
    top, left = max(y - margin, 0), max(x - margin, 0)
    bottom = min(y + height + margin, frame.shape[0])
    right = min(x + width + margin, frame.shape[1])
    if bottom <= top or right <= left:
        raise ImageError(f"the plate's box {box} is outside the frame")
    crop = frame[top:bottom, left:right]
    return jpeg(crop)


def scene_plate(scene: np.ndarray, detector: TextEngine | None = None) -> bytes:
    """The plate in a camera's scene: its largest plate-coloured, plate-shaped region or,
    where there is none (a white police or WJ plate, a black 港/澳 plate), the largest
    plate `detector` (the plate models' detector) finds."""
    image = to_bgr8(scene)
    found = candidates(image)
    if found:
        return plate_crop(image, found[0].box)
    places = [] if detector is None else [bounds(quad) for quad in detector.find_lines(image)]
    if not places:
        raise ImageError("no plate in the camera's picture: nothing kept")
    return plate_crop(image, max(places, key=lambda box: box[2] * box[3]))


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
        self._stopping = threading.Event()
        self._sweeper: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        """Without the edge's key nothing is kept: a snapshot is never stored in the clear."""
        return self._key is not None

    def start(self, every_s: float = SWEEP_EVERY_S) -> None:
        """Sweep now, then every `every_s`, on a thread of its own (the gates never wait)."""
        self.sweep()
        self._sweeper = threading.Thread(
            target=self._sweep_every, args=(every_s,), name="evidence-sweep", daemon=True
        )
        self._sweeper.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)

    def keep(self, event_id: uuid.UUID, snapshot: bytes) -> bool:
        """Whether `snapshot` is now kept for `event_id` (not when the store is disabled, the
        picture too large, the disk short of room, or refusing: the decision goes on)."""
        if self._key is None or not snapshot or len(snapshot) > MAX_SNAPSHOT_BYTES:
            return False
        try:
            self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # to measure it
            if shutil.disk_usage(self._directory).free < MIN_FREE_BYTES:
                logger.warning("snapshot of %s not kept: the disk is nearly full", event_id)
                return False
            self._write(self._path(event_id), seal(snapshot, self._key, _context(event_id)))
        except OSError as exc:
            logger.warning("snapshot of %s not kept: %s", event_id, exc)
            return False
        return True

    def get(self, event_id: uuid.UUID) -> bytes | None:
        """The snapshot of `event_id`; None when none was kept or it is past its retention."""
        path = self._path(event_id)
        try:
            if self._expired(path.stat().st_mtime):
                path.unlink(missing_ok=True)
                return None
            data = unseal(path.read_bytes(), self._key, _context(event_id), strict=True)
        except FileNotFoundError:
            return None
        except (OSError, SealError) as exc:
            logger.warning("snapshot of %s unreadable: %s", event_id, exc)
            return None
        return data or None

    def sweep(self) -> int:
        """Deletes snapshots past their retention (or dated ahead of the clock), writes cut
        short, then the oldest while over `max_bytes`; how many went."""
        with self._lock:
            removed = 0
            for partial in self._directory.glob(f"*{PARTIAL}"):
                partial.unlink(missing_ok=True)  # only `_write` makes them, under this lock
                removed += 1
            files = sorted(self._files(), key=lambda f: f[1])  # oldest first
            total = sum(size for _, _, size in files)
            for path, modified, size in files:
                if not self._expired(modified) and total <= self._max_bytes:
                    continue
                path.unlink(missing_ok=True)
                total -= size
                removed += 1
            return removed

    def _sweep_every(self, every_s: float) -> None:
        while not self._stopping.wait(every_s):
            try:
                self.sweep()
            except OSError:
                logger.exception("evidence sweep failed; tried again in %g s", every_s)

    def _expired(self, modified: float) -> bool:
        age = self._now() - modified
        return age > self._retention_s or -age > FUTURE_SLACK_S

    def _files(self) -> list[tuple[Path, float, int]]:
        found = []
        for path in self._directory.glob(f"*{SUFFIX}"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            found.append((path, stat.st_mtime, stat.st_size))
        return found

    def _path(self, event_id: uuid.UUID) -> Path:
        return self._directory / f"{event_id}{SUFFIX}"

    def _write(self, path: Path, data: bytes) -> None:
        with self._lock:  # the sweep deletes what is left half-written, under the same lock
            write_private(path, data)


def _context(event_id: uuid.UUID) -> bytes:
    return f"evidence:{event_id}".encode("ascii")


class EvidenceDesk:
    """Answers the hub's requests for the snapshots kept here. A request must be signed by
    the compound's hub and name this compound and edge, or it is dropped unanswered; one
    that is stale by this edge's clock, or seen before, gets a signed answer saying so (the
    hub then tells staff why, rather than that the edge is offline). `reply` publishes an
    answer, raising LinkDown when the broker is out of reach."""

    def __init__(
        self,
        *,
        compound_id: str,
        edge_id: str,
        issuer_key: Ed25519PublicKey,
        signing_key: Ed25519PrivateKey,
        clock: EdgeClock,
        store: EvidenceStore,
        reply: Callable[[bytes], None],
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
            request = addressed_to(
                payload, EvidenceRequest, self._issuer_key, self._compound_id, self._edge_id
            )
        except TokenError as exc:
            logger.warning("snapshot request refused: %s", exc)
            return
        refusal = self._refusal(request)
        found = None if refusal else self._store.get(request.event_id)
        reply = EvidenceReply(
            request_id=request.request_id,
            event_id=request.event_id,
            edge_id=self._edge_id,
            jpeg=found,
            missing=refusal or (None if found else "not kept here, or past its retention"),
        )
        logger.info(
            "snapshot request %s for %s: %s",
            request.request_id,
            request.issued_by,
            "sent" if found else reply.missing,
        )
        try:
            self._reply(seal_reply(reply, self._signing_key))
        except LinkDown as exc:  # the hub's wait runs out and it tells staff the edge is away
            logger.warning("snapshot of %s not sent: %s", reply.event_id, exc)

    def _refusal(self, request: EvidenceRequest) -> str | None:
        stale = off_clock(request, self._clock.read().now)
        if stale is not None:
            return f"the request was {stale}"
        if not self._first_time(str(request.request_id)):
            return "the request was answered before"
        return None
