"""Decision snapshots on the edge: sealed on disk, gone after their retention, sent only to a
request the compound's hub signed, and signed by the edge so the hub can tell they are its."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.clock import EdgeClock
from edge.evidence import (
    MAX_WIDTH,
    SNAPSHOT_DETECT_PIXELS,
    EvidenceDesk,
    EvidenceStore,
    jpeg,
    plate_crop,
    scene_plate,
)
from edge.images import ImageError
from edge.plates.clpr import ClprEngine
from models.errors import BadSignature, ContractError
from models.evidence import EvidenceReply, EvidenceRequest, open_reply
from models.signing import generate_key
from models.tokens import GateCommand, sign_token
from tests import factories

KEY = bytes(range(32))
DAY = 86_400.0


class Clock:
    def __init__(self) -> None:
        self.now = time.time()  # the files' times are the real ones

    def __call__(self) -> float:
        return self.now


def _picture(width: int = 320, height: int = 120) -> bytes:
    rng = np.random.default_rng(7)
    return jpeg(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def _store(tmp_path: Path, clock: Clock, key: bytes | None = KEY, **kw: int) -> EvidenceStore:
    return EvidenceStore(
        tmp_path / "evidence",
        key,
        retention_s=7 * DAY,
        max_bytes=kw.get("max_bytes", 1 << 30),
        now=clock,
    )


def _age(store_dir: Path, event_id: uuid.UUID, at: float) -> None:
    os.utime(store_dir / f"{event_id}.sealed", (at, at))


def test_a_snapshot_is_kept_sealed_and_read_back(tmp_path: Path) -> None:
    store, event_id, picture = _store(tmp_path, Clock()), uuid.uuid4(), _picture()
    assert store.keep(event_id, picture)
    [file] = (tmp_path / "evidence").iterdir()
    assert file.name == f"{event_id}.sealed" and file.stat().st_mode & 0o077 == 0
    assert picture[:64] not in file.read_bytes()  # not the JPEG in the clear
    assert store.get(event_id) == picture
    assert store.get(uuid.uuid4()) is None
    other_key = _store(tmp_path, Clock(), key=bytes(32))
    assert other_key.get(event_id) is None  # sealed with another key: unreadable, no crash


def test_without_a_key_nothing_is_kept(tmp_path: Path) -> None:
    store = _store(tmp_path, Clock(), key=None)
    assert not store.enabled
    assert not store.keep(uuid.uuid4(), _picture())
    assert not (tmp_path / "evidence").exists()


def test_snapshots_go_after_their_retention_and_the_oldest_first_beyond_the_cap(
    tmp_path: Path,
) -> None:
    clock = Clock()
    store = _store(tmp_path, clock, max_bytes=3 * len(_picture()) + 200)
    ids = [uuid.uuid4() for _ in range(4)]
    for n, event_id in enumerate(ids):
        assert store.keep(event_id, _picture())
        _age(tmp_path / "evidence", event_id, clock.now - (8 - n) * DAY / 2)  # 4, 3.5, 3, 2.5 d
    assert store.sweep() == 1  # over the cap: the oldest went
    assert store.get(ids[0]) is None and store.get(ids[1]) is not None
    clock.now += 4.25 * DAY  # ids[1] is 7.75 days old, ids[2] 7.25, ids[3] 6.75
    assert store.get(ids[1]) is None  # past its retention: never shown, and deleted
    assert not (tmp_path / "evidence" / f"{ids[1]}.sealed").exists()
    assert store.sweep() == 1  # ids[2]
    assert store.get(ids[2]) is None and store.get(ids[3]) is not None
    # A clock stepped back leaves a file dated in the future: it goes too, as does a write
    # cut short.
    _age(tmp_path / "evidence", ids[3], clock.now + 2 * DAY)
    (tmp_path / "evidence" / f"{uuid.uuid4()}.partial").write_bytes(b"half")
    assert store.sweep() == 2
    assert list((tmp_path / "evidence").iterdir()) == []


def test_the_sweep_runs_on_its_own_until_stopped(tmp_path: Path) -> None:
    clock = Clock()
    store = _store(tmp_path, clock)
    old = uuid.uuid4()
    assert store.keep(old, _picture())
    store.start(every_s=0.05)
    try:
        clock.now += 8 * DAY
        deadline = time.monotonic() + 5
        while (tmp_path / "evidence" / f"{old}.sealed").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (tmp_path / "evidence" / f"{old}.sealed").exists()
    finally:
        store.stop()


def test_a_file_planted_or_moved_in_the_store_is_never_served(tmp_path: Path) -> None:
    store = _store(tmp_path, Clock())
    first, second = uuid.uuid4(), uuid.uuid4()
    assert store.keep(first, _picture())
    directory = tmp_path / "evidence"
    (directory / f"{first}.sealed").rename(directory / f"{second}.sealed")
    assert store.get(second) is None  # sealed for another event
    (directory / f"{first}.sealed").write_bytes(_picture())  # in the clear
    assert store.get(first) is None


def test_a_snapshot_too_large_or_a_disk_that_refuses_is_no_error(tmp_path: Path) -> None:
    store = _store(tmp_path, Clock())
    assert not store.keep(uuid.uuid4(), b"\xff" * (3 * 1024 * 1024))
    (tmp_path / "evidence").write_text("a file where the directory should be")
    assert not store.keep(uuid.uuid4(), _picture())


def test_pictures_are_bounded_and_a_box_outside_the_frame_is_refused() -> None:
    wide = np.zeros((1000, 3000, 3), dtype=np.uint8)
    decoded = cv2.imdecode(np.frombuffer(jpeg(wide), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape[1] == MAX_WIDTH
    noise = np.random.default_rng(1).integers(0, 255, (960, 1280, 3), dtype=np.uint8)
    halved = cv2.imdecode(np.frombuffer(jpeg(noise), np.uint8), cv2.IMREAD_COLOR)
    assert halved.shape[:2] == (480, 640)  # too big even at quality 50: half the size
    with pytest.raises(ImageError):
        jpeg(np.zeros((1, 4000, 3), dtype=np.uint8))  # a line, not a picture
    frame = np.full((480, 640, 3), 200, dtype=np.uint8)
    crop = cv2.imdecode(np.frombuffer(plate_crop(frame, (100, 200, 140, 40)), np.uint8), 1)
    assert crop.shape[:2] == (40 + 2 * 14, 140 + 2 * 14)  # the plate and a margin
    with pytest.raises(ImageError):
        plate_crop(frame, (700, 500, 40, 10))


def test_of_a_cameras_scene_only_the_plate_is_kept() -> None:
    scene = factories.blue_plate_scene("A12345")
    crop = cv2.imdecode(np.frombuffer(scene_plate(scene), np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape[:2] == (65 + 2 * 23, 201 + 2 * 23)  # the plate and its margin
    with pytest.raises(ImageError):
        scene_plate(np.full((360, 640, 3), 90, dtype=np.uint8))  # no plate in sight: nothing


@pytest.mark.parametrize("black", [False, True], ids=["white_plate", "black_plate"])
def test_a_white_or_black_plate_in_a_cameras_scene_is_found_by_the_plate_detector(
    fixtures_dir: Path, black: bool
) -> None:
    scene = factories.uncoloured_plate_scene(fixtures_dir, black=black)
    with pytest.raises(ImageError):
        scene_plate(scene)  # by colour alone: nothing
    detector = ClprEngine(detect_pixels=SNAPSHOT_DETECT_PIXELS)
    crop = cv2.imdecode(np.frombuffer(scene_plate(scene, detector), np.uint8), 1)
    height, width = crop.shape[:2]
    assert 170 <= width <= 300 and 50 <= height <= 140, crop.shape  # the plate, not the car


def test_a_box_reaching_outside_the_frame_keeps_only_what_is_inside() -> None:
    frame = np.full((480, 800, 3), 200, dtype=np.uint8)
    for box in ((-60, 200, 40, 20), (820, 500, 60, 30), (100, -80, 50, 20)):
        with pytest.raises(ImageError):  # wholly outside, margin included: nothing
            plate_crop(frame, box)
    crop = cv2.imdecode(np.frombuffer(plate_crop(frame, (780, 460, 60, 30)), np.uint8), 1)
    assert crop.shape[:2] == (30, 30)  # from 10 px above and left of it to the frame's edges


class Desk:
    """An edge's desk with a store holding one snapshot, and what it sent back."""

    def __init__(self, tmp_path: Path) -> None:
        self.issuer, self.edge_key = generate_key(), generate_key()
        self.store = EvidenceStore(
            tmp_path / "evidence", KEY, retention_s=7 * DAY, max_bytes=1 << 30
        )
        self.kept, self.picture = uuid.uuid4(), _picture()
        assert self.store.keep(self.kept, self.picture)
        self.sent: list[bytes] = []
        seen: set[str] = set()

        def first_time(request_id: str) -> bool:
            new = request_id not in seen
            seen.add(request_id)
            return new

        self.desk = EvidenceDesk(
            compound_id="c1",
            edge_id="edge-1",
            issuer_key=self.issuer.public_key(),
            signing_key=self.edge_key,
            clock=EdgeClock(reference=False, max_offset_s=5, max_age_s=60),
            store=self.store,
            reply=self.sent.append,
            seen=first_time,
        )

    def ask(self, event_id: uuid.UUID, *, signer: object = None, **claims: object) -> str:
        request = EvidenceRequest(
            request_id=uuid.uuid4(),
            compound_id="c1",
            edge_id="edge-1",
            event_id=event_id,
            issued_by="c1-staff",
            issued_at=datetime.now(UTC),
        ).model_copy(update=claims)
        token = sign_token(request, signer or self.issuer)  # type: ignore[arg-type]
        self.desk.on_message("topic", token.encode("ascii"))
        return token

    def reply(self) -> EvidenceReply:
        return open_reply(self.sent[-1], self.edge_key.public_key(), "edge-1")


def test_the_edge_sends_a_snapshot_only_for_its_hubs_fresh_request(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    token = desk.ask(desk.kept)
    assert desk.reply().jpeg == desk.picture
    desk.ask(desk.kept, signer=generate_key())  # not the hub's: no answer at all
    desk.ask(desk.kept, edge_id="edge-2")
    desk.ask(desk.kept, compound_id="c2")
    desk.desk.on_message("topic", b"\xff\xfe not a token")
    command = GateCommand(
        command_id=uuid.uuid4(),
        compound_id="c1",
        edge_id="edge-1",
        gate_id="car-gate",
        action="open",
        reason="a command is not a request",
        issued_by="c1-staff",
        issued_at=datetime.now(UTC),
    )
    desk.desk.on_message("topic", sign_token(command, desk.issuer).encode("ascii"))
    assert len(desk.sent) == 1
    # The hub's own, but stale or replayed: answered, with why, and without the picture.
    desk.desk.on_message("topic", token.encode("ascii"))
    assert desk.reply().jpeg is None and desk.reply().missing == "the request was answered before"
    desk.ask(desk.kept, issued_at=datetime.now(UTC) - timedelta(minutes=5))
    assert desk.reply().jpeg is None and "off this edge's clock" in str(desk.reply().missing)
    desk.ask(uuid.uuid4())  # nothing kept for this one: said so
    assert desk.reply().jpeg is None and "not kept" in str(desk.reply().missing)
    assert len(desk.sent) == 4


def test_the_hub_accepts_a_reply_only_from_the_edge_it_asked(tmp_path: Path) -> None:
    desk = Desk(tmp_path)
    desk.ask(desk.kept)
    with pytest.raises(BadSignature):
        open_reply(desk.sent[-1], generate_key().public_key(), "edge-1")
    with pytest.raises(BadSignature):
        open_reply(desk.sent[-1], desk.edge_key.public_key(), "edge-2")
    with pytest.raises(ContractError):
        open_reply(b"{not json", desk.edge_key.public_key(), "edge-1")
