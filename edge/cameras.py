"""Each configured camera: its frame source and the lane that reads its frames, in a thread
of its own, so that a slow lane only drops that camera's frames."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from edge.capture import Frame

logger = logging.getLogger(__name__)


class FrameLane(Protocol):
    def on_frame(self, frame: np.ndarray, now: float) -> object: ...


class Source(Protocol):
    """A stream read by the edge (`edge.capture.FrameSource`) or pushed snapshots
    (`edge.snapshots.PushedFrames`)."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def next_frame(self, after: int, timeout_s: float) -> Frame | None: ...


FrameObserver = Callable[[str, float, float], None]  # camera, processing s, frame age s
UP_WITHIN_S = 10.0


class CameraWorker:
    def __init__(
        self, source: Source, lane: FrameLane, observe: FrameObserver | None = None
    ) -> None:
        self.source = source
        self._lane = lane
        self._observe = observe
        self._last_frame: float | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lane-{source.name}", daemon=True)
        self.frames = 0

    def start(self) -> None:
        self.source.start()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.source.stop()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        last = 0
        while not self._stopping.is_set():
            frame = self.source.next_frame(last, timeout_s=1.0)
            if frame is None:
                continue
            last = frame.number
            self.frames += 1
            self._last_frame = time.monotonic()
            started = time.perf_counter()
            try:
                self._lane.on_frame(frame.image, frame.at)
            except Exception:  # one bad frame must not end the lane
                logger.exception("camera %s: a frame failed", self.source.name)
            if self._observe is not None:
                spent = time.perf_counter() - started
                self._observe(self.source.name, spent, max(0.0, time.monotonic() - frame.at))

    @property
    def up(self) -> bool:
        """Frames arrived in the last `UP_WITHIN_S` seconds."""
        seen = self._last_frame
        return seen is not None and time.monotonic() - seen <= UP_WITHIN_S
