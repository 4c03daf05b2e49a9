"""Calibration: the open-set identification curve on labelled photos, and the threshold for a
target false-positive identification rate.

`python -m edge.faces.calibrate FOLDER` takes a folder per person (photos inside) or the
fixtures' MANIFEST.tsv layout (`--manifest`), enrols each identity with at least 3 usable
photos from its first 2 (by path) and probes with the rest; impostor probes are the photos of
identities not enrolled (against everyone) and each enrolled identity's photos against the
gallery without it. FNIR counts acquired genuine probes not identified as themselves, FPIR
impostor probes identified as anyone, FTA photos without a usable face. It prints the curve
and the smallest threshold whose FNIR is lowest at the target FPIR.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from anju.doctor import require_face_stack
from edge.faces.gallery import MIN_MARGIN, THRESHOLD, FaceGallery

_RESOLUTIONS = re.compile(r"obama-\d+p\.jpg$")
_IMAGES = {".jpg", ".jpeg", ".png", ".bmp"}
CURVE = (0.40, 0.45, 0.50, 0.55, 0.60, 0.65)


@dataclass(frozen=True)
class Photo:
    path: Path
    identity: str


def labelled_photos(fixtures: Path) -> list[Photo]:
    """From MANIFEST.tsv: labelled, one per portrait (duplicates and the same portrait at
    other sizes left out)."""
    photos = []
    with (fixtures / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if not row["identity"] or row["dup_of_blob"] or _RESOLUTIONS.search(row["local_path"]):
                continue
            photos.append(Photo(fixtures / row["local_path"], row["identity"]))
    return sorted(photos, key=lambda p: str(p.path))


def face_recognition_module() -> Any:
    require_face_stack()
    import face_recognition  # noqa: PLC0415

    return face_recognition


def encode_photo(fr: Any, path: Path) -> np.ndarray | None:
    """The largest face's template, or None (a failure to acquire)."""
    image = fr.load_image_file(str(path))
    if max(image.shape[:2]) < 400:  # tight crops: HOG misses faces this small
        factor = 400 / max(image.shape[:2])
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    boxes = fr.face_locations(image, number_of_times_to_upsample=1)
    if not boxes:
        return None
    largest = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    return fr.face_encodings(image, [largest])[0]


def encode_all(fr: Any, photos: list[Photo]) -> dict[str, list[np.ndarray | None]]:
    encoded: dict[str, list[np.ndarray | None]] = defaultdict(list)
    for photo in photos:
        encoded[photo.identity].append(encode_photo(fr, photo.path))
    return encoded


def open_set(
    encoded: dict[str, list[np.ndarray | None]],
    threshold: float = THRESHOLD,
    min_margin: float = MIN_MARGIN,
) -> dict[str, float | int]:
    enrolled = {i: e for i, e in encoded.items() if sum(x is not None for x in e) >= 3}
    gallery_of: dict[str, list[np.ndarray]] = {
        identity: [x for x in e if x is not None][:2] for identity, e in enrolled.items()
    }
    genuine = fnir = fta = impostors = fpir = 0  # fnir over acquired probes; fta apart

    def gallery(without: str | None = None) -> FaceGallery:
        pairs = [(t, i) for i, ts in gallery_of.items() if i != without for t in ts]
        return FaceGallery(
            np.stack([t for t, _ in pairs]),
            [i for _, i in pairs],
            threshold=threshold,
            min_margin=min_margin,
        )

    everyone = gallery()
    for identity, templates in encoded.items():
        if identity in enrolled:
            usable = [x for x in templates if x is not None]
            for probe in usable[2:]:
                genuine += 1
                fnir += everyone.identify(probe).person_id != identity
            fta += sum(x is None for x in templates)
            others = gallery(without=identity)
            for probe in usable:
                impostors += 1
                fpir += others.identify(probe).person_id is not None
        else:
            fta += sum(x is None for x in templates)
            for probe in templates:
                if probe is None:
                    continue
                impostors += 1
                fpir += everyone.identify(probe).person_id is not None
    probes = genuine + impostors + fta
    return {
        "fnir": round(fnir / genuine, 4) if genuine else float("nan"),
        "fpir": round(fpir / impostors, 4) if impostors else float("nan"),
        "fta": round(fta / probes, 4) if probes else float("nan"),
        "genuine_probes": genuine,
        "impostor_probes": impostors,
        "enrolled_identities": len(enrolled),
    }


def folder_photos(folder: Path) -> list[Photo]:
    """A folder per person, named by the person."""
    return sorted(
        (
            Photo(path, person.name)
            for person in folder.iterdir()
            if person.is_dir()
            for path in person.iterdir()
            if path.suffix.lower() in _IMAGES
        ),
        key=lambda p: str(p.path),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.faces.calibrate", description=__doc__)
    parser.add_argument("folder", type=Path, help="a folder per person, or the fixtures' faces")
    parser.add_argument("--manifest", action="store_true", help="FOLDER has a MANIFEST.tsv")
    parser.add_argument("--target-fpir", type=float, default=0.0)
    args = parser.parse_args(argv)
    photos = labelled_photos(args.folder) if args.manifest else folder_photos(args.folder)
    encoded = encode_all(face_recognition_module(), photos)
    print(f"{len(photos)} photos, margin {MIN_MARGIN}; shipped threshold {THRESHOLD}")
    print(f"{'threshold':>9} {'fnir':>7} {'fpir':>7} {'fta':>7}")
    best = None
    for threshold in CURVE:
        result = open_set(encoded, threshold)
        print(
            f"{threshold:>9.2f} {result['fnir']:>7.4f} {result['fpir']:>7.4f} {result['fta']:>7.4f}"
        )
        within = float(result["fpir"]) <= args.target_fpir
        if within and (best is None or float(result["fnir"]) < best[1]):
            best = (threshold, float(result["fnir"]))
    if best is None:
        print(f"no threshold reaches FPIR {args.target_fpir}")
        return 1
    print(f"threshold for FPIR <= {args.target_fpir}: {best[0]:.2f} (FNIR {best[1]:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
