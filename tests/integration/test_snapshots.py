"""Cameras that push JPEG snapshots, over real HTTP: credentials per camera, bad bodies
refused, and each accepted snapshot read by the camera's lane as its newest frame."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator

import cv2
import httpx
import numpy as np
import pytest

from edge.cameras import CameraWorker
from edge.config import SnapshotSection
from edge.snapshots import SnapshotListener
from harness.processes import free_port
from tests import factories

PASSWORD = "lens-cap-42"


@pytest.fixture
def listener() -> Iterator[SnapshotListener]:
    camera = factories.pushing_camera(PASSWORD)
    server = SnapshotListener(SnapshotSection(listen_port=free_port()), [camera])
    server.start()
    yield server
    server.stop()


def _jpeg(value: int) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((120, 160, 3), value, np.uint8))
    assert ok
    return data.tobytes()


class Frames:
    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_frame(self, frame: np.ndarray, now: float) -> None:
        self.seen.append(int(frame[0, 0, 0]))


def _declare_huge(port: int) -> bytes:
    """A push that announces 30 MB: refused before a byte of it is read."""
    token = base64.b64encode(f"cam-door:{PASSWORD}".encode()).decode()
    request = (
        "POST /cameras/cam-door/snapshot HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Basic {token}\r\nContent-Length: {30 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request.encode())
        return sock.recv(64)


def _wait_for(frames: Frames, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(frames.seen) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_pushed_snapshots_reach_the_lane_and_bad_ones_do_not(listener: SnapshotListener) -> None:
    url = f"http://127.0.0.1:{listener.port}/cameras/cam-door/snapshot"
    auth = ("cam-door", PASSWORD)
    frames = Frames()
    worker = CameraWorker(listener.sources["cam-door"], frames)
    worker.start()
    try:
        assert httpx.post(url, content=_jpeg(200), auth=auth).status_code == 202
        _wait_for(frames, 1)
        assert httpx.post(url, content=_jpeg(50), auth=("cam-door", "guess")).status_code == 401
        assert httpx.post(url, content=b"not a jpeg", auth=auth).status_code == 400
        other = url.replace("cam-door", "cam-gone")
        assert httpx.post(other, content=_jpeg(50), auth=("cam-gone", PASSWORD)).status_code == 401
        assert _declare_huge(listener.port).startswith(b"HTTP/1.0 413")
        assert httpx.post(url, content=_jpeg(100), auth=auth).status_code == 202
        _wait_for(frames, 2)
    finally:
        worker.stop()
    assert len(frames.seen) == 2
    assert abs(frames.seen[0] - 200) < 3 and abs(frames.seen[1] - 100) < 3
