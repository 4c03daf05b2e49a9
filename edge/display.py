"""What a lane's screen shows, and getting it there.

Every decision at the lane, whatever decided it (a card, a PIN, a QR pass, a face, a plate
from a camera or from an ANPR push): go ahead, go ahead as a visitor, no entry (ask the
guard), or a face not recognised (use a card or a QR code); for a vehicle, with its plate, as
barrier displays do. A face camera's prompts too: come closer, hold still, face the camera.
Texts are in Chinese and English, and a screen never shows who someone is (it faces the
street).

`LaneDisplay` POSTs each message as JSON to the screen's controller from a thread of its own:
a slow, absent or broken screen never holds up a lane, and only the newest message waits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Generic, Literal, Protocol, TypeVar

import httpx
import numpy as np

from edge.admission import Lane
from edge.config import DisplaySection
from edge.decide import Verdict
from edge.faces.pipeline import FaceOutcome
from models.events import Method, SubjectKind

logger = logging.getLogger(__name__)

REPEAT_AFTER_S = 2.0  # the same message again within this is not sent again
HOLD_S = 3.0  # a verdict stays this long before a prompt may replace it
STOP_WAIT_S = 1.0  # at shutdown, how long a message in flight may take
T = TypeVar("T")


Prompt = Literal["come_closer", "hold_still", "face_the_camera"]
Kind = Prompt | Literal["granted", "denied", "unknown", "second_factor"]


@dataclass(frozen=True)
class Shown:
    kind: Kind
    zh: str
    en: str
    plate: str | None = None


PROMPTS: dict[str, tuple[Prompt, str, str]] = {
    "come_closer": ("come_closer", "请靠近", "Please come closer"),
    "hold_still": ("hold_still", "请稍停", "Please hold still"),
    "face_the_camera": ("face_the_camera", "请正对镜头", "Please face the camera"),
}
GRANTED = ("请通行", "Please go ahead")
VISITOR = ("访客，请通行", "Visitor: please go ahead")
DENIED = ("禁止通行，请联系岗亭", "No entry: please ask the guard")
FACE_UNKNOWN = ("未能识别，请刷卡或扫码", "Not recognised: use a card or QR code")
SECOND_FACTOR = (
    "已识别，请再刷卡、扫码或输入密码",
    "Recognised: now use your card, QR code or PIN",
)
RE_ENROL = (
    "请到物业重新录入人脸，现请刷卡、扫码或输入密码",
    "Please re-enrol your face at the office; now use your card, QR code or PIN",
)


def for_face(outcome: FaceOutcome) -> Shown | None:
    """A face camera's prompt (its decisions reach the screen as verdicts)."""
    prompt = PROMPTS.get(outcome.kind)
    return None if prompt is None else Shown(*prompt)


def for_verdict(verdict: Verdict, opened: bool) -> Shown:
    """What a decision shows; a grant whose gate did not open shows as no entry."""
    credential = verdict.credential
    plate = credential.reference if credential.method is Method.PLATE else None
    if verdict.granted and opened:
        visitor = verdict.subject.kind is SubjectKind.VISITOR
        zh, en = VISITOR if visitor else GRANTED
        return Shown("granted", zh, en, plate)
    if verdict.decision.reason_code in {"face_unknown", "face_unusable"}:
        return Shown("unknown", *FACE_UNKNOWN)
    if verdict.decision.reason_code == "face_second_factor":
        return Shown("second_factor", *SECOND_FACTOR)
    if verdict.decision.reason_code == "face_re_enrol":
        return Shown("second_factor", *RE_ENROL)
    return Shown("denied", *DENIED, plate)


class LaneDisplay:
    """One screen: `show` queues, a thread of its own sends."""

    def __init__(self, section: DisplaySection) -> None:
        self.section = section
        self._pending: Shown | None = None
        self._last: tuple[Shown, float] | None = None
        self._verdict_at: float | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name=f"display {section.gate_id}/{section.lane}", daemon=True
        )
        self._client = httpx.Client(timeout=section.timeout_s)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.request_stop()
        self.finish()

    def request_stop(self) -> None:
        """No more messages; what is queued is dropped."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()

    def finish(self) -> None:
        """After `request_stop`: a message in flight gets `STOP_WAIT_S`, then is cut off."""
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_WAIT_S)
        self._client.close()

    def show(self, shown: Shown, now: float) -> None:
        """Queue `shown`, replacing any message not yet sent; returns at once. A verdict is
        not replaced by a prompt, queued or for `HOLD_S` once sent."""
        prompt = shown.kind in PROMPTS
        with self._wake:
            last = self._last
            if last is not None and last[0] == shown and now - last[1] < REPEAT_AFTER_S:
                return
            if prompt and (self._holding(now) or _is_verdict(self._pending)):
                return
            self._last = (shown, now)
            if not prompt:
                self._verdict_at = now
            self._pending = shown
            self._wake.notify_all()

    def _holding(self, now: float) -> bool:
        return self._verdict_at is not None and now - self._verdict_at < HOLD_S

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending is not None or self._stopping)
                if self._stopping:
                    return
                shown, self._pending = self._pending, None
            if shown is not None:
                self._send(shown)

    def _send(self, shown: Shown) -> None:
        try:
            self._client.post(self.section.url, json=asdict(shown)).raise_for_status()
        except Exception as exc:  # the lane and this sender go on; the screen keeps its text
            where = (self.section.gate_id, self.section.lane)
            logger.warning("display %s/%s: %s", *where, exc, exc_info=True)


def _is_verdict(shown: Shown | None) -> bool:
    return shown is not None and shown.kind not in PROMPTS


class LaneDisplays:
    """The edge's screens, one for each lane that has one."""

    def __init__(self, sections: list[DisplaySection]) -> None:
        self._by_lane = {(s.gate_id, s.lane): LaneDisplay(s) for s in sections}

    def start(self) -> None:
        for display in self._by_lane.values():
            display.start()

    def stop(self) -> None:
        """Every screen told first, then each waited for: a slow one delays no other."""
        for display in self._by_lane.values():
            display.request_stop()
        for display in self._by_lane.values():
            display.finish()

    def at(self, gate_id: str, lane: str) -> LaneDisplay | None:
        return self._by_lane.get((gate_id, lane))

    def on_verdict(self, lane: Lane, verdict: Verdict, opened: bool) -> None:
        display = self.at(lane.gate_id, lane.lane)
        if display is not None:
            display.show(for_verdict(verdict, opened), time.monotonic())


class OutcomeLane(Protocol[T]):
    def on_frame(self, frame: np.ndarray, now: float) -> list[T]: ...


class DisplayedLane(Generic[T]):
    """A camera lane whose outcomes also go to its screen."""

    def __init__(
        self, lane: OutcomeLane[T], display: LaneDisplay, to_shown: Callable[[T], Shown | None]
    ) -> None:
        self._lane = lane
        self._display = display
        self._to_shown = to_shown

    def on_frame(self, frame: np.ndarray, now: float) -> list[T]:
        outcomes = self._lane.on_frame(frame, now)
        for outcome in outcomes:
            shown = self._to_shown(outcome)
            if shown is not None:
                self._display.show(shown, now)
        return outcomes
