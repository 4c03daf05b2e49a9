"""A pedestrian lane's camera frames, in: one decision per person, out.

Per frame: faces are found with HOG on a copy 480 px wide (no upsampling); each is followed
from frame to frame by overlap (a track); its 68 landmarks feed the liveness check every
frame. A face too small says "come closer", a blurred one "hold still", one turned away
"face the camera", and none of them is encoded. A track is encoded by the lane's template
engine on the full-resolution frame, aligned by dlib's 5 points (the expensive step: ~95 ms
for dlib-bin's encoder, ~13 ms for MobileFaceNet) only until it is identified: `agree`
identifications of the same person, each under the threshold and with a margin over the
second-best person. Then the track is admitted once: as that person, live or not (a still
image gets its denial). A track not identified at once is encoded again every few frames
(the person may turn to the camera); after `MAX_ENCODINGS` tries it is followed without
encoding, reported once as unknown, and never admitted: the person can use a card, a PIN or
a QR code. When the lane has seen faces for `UNUSABLE_AFTER_S` without deciding anyone, and
still finds them too blurred or too small to encode (at night, rain on the lens), it reports
once that nobody could be checked, so that the guard sees someone waiting; it goes on trying.
A face turned away is not counted: a bystander's profile is no one waiting to be checked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from anju.doctor import require_face_stack
from anju.faces.engines import TemplateEngine
from anju.faces.landmarks import Landmarker
from edge.decide import FaceEvidence
from edge.faces.gallery import FaceGallery, Match
from edge.faces.liveness import LivenessTrack
from edge.images import ImageError, to_bgr8

logger = logging.getLogger(__name__)

WORK_WIDTH = 480
MIN_FACE_PX = 60  # face height in the full frame
MIN_SHARPNESS = 12.0  # see _sharpness
MAX_YAW = 0.35  # nose offset from the eyes' midpoint, relative to the eyes' distance
AGREE = 2
MAX_ENCODINGS = 12  # a face not identified after this many is unknown: no more encoding
RETRY_EVERY = 5  # after the first tries, encode a face not yet identified every 5th frame
LIVENESS_FRAMES = 45  # frames to wait for signs of life once identified (1.5 s at 30 fps)
TRACK_GAP_S = 1.0
UNUSABLE_AFTER_S = 5.0  # faces this long, none decided, still unclear: nobody could be checked
UNCLEAR_GAP_S = 3.0  # no face for this long: whoever could not be checked has gone
MIN_OVERLAP = 0.3

Box = tuple[int, int, int, int]  # top, right, bottom, left (face_recognition's order)
# The prompts for a face too poor to encode, and what each says of the face.
UNCLEAR = {"come_closer": "too far from the camera", "hold_still": "blurred"}
DECIDED = frozenset({"admitted", "unknown"})


@dataclass(frozen=True)
class FaceOutcome:
    track: int
    kind: str  # admitted, unknown, unusable, come_closer, hold_still, face_the_camera
    person_id: str | None = None
    granted: bool | None = None


@dataclass(frozen=True)
class Matcher:
    """An engine and its gallery. A lane has its own; during a change of engine it may also
    have an older one, for people not yet enrolled again (`FaceLane`)."""

    engine: TemplateEngine
    gallery: Callable[[], FaceGallery]


@dataclass
class _Track:
    number: int
    box: Box  # in work coordinates
    last_seen: float
    liveness: LivenessTrack = field(default_factory=LivenessTrack)
    matches: list[Match] = field(default_factory=list)
    frames: int = 0
    frames_since_identified: int = 0
    last_encoding: np.ndarray | None = None  # the lane's own engine's
    identified_with: tuple[Matcher, np.ndarray] | None = None  # the last match's
    sharpness: float | None = None
    done: bool = False

    def identified(self, agree: int) -> Match | None:
        """The person the last `agree` identifications all name (A, B, A names nobody)."""
        last = self.matches[-agree:]
        people = {m.person_id for m in last}
        if len(last) < agree or len(people) != 1 or None in people:
            return None
        return min(last, key=lambda m: m.distance)


@dataclass
class _Spell:
    """Faces at a lane, nobody decided yet, some too poor to encode (see `_nobody_checked`)."""

    since: float
    last_face: float
    told: bool = False


class FaceLane:
    def __init__(
        self,
        name: str,
        engine: TemplateEngine,
        gallery: Callable[[], FaceGallery],
        admit: Callable[[FaceEvidence], bool],
        *,
        agree: int = AGREE,
        unknown: Callable[[np.ndarray], object] | None = None,
        unusable: Callable[[str], object] | None = None,
        older: Matcher | None = None,
    ) -> None:
        """`older`: the engine a compound used before, with the gallery of the people who
        have no template of `engine` yet; a face it names is sent to the second factor and
        told to enrol again."""
        self.name = name
        self._older = older
        self._engine = engine
        self._own = Matcher(engine, gallery)
        self._landmarker = Landmarker()
        self._gallery = gallery
        self._admit = admit
        self._agree = agree
        self._unknown = unknown
        self._unusable = unusable
        self._spell: _Spell | None = None
        self._tracks: list[_Track] = []
        self._next = 1
        self._fr: Any = None

    @property
    def following(self) -> int:
        """How many faces the lane is following now."""
        return len(self._tracks)

    def on_frame(self, frame: np.ndarray, now: float) -> list[FaceOutcome]:
        """Any 8- or 16-bit, grey or colour frame; one that cannot be used is logged and
        skipped, and the lane goes on."""
        try:
            if frame is None or frame.shape[0] < 16 or frame.shape[1] < 16:
                raise ImageError("an empty or tiny frame")
            frame = to_bgr8(frame)
        except (ImageError, AttributeError, IndexError) as exc:
            logger.warning("lane %s: frame skipped: %s", self.name, exc)
            return []
        fr = self._face_recognition()
        scale = WORK_WIDTH / frame.shape[1]
        small = cv2.resize(frame, None, fx=scale, fy=scale)[:, :, ::-1].copy()
        boxes = fr.face_locations(small, number_of_times_to_upsample=0)
        self._tracks = [t for t in self._tracks if now - t.last_seen <= TRACK_GAP_S]
        outcomes = []
        for box, landmarks in zip(boxes, fr.face_landmarks(small, boxes), strict=True):
            track = self._follow(box, now)
            outcome = self._step(track, frame, box, landmarks, scale)
            if outcome is not None:
                outcomes.append(outcome)
        unusable = self._nobody_checked(outcomes, bool(boxes), now)
        return outcomes if unusable is None else [*outcomes, unusable]

    def _step(
        self,
        track: _Track,
        frame: np.ndarray,
        box: Box,
        landmarks: dict[str, list[tuple[int, int]]],
        scale: float,
    ) -> FaceOutcome | None:
        swaps = track.liveness.swaps
        residual = track.liveness.observe(landmarks)
        if track.liveness.swaps != swaps:
            track = self._restart(track)  # another face where this one was: start afresh
        track.frames += 1
        if track.done:
            return None
        identified = track.identified(self._agree)
        if identified is None:
            return self._try_to_identify(track, frame, box, landmarks, scale)
        if track.liveness.moves(residual):
            again, _, _ = self._identify(frame, box, scale)
            if again.person_id != identified.person_id:
                track.matches.append(again)  # not the person in this frame: identify again
                return None
            track.liveness.count()
        return self._decide(track, identified)

    def _try_to_identify(
        self,
        track: _Track,
        frame: np.ndarray,
        box: Box,
        landmarks: dict[str, list[tuple[int, int]]],
        scale: float,
    ) -> FaceOutcome | None:
        if len(track.matches) >= MAX_ENCODINGS:
            return self._give_up(track)
        if not self._worth_encoding(track):
            return None
        sharpness = _face_sharpness(frame, box, scale)
        problem = _quality(box, landmarks, scale, sharpness)
        if problem is not None:
            return FaceOutcome(track.number, problem)
        match, encoding, matcher = self._identify(frame, box, scale)
        if matcher is self._own:
            track.last_encoding = encoding
        track.identified_with = (matcher, encoding)
        track.sharpness = sharpness
        track.matches.append(match)
        identified = track.identified(self._agree)
        if identified is None:
            return None
        track.liveness.rebase()  # signs of life must come from this face, from now on
        return self._decide(track, identified)

    def _decide(self, track: _Track, identified: Match) -> FaceOutcome | None:
        """Once identified: admitted when live, or after `LIVENESS_FRAMES` as not live."""
        track.frames_since_identified += 1
        live = track.liveness.live
        if not live and track.frames_since_identified < LIVENESS_FRAMES:
            return None
        track.done = True
        assert track.identified_with is not None  # identified: a match was made
        matcher, template = track.identified_with
        gallery = matcher.gallery()

        def same_person(person_id: str) -> bool:
            """1:1: this face against `person_id`'s templates, at the engine's threshold."""
            return gallery.distance_to(template, person_id) < gallery.threshold

        evidence = FaceEvidence(
            person_id=str(identified.person_id),
            distance=identified.distance,
            margin=identified.margin,
            live=live,
            quality=track.sharpness,
            engine=matcher.engine.info.key,
            same_person=same_person,
            re_enrol=matcher is not self._own,
        )
        granted = self._admit(evidence)
        return FaceOutcome(track.number, "admitted", evidence.person_id, granted)

    def _nobody_checked(
        self, outcomes: list[FaceOutcome], faces: bool, now: float
    ) -> FaceOutcome | None:
        """Unusable, told once a spell: faces at the lane for `UNUSABLE_AFTER_S`, none
        decided, and this frame's still too blurred or small to encode. The spell is the
        lane's, not a face's: a face lost for a moment or followed afresh is the same person
        waiting. It ends with a decision, or when no face has been seen for `UNCLEAR_GAP_S`."""
        spell = self._spell
        gone = not faces and spell is not None and now - spell.last_face > UNCLEAR_GAP_S
        if gone or any(o.kind in DECIDED for o in outcomes):
            self._spell = None
            return None
        unclear = next((o for o in outcomes if o.kind in UNCLEAR), None)
        if spell is None:
            if unclear is None:
                return None
            spell = self._spell = _Spell(since=now, last_face=now)
        if faces:
            spell.last_face = now
        if spell.told or unclear is None or now - spell.since < UNUSABLE_AFTER_S:
            return None
        spell.told = True
        if self._unusable is not None:
            self._unusable(UNCLEAR[unclear.kind])
        return FaceOutcome(unclear.track, "unusable")

    def _give_up(self, track: _Track) -> FaceOutcome | None:
        """Tried enough: an unknown face (told once, with its last template)."""
        track.done = True
        if self._unknown is None or track.last_encoding is None:
            return None
        self._unknown(track.last_encoding)
        return FaceOutcome(track.number, "unknown")

    def _worth_encoding(self, track: _Track) -> bool:
        """The first tries on consecutive frames, then one every `RETRY_EVERY` frames (the
        person may turn towards the camera), up to `MAX_ENCODINGS`: then unknown."""
        tries = len(track.matches)
        return tries <= self._agree or track.frames % RETRY_EVERY == 0

    def _identify(
        self, frame: np.ndarray, box: Box, scale: float
    ) -> tuple[Match, np.ndarray, Matcher]:
        """The lane's engine first; if it names nobody, the older engine among the people
        it alone knows (only while there are any)."""
        encoding = self._encode(self._engine, frame, box, scale)
        match = self._gallery().identify(encoding)
        older = self._older
        if match.person_id is not None or older is None or not len(gallery := older.gallery()):
            return match, encoding, self._own
        older_encoding = self._encode(older.engine, frame, box, scale)
        older_match = gallery.identify(older_encoding)
        if older_match.person_id is None:
            return match, encoding, self._own
        return older_match, older_encoding, older

    def _encode(
        self, engine: TemplateEngine, frame: np.ndarray, box: Box, scale: float
    ) -> np.ndarray:
        top, right, bottom, left = (round(v / scale) for v in box)
        rgb = np.ascontiguousarray(frame[:, :, ::-1])
        shapes = self._landmarker.shapes(rgb, [(top, right, bottom, left)], points=5)
        [encoding] = engine.encode(rgb, shapes)
        return encoding

    def _restart(self, track: _Track) -> _Track:
        """The same place, another face: a new track with no evidence from the old one."""
        fresh = _Track(self._next, track.box, track.last_seen)
        fresh.liveness = track.liveness  # already restarted on the new face's landmarks
        self._next += 1
        self._tracks[self._tracks.index(track)] = fresh
        return fresh

    def _follow(self, box: Box, now: float) -> _Track:
        best = max(self._tracks, key=lambda t: _overlap(t.box, box), default=None)
        if best is not None and _overlap(best.box, box) >= MIN_OVERLAP:
            best.box, best.last_seen = box, now
            return best
        track = _Track(self._next, box, now)
        self._next += 1
        self._tracks.append(track)
        return track

    def _face_recognition(self) -> Any:
        if self._fr is None:
            require_face_stack()
            import face_recognition  # noqa: PLC0415 (after the guard)

            self._fr = face_recognition
        return self._fr


def _quality(
    box: Box, landmarks: dict[str, list[tuple[int, int]]], scale: float, sharpness: float
) -> str | None:
    top, _, bottom, _ = box
    if (bottom - top) / scale < MIN_FACE_PX:
        return "come_closer"
    if sharpness < MIN_SHARPNESS:
        return "hold_still"
    eyes = (np.mean(landmarks["left_eye"], axis=0) + np.mean(landmarks["right_eye"], axis=0)) / 2
    distance = np.linalg.norm(
        np.mean(landmarks["left_eye"], axis=0) - np.mean(landmarks["right_eye"], axis=0)
    )
    nose = np.mean(landmarks["nose_tip"], axis=0)
    if distance == 0 or abs(nose[0] - eyes[0]) / distance > MAX_YAW:
        return "face_the_camera"
    return None


def _face_sharpness(frame: np.ndarray, box: Box, scale: float) -> float:
    top, right, bottom, left = (round(v / scale) for v in box)
    return _sharpness(frame[max(top, 0) : bottom, max(left, 0) : right])


def _sharpness(face: np.ndarray) -> float:
    """Variance of the Laplacian at 160 x 160: motion blur brings it under 10 (the fixture
    video's sharp frames: 32 to 96; the same blurred: 2 to 3)."""
    if face.size == 0:
        return 0.0
    grey = cv2.cvtColor(cv2.resize(face, (160, 160)), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _overlap(a: Box, b: Box) -> float:
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, bottom - top) * max(0, right - left)
    area = (a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter
    return inter / area if area > 0 else 0.0
