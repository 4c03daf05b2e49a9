"""Frames from the gate's cameras: the newest frame wins.

A source is read by its own thread into a one-frame slot, so a lane that falls behind skips
frames instead of queueing them without bound. Sources, by their URL: `rtsp://…` and
`http(s)://…` (MJPEG or anything FFmpeg reads), `usb:N` (a local device), a video file (played
at its own frame rate, as a camera would deliver it), or a folder of images (`--fps`, in name
order). A source that fails or stalls is reopened with a backoff doubling up to 30 s; each
failure is one log line and the lane goes on with the next frame.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

logger = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
STALL_S = 5.0  # no frame for this long: the source is reopened
_IMAGES = {".jpg", ".jpeg", ".png", ".bmp"}


@dataclass(frozen=True)
class Frame:
    number: int
    image: np.ndarray
    at: float  # time.monotonic() when it was read


class FrameSource:
    def __init__(self, url: str, name: str, *, folder_fps: float = 10.0) -> None:
        self.url = url
        self.name = name
        self._folder_fps = folder_fps
        self._latest: Frame | None = None
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{name}", daemon=True)
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def next_frame(self, after: int, timeout_s: float) -> Frame | None:
        """The newest frame numbered above `after`, waiting up to `timeout_s` for one."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._latest is None or self._latest.number <= after:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    return None
                self._cond.wait(remaining)
            return self._latest

    def _publish(self, image: np.ndarray, number: int) -> None:
        with self._cond:
            self._latest = Frame(number, image, time.monotonic())
            self._cond.notify_all()

    def _run(self) -> None:
        number, backoff = 0, 1.0
        while not self._stopping.is_set():
            try:
                for image in self._frames():
                    number += 1
                    self._publish(image, number)
                    backoff = 1.0
                    if self._stopping.is_set():
                        return
                logger.info("camera %s: the source ended; reopening", self.name)
            except Exception as exc:  # the camera reconnects; the traceback says what broke
                logger.warning("camera %s: %s", self.name, exc, exc_info=True)
            self.failures += 1
            self._stopping.wait(backoff)
            backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _frames(self):
        path = Path(self.url)
        if "://" not in self.url and path.is_dir():
            yield from self._folder(path)
            return
        source: int | str = int(self.url[4:]) if self.url.startswith("usb:") else self.url
        timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000]
        capture = cv2.VideoCapture(source, cv2.CAP_ANY, timeouts)
        if not capture.isOpened():
            raise OSError(f"cannot open {self.url}")
        is_file = "://" not in self.url and not self.url.startswith("usb:")
        interval = 1.0 / (capture.get(cv2.CAP_PROP_FPS) or 25.0) if is_file else 0.0
        try:
            yield from self._read(capture, interval)
        finally:
            capture.release()

    def _read(self, capture: cv2.VideoCapture, interval: float):
        last, due = time.monotonic(), time.monotonic()
        while not self._stopping.is_set():
            ok, image = capture.read()
            if not ok or image is None or image.size == 0:
                if time.monotonic() - last > STALL_S or interval:
                    return  # ended (a file) or stalled (a camera): reopen
                time.sleep(0.01)
                continue
            last = time.monotonic()
            if interval:  # a file: deliver at its frame rate, as a camera would
                due += interval
                time.sleep(max(0.0, due - time.monotonic()))
            yield image

    def _folder(self, folder: Path):
        interval = 1.0 / self._folder_fps
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGES):
            image = cv2.imread(str(path))
            if image is None:
                logger.warning("camera %s: %s is not an image; skipped", self.name, path.name)
                continue
            yield image
            time.sleep(interval)
