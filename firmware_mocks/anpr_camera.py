"""An ANPR barrier camera: it recognises a plate itself and pushes the result to the edge, as
an HTTP multipart event (a JSON part and the JPEG snapshot) with its own credentials, the way
barrier cameras push to parking and access controllers. It pushes a vehicle a few times as it
approaches (`--repeats`), as real cameras do.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx
import numpy as np


@dataclass(frozen=True)
class PushResult:
    status: int
    body: dict[str, str]


class AnprCamera:
    def __init__(
        self, edge_url: str, device_id: str, password: str, ca_file: Path | None = None
    ) -> None:
        """`ca_file`: for an https:// edge, the CA its certificate is checked against (as
        uploaded to a real camera); the system's roots without one."""
        self._url = edge_url.rstrip("/") + "/anpr/events"
        self._auth = (device_id, password)
        self._verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            self._verify = ssl.create_default_context(cafile=ca_file)

    def push(
        self,
        plate: str,
        *,
        snapshot: bytes | None = None,
        confidence: float = 0.97,
        event: bytes | None = None,
    ) -> PushResult:
        """Push one recognised plate; `event` replaces the JSON part (to send junk)."""
        body = event or json.dumps({"plate": plate, "confidence": confidence}).encode()
        files = {
            "event": ("event.json", body, "application/json"),
            "snapshot": ("snapshot.jpg", snapshot or grey_snapshot(), "image/jpeg"),
        }
        response = httpx.post(
            self._url, files=files, auth=self._auth, timeout=10, verify=self._verify
        )
        try:
            parsed = response.json()
        except ValueError:
            parsed = {"error": response.text}
        return PushResult(response.status_code, parsed)


def grey_snapshot(width: int = 640, height: int = 360) -> bytes:
    """A stand-in snapshot (the camera's own picture is not this mock's business)."""
    frame = np.full((height, width, 3), 90, dtype=np.uint8)
    cv2.rectangle(frame, (250, 220), (390, 265), (160, 80, 20), -1)  # a plate-blue patch
    ok, jpeg = cv2.imencode(".jpg", frame)
    if not ok:
        raise RuntimeError("could not encode the snapshot")
    return jpeg.tobytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m firmware_mocks.anpr_camera", description=__doc__
    )
    parser.add_argument("--edge", required=True, help="the edge's ANPR URL, http(s)://host:port")
    parser.add_argument("--ca-file", type=Path, help="for https: the CA of the edge's certificate")
    parser.add_argument("--device", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--plate", action="append", required=True, help="a plate, in order")
    parser.add_argument("--snapshot", type=Path, help="a JPEG to send with every push")
    parser.add_argument("--repeats", type=int, default=3, help="pushes per vehicle")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between pushes")
    args = parser.parse_args(argv)
    camera = AnprCamera(args.edge, args.device, args.password, args.ca_file)
    snapshot = args.snapshot.read_bytes() if args.snapshot else None
    for plate in args.plate:
        for _ in range(args.repeats):
            result = camera.push(plate, snapshot=snapshot)
            print(json.dumps({"plate": plate, "status": result.status, **result.body}), flush=True)
            time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
