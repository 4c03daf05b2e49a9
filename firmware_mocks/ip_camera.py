"""An IP camera streaming MJPEG over HTTP, as cheap gate cameras do.

`GET /stream.mjpg` answers `multipart/x-mixed-replace` with one JPEG part per frame, from a
video file (at the file's frame rate) or a folder of images (`--fps`), looping if asked; every
client gets the stream from where the camera is now, as from a live camera. The edge reads it
exactly as it reads a real one (OpenCV's FFmpeg backend). `GET /snapshot.jpg` is the current
frame.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2

from firmware_mocks.web import threaded_server

BOUNDARY = "anjuframe"


class Camera:
    def __init__(self, source: Path, fps: float, loop: bool) -> None:
        self._source = source
        self._fps = fps
        self._loop = loop
        self._jpeg: bytes | None = None
        self._number = 0
        self._cond = threading.Condition()
        self.ended = threading.Event()

    def run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            for frame, interval in self._frames():
                ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
                if ok:
                    with self._cond:
                        self._jpeg, self._number = jpeg.tobytes(), self._number + 1
                        self._cond.notify_all()
                if stopping.wait(interval):
                    return
            if not self._loop:
                self.ended.set()
                return

    def next_jpeg(self, after: int, timeout_s: float = 5.0) -> tuple[int, bytes] | None:
        with self._cond:
            self._cond.wait_for(lambda: self._number > after, timeout_s)
            if self._jpeg is None or self._number <= after:
                return None
            return self._number, self._jpeg

    def _frames(self):
        if self._source.is_dir():
            for path in sorted(self._source.iterdir()):
                image = cv2.imread(str(path))
                if image is not None:
                    yield image, 1.0 / self._fps
            return
        capture = cv2.VideoCapture(str(self._source))
        interval = 1.0 / (capture.get(cv2.CAP_PROP_FPS) or self._fps)
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield frame, interval
        capture.release()


def server(camera: Camera, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            if self.path == "/snapshot.jpg":
                frame = camera.next_jpeg(-1)
                if frame is None:
                    self.send_error(503, "no frame yet")
                    return
                self._send_jpeg(frame[1])
            elif self.path == "/stream.mjpg":
                self._stream()
            else:
                self.send_error(404)

        def _send_jpeg(self, jpeg: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(jpeg)))
            self.end_headers()
            self.wfile.write(jpeg)

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            number = 0
            try:
                while not camera.ended.is_set() or camera.next_jpeg(number, 0) is not None:
                    frame = camera.next_jpeg(number)
                    if frame is None:
                        continue
                    number, jpeg = frame
                    head = (
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"Content-Length: {len(jpeg)}\r\n\r\n"
                    ).encode()
                    self.wfile.write(head + jpeg + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                return

    return threaded_server(host, port, Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware_mocks.ip_camera", description=__doc__)
    parser.add_argument("--source", type=Path, required=True, help="a video file or a folder")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--fps", type=float, default=10.0, help="for a folder of images")
    parser.add_argument("--loop", action="store_true")
    parser.add_argument("--start-after", type=float, default=0.0, help="seconds before playing")
    args = parser.parse_args(argv)
    camera = Camera(args.source, args.fps, args.loop)
    http = server(camera, args.host, args.port)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    time.sleep(args.start_after)
    camera.run(stopping)
    stopping.wait()
    http.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
