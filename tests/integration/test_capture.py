"""Camera capture against the IP-camera mock, a process of its own: frames arrive at the
camera's rate, and when the camera goes away and comes back the source reconnects by itself."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from edge.capture import FrameSource
from harness.processes import Child, free_port, port_open, python_module, wait_until


def _camera(port: int, video: Path, log_dir: Path) -> Child:
    args = ["--source", str(video), "--port", str(port), "--loop"]
    child = python_module("ip-camera", "firmware_mocks.ip_camera", args, log_dir).start()
    wait_until(lambda: port_open("127.0.0.1", port), 20, "the IP camera")
    return child


def _frames_for(source: FrameSource, seconds: float) -> int:
    count, last, end = 0, 0, time.monotonic() + seconds
    while time.monotonic() < end:
        frame = source.next_frame(last, timeout_s=0.5)
        if frame is not None:
            count, last = count + 1, frame.number
    return count


def test_a_camera_that_goes_away_is_read_again_when_it_returns(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    video = fixtures_dir / "video/short_hamilton_clip.mp4"
    camera = _camera(port, video, tmp_path)
    source = FrameSource(f"http://127.0.0.1:{port}/stream.mjpg", "door")
    source.start()
    try:
        assert _frames_for(source, 2.0) > 30  # ~30 fps, read as they come
        camera.kill()
        assert _frames_for(source, 2.0) <= 2  # what was already in flight, then nothing
        camera = _camera(port, video, tmp_path)
        wait_until(lambda: _frames_for(source, 0.5) > 0, 40, "frames after the reconnect")
    finally:
        source.stop()
        camera.stop()


def test_an_unreachable_camera_is_retried_without_stopping_anything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FrameSource(f"http://127.0.0.1:{free_port()}/stream.mjpg", "gone")
    source.start()
    try:
        assert source.next_frame(0, timeout_s=2.5) is None
        assert source.failures >= 1
    finally:
        source.stop()
    [first, *_] = [r for r in caplog.records if r.name == "edge.capture"]
    assert first.levelno == logging.WARNING and first.exc_info is not None  # with its traceback
