"""Face enrolment on the hub: photos in, templates out, photos gone; and the risk gate.

Each photo is decoded in memory, its faces found (HOG, upsampled for small photos), and the
one face encoded by every template engine the compound has enabled (`anju.faces.engines`;
dlib unless an admin chose otherwise). A photo with no face or several faces is not used; a
small or blurry face is used with a warning, since a better photo would serve the person
better at the gate. Nothing but the templates is kept, and they are encrypted with the
hub's secret keys before they are stored. Photos are never kept, so a person enrolled
before an engine was enabled has no template for it until they are enrolled again
(`needs_re_enrolment`).

The risk gate (`face_policies`): for each engine, the compound's own gallery says whether a
face alone may open (`anju.faces.risk`); the edges get it with the registry.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import secrets
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlmodel import Session, col, func, select

from anju.faces.engines import (
    Calibration,
    EngineError,
    EngineSettings,
    TemplateEngine,
    build_engine,
    calibration_of,
)
from anju.faces.landmarks import Landmarker
from anju.faces.risk import GalleryRisk, gallery_risk
from hub.core.security import SecretBox
from hub.registry import Changes
from hub.tables import Compound, FaceConsent, FaceTemplate, Person, utcnow
from models.registry import FacePolicyRecord

DEFAULT_FPIR_LIMIT = 0.01
logger = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 20_000_000
MIN_FACE_PX = 80  # eye-to-chin height below which matching gets unreliable
MIN_SHARPNESS = 20.0  # variance of the Laplacian on the face at 160 x 160 (sharp: 35-570,
# the same photos blurred: under 12, measured on the fixtures)
SHARPNESS_SIDE = 160
WORK_SIDE = 1280  # photos are scaled down to this before detection


@dataclass
class Enrolment:
    templates: dict[str, list[np.ndarray]] = field(default_factory=dict)  # by engine key
    photos_used: int = 0
    warnings: list[str] = field(default_factory=list)


def encode_photos(photos: list[bytes], engines: list[TemplateEngine]) -> Enrolment:
    """Each engine's templates of the usable photos; a warning for each problem, by photo
    number."""
    result = Enrolment(templates={e.info.key: [] for e in engines})
    for number, data in enumerate(photos, start=1):
        try:
            templates, warnings = _encode_one(data, engines)
        except PhotoError as exc:
            result.warnings.append(f"photo {number}: {exc}; not used")
            continue
        result.photos_used += 1
        for key, template in templates.items():
            result.templates[key].append(template)
        result.warnings.extend(f"photo {number}: {w}" for w in warnings)
    return result


def compound_engines(compound: Compound) -> list[EngineSettings]:
    """The template engines a compound enrols for (dlib by default)."""
    return [EngineSettings.model_validate(e) for e in json.loads(compound.face_engines)]


@cache
def engine_for(settings: EngineSettings) -> TemplateEngine:
    """One engine per configuration for the hub's life: its model is loaded once."""
    return build_engine(settings)


def face_policies(
    *, session: Session, compound: Compound, box: SecretBox
) -> list[FacePolicyRecord]:
    """The risk gate of each engine's gallery (enabled, or holding templates still). A
    registry version fixes the faces, the engines and the limit: every edge pulling it
    shares one computation (all pairs of residents: seconds for ten thousand)."""
    key = (str(session.get_bind().engine.url), compound.id, compound.registry_version)
    with _POLICIES_LOCK:  # one computation at a time: the edges nudged together wait for it
        if (known := _POLICIES.get(key)) is None:
            known = _POLICIES[key] = _compute_policies(session, compound, box)
            while len(_POLICIES) > 64:
                _POLICIES.popitem(last=False)
        return known


_POLICIES: OrderedDict[tuple[str, str, int], list[FacePolicyRecord]] = OrderedDict()
_POLICIES_LOCK = threading.Lock()


def _compute_policies(
    session: Session, compound: Compound, box: SecretBox
) -> list[FacePolicyRecord]:
    """Each engine's policy; one that cannot be computed (a damaged template, say) is sent
    as face alone off, so that the registry's sync never fails for it."""
    try:
        risks = gallery_risks(session=session, compound=compound, box=box)
    except Exception:  # any failure here must cost the face alone, never the registry
        logger.exception("compound %s: face risk not computed; face alone off", compound.id)
        keys = {s.key for s in compound_engines(compound)}
        return [_policy(compound, key, people=0, bound=1.0, look_alikes=[]) for key in keys]
    return [
        _policy(compound, key, risk.people, risk.fpir_bound, sorted(risk.look_alikes))
        for key, risk in risks.items()
    ]


def _policy(
    compound: Compound, key: str, people: int, bound: float, look_alikes: list[str]
) -> FacePolicyRecord:
    return FacePolicyRecord(
        id=f"policy-{key}",
        engine=key,
        people=people,
        fpir_bound=bound,
        limit=compound.face_fpir_limit,
        look_alikes=look_alikes,
    )


def gallery_risks(
    *, session: Session, compound: Compound, box: SecretBox
) -> dict[str, GalleryRisk]:
    galleries = _galleries(session, compound.id, box)
    for settings in compound_engines(compound):
        galleries.setdefault(settings.key, {})
    risks = {}
    for key, gallery in galleries.items():
        calibration = calibration_of(key) or _configured_calibration(compound, key)
        if calibration is not None:
            stacked = {person: np.stack(templates) for person, templates in gallery.items()}
            risks[key] = gallery_risk(stacked, calibration)
    return risks


def _configured_calibration(compound: Compound, key: str) -> Calibration | None:
    """An operator's engine's calibration, from its settings (no model loaded for it)."""
    for settings in compound_engines(compound):
        if settings.key == key:
            return settings.calibration()
    return None


def _galleries(
    session: Session, compound_id: str, box: SecretBox
) -> dict[str, dict[str, list[np.ndarray]]]:
    galleries: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    rows = session.exec(select(FaceTemplate).where(col(FaceTemplate.compound_id) == compound_id))
    for row in rows:
        template = np.frombuffer(box.decrypt(row.template), dtype="<f4")
        galleries[row.engine][row.person_id].append(template)
    return {key: dict(people) for key, people in galleries.items()}


class EnginesRefused(ValueError):
    """An engine that cannot be enabled: its terms not accepted, its model not there."""


def set_engines(
    *,
    session: Session,
    compound: Compound,
    engines: list[EngineSettings],
    fpir_limit: float,
    changes: Changes,
) -> None:
    """Enable `engines` for the compound's enrolments, each loaded
    once to prove it works here; the edges get the new risk gates with the next sync."""
    if not engines or not 0 <= fpir_limit <= 1:
        raise EnginesRefused("at least one engine, and a limit from 0 to 1")
    for settings in engines:
        try:
            engine_for(settings)
        except EngineError as exc:
            raise EnginesRefused(str(exc)) from exc
    compound.face_engines = json.dumps([e.model_dump(mode="json") for e in engines])
    compound.face_fpir_limit = fpir_limit
    session.add(compound)
    for settings in engines:
        changes.upsert("face_policy", f"policy-{settings.key}")


def needs_re_enrolment(*, session: Session, compound: Compound) -> dict[str, list[str]]:
    """People with templates who lack one of an engine the compound has enabled: each with
    the engines they must be enrolled again for (photos are not kept to re-encode)."""
    enabled = [s.key for s in compound_engines(compound)]
    held: dict[str, set[str]] = defaultdict(set)
    rows = session.exec(
        select(FaceTemplate.person_id, FaceTemplate.engine).where(
            col(FaceTemplate.compound_id) == compound.id
        )
    )
    for person_id, engine in rows:
        held[person_id].add(engine)
    missing = {p: [e for e in enabled if e not in engines] for p, engines in held.items()}
    return {p: engines for p, engines in sorted(missing.items()) if engines}


class PhotoError(ValueError):
    pass


def template_bytes(template: np.ndarray) -> bytes:
    return np.asarray(template, dtype="<f4").tobytes()


def template_text(data: bytes) -> str:
    """As the registry delta carries it."""
    return base64.b64encode(data).decode("ascii")


def _encode_one(
    data: bytes, engines: list[TemplateEngine]
) -> tuple[dict[str, np.ndarray], list[str]]:
    image = _decode(data)
    landmarker = Landmarker()
    upsample = 1 if max(image.shape[:2]) < 800 else 0
    boxes = landmarker.find(image, upsample)
    if not boxes:
        raise PhotoError("no face found")
    if len(boxes) > 1:
        raise PhotoError(f"{len(boxes)} faces; use a photo of this person alone")
    top, right, bottom, left = boxes[0]
    warnings = []
    if bottom - top < MIN_FACE_PX:
        warnings.append(f"the face is small ({bottom - top} px); a closer photo is better")
    if _sharpness(image[top:bottom, left:right]) < MIN_SHARPNESS:
        warnings.append("the face is blurry; a sharper photo is better")
    shapes = landmarker.shapes(image, boxes, points=5)
    return {e.info.key: e.encode(image, shapes)[0] for e in engines}, warnings


def _decode(data: bytes) -> np.ndarray:
    if not data or len(data) > MAX_PHOTO_BYTES:
        raise PhotoError(f"a photo is 1 byte to {MAX_PHOTO_BYTES // 2**20} MB")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise PhotoError(f"over {MAX_PIXELS // 1_000_000} megapixels")
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except Image.DecompressionBombError as exc:
        raise PhotoError(f"over {MAX_PIXELS // 1_000_000} megapixels") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        if isinstance(exc, PhotoError):
            raise
        raise PhotoError(f"not a readable image ({exc})") from exc
    image.thumbnail((WORK_SIDE, WORK_SIDE))
    return np.asarray(image)


def _sharpness(face: np.ndarray) -> float:
    """At a fixed size, so that a large face is not judged sharper for its size."""
    if face.size == 0:
        return 0.0
    resized = Image.fromarray(face).resize((SHARPNESS_SIDE, SHARPNESS_SIDE))
    grey = np.asarray(resized, dtype=np.float32).mean(axis=2)
    laplacian = (
        grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    )
    return float(laplacian.var()) if laplacian.size else 0.0


@dataclass(frozen=True)
class ConsentGiven:
    minor: bool
    given_by: str
    guardian_name: str | None = None
    document_ref: str | None = None


def enrol(
    *,
    session: Session,
    box: SecretBox,
    person: Person,
    photos: list[bytes],
    consent: ConsentGiven,
    recorded_by: str,
    changes: Changes,
) -> Enrolment:
    """Record the consent and store each enabled engine's templates of the usable photos
    (added to `session` and `changes`; the caller commits). Raises PhotoError when no photo
    is usable."""
    compound = session.get(Compound, person.compound_id)
    assert compound is not None  # a person's compound exists (foreign key)
    engines = [engine_for(settings) for settings in compound_engines(compound)]
    result = encode_photos(photos, engines)
    if not result.photos_used:
        raise PhotoError("no usable photo: " + "; ".join(result.warnings))
    now = utcnow()
    record = FaceConsent(
        compound_id=person.compound_id,
        person_id=person.id,
        minor=consent.minor,
        given_by=consent.given_by,
        guardian_name=consent.guardian_name,
        document_ref=consent.document_ref,
        recorded_by=recorded_by,
        recorded_at=now,
    )
    session.add(record)
    session.flush()
    for engine, templates in result.templates.items():
        for template in templates:
            row = FaceTemplate(
                id=f"face-{secrets.token_hex(8)}",
                compound_id=person.compound_id,
                person_id=person.id,
                engine=engine,
                consent_id=record.id,  # type: ignore[arg-type]
                template=box.encrypt(template_bytes(template)),
                created_at=now,
            )
            session.add(row)
            changes.upsert("face", row.id)
    return result


@dataclass(frozen=True)
class FaceState:
    """A person's face enrolment: their consent in force (if any), and their templates."""

    consent: FaceConsent | None
    templates: int


def state(*, session: Session, person: Person) -> FaceState:
    count = session.exec(select(func.count()).where(col(FaceTemplate.person_id) == person.id)).one()
    return FaceState(consent=active_consent(session=session, person=person), templates=count)


def active_consent(*, session: Session, person: Person) -> FaceConsent | None:
    """The newest consent not withdrawn."""
    return session.exec(
        select(FaceConsent)
        .where(col(FaceConsent.person_id) == person.id, col(FaceConsent.withdrawn_at).is_(None))
        .order_by(col(FaceConsent.recorded_at).desc())
    ).first()


def may_withdraw(*, session: Session, person: Person, holder_id: str | None) -> bool:
    """Whether the resident whose account names `holder_id` may withdraw `person`'s consent:
    their own, or a minor's (of their unit: the caller has checked that)."""
    if person.id == holder_id:
        return True
    consent = active_consent(session=session, person=person)
    return consent is not None and consent.minor
