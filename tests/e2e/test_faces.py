"""Faces end to end: a person enrolled on the hub from one photo, with consent, among 20
East-Asian residents enrolled from the fixtures under the MobileFaceNet engine, is let in by
the edge on the face alone when the simulated IP camera (MJPEG over HTTP, its own process)
plays the fixture video; once consent is withdrawn, a full further pass of the video opens
nothing. Under dlib with too few residents for the risk gate to say anything, the same face
is recognised and sent to the second factor. A face too blurred to check waits in the guard
booth's list."""

from __future__ import annotations

import base64
import csv
import time
from collections import defaultdict
from pathlib import Path

import cv2

from firmware_mocks.card_reader import CardReader, Swipe
from harness.broker import Mosquitto
from harness.compound import Compound
from harness.processes import Child, free_port, port_open, python_module, wait_until

CONSENT = {"minor": False, "given_by": "self", "document_ref": "form 2026-001"}
CLIP_S = 9.2  # 275 frames at 29.97 fps


def _start_camera(port: int, video: Path, log_dir: Path) -> Child:
    args = ["--source", str(video), "--port", str(port), "--loop"]
    child = python_module("ip-camera", "firmware_mocks.ip_camera", args, log_dir).start()
    wait_until(lambda: port_open("127.0.0.1", port), 20, "the IP camera")
    return child


def _compound(
    tmp_path: Path, broker: Mosquitto, topic_prefix: str, camera_port: int, engine: str = "dlib"
) -> Compound:
    """A compound whose edge watches the IP camera on `camera_port`: barrier and hub started,
    the edge not yet."""
    compound = Compound(
        tmp_path,
        broker.url,
        topic_prefix=topic_prefix,
        with_gates=True,
        face_camera=f"http://127.0.0.1:{camera_port}/stream.mjpg",
        face_engine=engine,
    )
    compound.prepare()
    compound.start_barrier()
    compound.start_hub()
    return compound


def _face_grants(compound: Compound) -> list[dict[str, object]]:
    return [
        e for e in compound.all_entries() if e["method"] == "face" and e["outcome"] == "granted"
    ]


def _enrol(compound: Compound, person_id: str, photos: list[Path], create: bool = True) -> None:
    if create:
        person = {"id": person_id, "kind": "resident", "unit_id": "b1-101"}
        compound.request("POST", "/api/people", json=person | {"display_name": person_id})
    encoded = [base64.b64encode(p.read_bytes()).decode() for p in photos]
    compound.request(
        "POST", f"/api/people/{person_id}/face", json={"consent": CONSENT, "photos": encoded}
    )


def _east_asian_residents(fixtures_dir: Path, count: int) -> dict[str, list[Path]]:
    """The first two photos of the first `count` East-Asian people with two or more."""
    folder = fixtures_dir / "faces-east-asian"
    photos: dict[str, list[Path]] = defaultdict(list)
    with (folder / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            photos[row["identity"]].append(folder / row["local_path"])
    people = {f"p-{i.replace('_', '-')}": sorted(p)[:2] for i, p in photos.items() if len(p) >= 2}
    return dict(sorted(people.items())[:count])


def test_an_enrolled_face_opens_and_a_withdrawn_one_does_not(
    tmp_path: Path, broker: Mosquitto, topic_prefix: str, fixtures_dir: Path
) -> None:
    """20 East-Asian residents and the video's person enrolled under the opt-in engine: the
    edge runs it, the hub's risk gate (21 people, none alike) lets the face alone open, and
    the video's person is let in as himself and nobody else."""
    port = free_port()
    compound = _compound(tmp_path, broker, topic_prefix, port, engine="mobilefacenet")
    for person_id, photos in _east_asian_residents(fixtures_dir, 20).items():
        _enrol(compound, person_id, photos)
    lin = fixtures_dir / "faces/face_recognition/examples/lin-manuel-miranda.png"
    _enrol(compound, "p-lin", [lin])
    camera = _start_camera(port, fixtures_dir / "video/short_hamilton_clip.mp4", tmp_path)

    try:
        compound.start_edge()
        wait_until(lambda: '"face_policy"' in compound.edge_registry(), 30, "the risk gate")
        assert '"engine":"mobilefacenet"' in compound.edge_registry()
        wait_until(lambda: len(_face_grants(compound)) >= 1, 120, "the face to be let in")
        entry = _face_grants(compound)[0]
        assert (entry["subject_id"], entry["live"]) == ("p-lin", True)
        assert float(entry["score"]) < 0.85  # type: ignore[arg-type]  (the engine's threshold)
        assert float(entry["margin"]) >= 0.05  # type: ignore[arg-type]  (over the next person)
        assert {e["subject_id"] for e in _face_grants(compound)} == {"p-lin"}
        compound.request("DELETE", "/api/people/p-lin/face")
        gone = '"person_id":"p-lin"'
        wait_until(lambda: gone not in compound.edge_registry(), 30, "the template gone")
        granted = len(_face_grants(compound))
        time.sleep(CLIP_S + 3)  # the looping clip shows his face once more
        assert len(_face_grants(compound)) == granted
    finally:
        camera.stop()
        compound.stop()


def test_a_gallery_too_small_to_judge_asks_for_a_second_factor_checked_against_the_face(
    tmp_path: Path, broker: Mosquitto, topic_prefix: str, fixtures_dir: Path
) -> None:
    """dlib, one resident enrolled: the risk gate cannot vouch for the face alone, so the
    recognised face is sent to the second factor; the resident's own card then opens with
    the face confirmed, and another resident's card, shown by the same face, is flagged."""
    port = free_port()
    compound = _compound(tmp_path, broker, topic_prefix, port)
    lin = fixtures_dir / "faces/face_recognition/examples/lin-manuel-miranda.png"
    _enrol(compound, "p-wang-fang", [lin], create=False)  # a resident with card 1001
    camera = _start_camera(port, fixtures_dir / "video/short_hamilton_clip.mp4", tmp_path)
    reader = CardReader("127.0.0.1", compound.reader_ports["in"])

    def with_reason(code: str) -> list[dict[str, object]]:
        return [e for e in compound.all_entries() if e["reason_code"] == code]

    def flagged(flag: str) -> list[dict[str, object]]:
        return [e for e in compound.all_entries() if flag in str(e["flags"])]

    try:
        compound.start_edge()
        wait_until(lambda: with_reason("face_second_factor"), 90, "the second factor asked")
        assert with_reason("face_second_factor")[0]["subject_id"] == "p-wang-fang"
        assert _face_grants(compound) == []
        assert reader.present(Swipe(1001)).result == "granted"
        wait_until(lambda: flagged("face_confirmed"), 30, "the card confirmed by the face")
        asked = len(with_reason("face_second_factor"))
        wait_until(lambda: len(with_reason("face_second_factor")) > asked, 60, "asked again")
        assert reader.present(Swipe(1002)).result == "granted"  # a card opens, as always
        wait_until(lambda: flagged("face_mismatch"), 30, "another's card flagged")
        assert flagged("face_mismatch")[0]["subject_id"] == "p-li-wei"
    finally:
        reader.close()
        camera.stop()
        compound.stop()


def test_a_face_too_blurred_to_check_waits_in_the_guard_booths_list(
    tmp_path: Path, broker: Mosquitto, topic_prefix: str, fixtures_dir: Path
) -> None:
    photo = cv2.imread(str(fixtures_dir / "faces/face_recognition/examples/obama.jpg"))
    rain = tmp_path / "rain"
    rain.mkdir()
    for i in range(3):  # a face the camera finds but cannot see clearly, again and again
        cv2.imwrite(str(rain / f"{i}.jpg"), cv2.GaussianBlur(photo, (31, 31), 0))
    port = free_port()
    compound = _compound(tmp_path, broker, topic_prefix, port)
    camera = _start_camera(port, rain, tmp_path)
    try:
        compound.start_edge()

        def waiting() -> list[dict[str, object]]:
            rows = compound.get("/api/gates/waiting").json()
            return [w for w in rows if w["last_reason"] == "face_unusable"]

        wait_until(waiting, 60, "the unchecked face in the waiting list")
        [row] = waiting()
        assert (row["method"], row["subject_id"]) == ("face", None)
        time.sleep(4)  # the same face, still unclear: told once
        faces = [e for e in compound.all_entries() if e["method"] == "face"]
        assert [(e["outcome"], e["reason_code"]) for e in faces] == [("denied", "face_unusable")]
    finally:
        camera.stop()
        compound.stop()
