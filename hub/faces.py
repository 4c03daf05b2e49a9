"""Face enrolment on the hub: photos in, templates out, photos gone.

Each photo is decoded in memory, its faces found (HOG, upsampled for small photos), and the
one face encoded with face_recognition's 128-number model. A photo with no face or several
faces is not used; a small or blurry face is used with a warning, since a better photo
would serve the person better at the gate. Nothing but the templates is kept, and they are
encrypted with the hub's secret keys before they are stored.
"""

from __future__ import annotations

import base64
import io
import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlmodel import Session

from anju.doctor import require_face_stack
from hub.core.security import SecretBox
from hub.registry import Changes
from hub.tables import FaceConsent, FaceTemplate, Person, utcnow

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 20_000_000
MIN_FACE_PX = 80  # eye-to-chin height below which matching gets unreliable
MIN_SHARPNESS = 20.0  # variance of the Laplacian on the face at 160 x 160 (sharp: 35-570,
# the same photos blurred: under 12, measured on the fixtures)
SHARPNESS_SIDE = 160
WORK_SIDE = 1280  # photos are scaled down to this before detection


@dataclass
class Enrolment:
    templates: list[np.ndarray] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def encode_photos(photos: list[bytes]) -> Enrolment:
    """Templates from the usable photos; a warning for each problem, by photo number."""
    result = Enrolment()
    for number, data in enumerate(photos, start=1):
        try:
            template, warnings = _encode_one(data)
        except PhotoError as exc:
            result.warnings.append(f"photo {number}: {exc}; not used")
            continue
        result.templates.append(template)
        result.warnings.extend(f"photo {number}: {w}" for w in warnings)
    return result


class PhotoError(ValueError):
    pass


def template_bytes(template: np.ndarray) -> bytes:
    return np.asarray(template, dtype="<f4").tobytes()


def template_text(data: bytes) -> str:
    """As the registry delta carries it."""
    return base64.b64encode(data).decode("ascii")


def _encode_one(data: bytes) -> tuple[np.ndarray, list[str]]:
    image = _decode(data)
    face_recognition = _face_recognition()
    upsample = 1 if max(image.shape[:2]) < 800 else 0
    boxes = face_recognition.face_locations(image, number_of_times_to_upsample=upsample)
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
    [encoding] = face_recognition.face_encodings(image, boxes)
    return encoding, warnings


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


def _face_recognition() -> Any:
    require_face_stack()
    import face_recognition  # noqa: PLC0415 (after the guard, and only when enrolling)

    return face_recognition


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
    """Record the consent and store the templates of the usable photos (added to `session`
    and `changes`; the caller commits). Raises PhotoError when no photo is usable."""
    result = encode_photos(photos)
    if not result.templates:
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
    for template in result.templates:
        row = FaceTemplate(
            id=f"face-{secrets.token_hex(8)}",
            compound_id=person.compound_id,
            person_id=person.id,
            consent_id=record.id,  # type: ignore[arg-type]
            template=box.encrypt(template_bytes(template)),
            created_at=now,
        )
        session.add(row)
        changes.upsert("face", row.id)
    return result
