"""What readers and ANPR cameras hand the edge, as evidence for the admission: a card, a
PIN (checked against the keypad's guard first), a QR code, a plate an ANPR camera pushed."""

from __future__ import annotations

import time

from edge.admission import Admission, Lane
from edge.alarms import Alarms
from edge.config import AnprCameraSection, WiegandReaderSection
from edge.decide import CardEvidence, Evidence, PinEvidence, PlateEvidence, QrEvidence
from edge.evidence import scene_plate
from edge.pin_guard import PinGuard
from edge.plates.anpr import Answer, Pushed
from edge.plates.clpr import ClprEngine
from edge.plates.lane import Snapshot
from models.events import Method, Severity
from models.pins import pin_digest
from models.wiegand import WiegandRead


class CredentialInputs:
    def __init__(
        self,
        admission: Admission,
        alarms: Alarms,
        *,
        pin_key: bytes | None,
        anpr_snapshots: bool,
        plate_detector: ClprEngine | None,
    ) -> None:
        """`pin_key`: the compound's PIN key (without one, PINs are refused);
        `anpr_snapshots`: whether ANPR pictures are kept, their plates found by
        `plate_detector` (white and black plates too) where there is one."""
        self._admission = admission
        self._alarms = alarms
        self._pin_key = pin_key
        self._anpr_snapshots = anpr_snapshots
        self._plate_detector = plate_detector
        self._pin_guard = PinGuard()

    def card(self, reader: WiegandReaderSection, read: WiegandRead) -> bool:
        return self._admit(reader, CardEvidence(read.card_number))

    def qr(self, reader: WiegandReaderSection, token: str) -> bool:
        return self._admit(reader, QrEvidence(token))

    def pin(self, reader: WiegandReaderSection, pin: str) -> bool:
        lane = f"{reader.gate_id}/{reader.lane}"
        if self._pin_guard.locked(lane, time.monotonic()):
            return self._refuse_pin(reader, "pin_locked", "Too many wrong PINs here; use a card.")
        if self._pin_key is None:
            return self._refuse_pin(reader, "pin_unavailable", "This gate cannot check PINs.")
        granted = self._admit(reader, PinEvidence(pin_digest(self._pin_key, pin)))
        if self._pin_guard.record(lane, granted, time.monotonic()):
            text = f"Repeated wrong PINs at {lane}; PINs paused."
            self._alarms.alarm(reader.gate_id, "pin_guessing", Severity.WARNING, text)
        return granted

    def anpr(self, pushed: Pushed) -> Answer:
        lane = _camera_lane(pushed.camera)
        evidence = PlateEvidence(pushed.number, pushed.confidence, tolerant=False)
        admitted = self._admission.admit(lane, evidence, self._anpr_snapshot(pushed))
        result = "granted" if admitted.verdict.granted and admitted.opened else "denied"
        return Answer(result, admitted.verdict.decision.reason_code)

    def _admit(self, reader: WiegandReaderSection, evidence: Evidence) -> bool:
        admitted = self._admission.admit(_reader_lane(reader), evidence)
        return admitted.verdict.granted and admitted.opened

    def _refuse_pin(self, reader: WiegandReaderSection, code: str, reason: str) -> bool:
        """A PIN refused before any decision: still an entry event, with the reason."""
        self._admission.refuse(_reader_lane(reader), Method.PIN, code, reason)
        return False

    def _anpr_snapshot(self, pushed: Pushed) -> Snapshot | None:
        """The plate in the camera's snapshot as the decision's picture (when kept)."""
        picture = pushed.snapshot
        if picture is None or not self._anpr_snapshots:
            return None
        detector = self._plate_detector
        return lambda: scene_plate(picture, detector)


def _reader_lane(reader: WiegandReaderSection) -> Lane:
    return Lane(reader.gate_id, reader.lane, reader.direction)


def _camera_lane(camera: AnprCameraSection) -> Lane:
    return Lane(camera.gate_id, camera.lane, camera.direction)
