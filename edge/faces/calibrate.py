"""Calibration: the open-set identification curve of one template engine on labelled
photos, the threshold for a target false-positive identification rate, and its
cross-validation.

`python -m edge.faces.calibrate FOLDER [FOLDER ...] [--engine NAME]` takes folders of a
folder per person (photos inside) or the fixtures' MANIFEST.tsv layout (`--manifest`); the
identities of several folders are kept apart. Each identity with at least 3 usable photos is
enrolled from its first 2 (by path) and probed with the rest; impostor probes are the photos
of identities not enrolled (against everyone) and each enrolled identity's photos against
the gallery without it. FNIR counts acquired genuine probes not identified as themselves,
FPIR impostor probes identified as anyone, FTA photos without a usable face. It prints the
curve and the threshold whose FNIR is lowest at the target FPIR; `--folds K` chooses it K
times, each time on the identities outside one fold, and reports the held-out identities'
FNIR and FPIR at the threshold chosen without them (leave-identities-out).
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

from anju.faces.engines import (
    Calibration,
    EngineSettings,
    TemplateEngine,
    build_engine,
    encode_largest_face,
)
from anju.faces.landmarks import Landmarker, face_recognition_module
from edge.faces.gallery import FaceGallery

_RESOLUTIONS = re.compile(r"obama-\d+p\.jpg$")
_IMAGES = {".jpg", ".jpeg", ".png", ".bmp"}
CURVES = {
    "dlib": tuple(round(0.26 + 0.02 * i, 2) for i in range(12)),
    "mobilefacenet": tuple(round(0.70 + 0.03 * i, 2) for i in range(13)),
}


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


def load_rgb(path: Path) -> np.ndarray:
    """A photo as RGB; tight crops upscaled, since HOG misses faces that small."""
    image = face_recognition_module().load_image_file(str(path))
    if max(image.shape[:2]) < 400:
        factor = 400 / max(image.shape[:2])
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return image


def encode_photo(engine: TemplateEngine, path: Path) -> np.ndarray | None:
    """The largest face's template, or None (a failure to acquire)."""
    return encode_largest_face(engine, load_rgb(path), _LANDMARKER)


_LANDMARKER = Landmarker()


def encode_all(engine: TemplateEngine, photos: list[Photo]) -> dict[str, list[np.ndarray | None]]:
    encoded: dict[str, list[np.ndarray | None]] = defaultdict(list)
    for photo in photos:
        encoded[photo.identity].append(encode_photo(engine, photo.path))
    return encoded


def open_set(
    encoded: dict[str, list[np.ndarray | None]], calibration: Calibration
) -> dict[str, Any]:
    enrolled = {i: e for i, e in encoded.items() if sum(x is not None for x in e) >= 3}
    gallery_of: dict[str, list[np.ndarray]] = {
        identity: [x for x in e if x is not None][:2] for identity, e in enrolled.items()
    }
    genuine = fnir = fta = impostors = fpir = 0  # fnir over acquired probes; fta apart

    def gallery(without: str | None = None) -> FaceGallery:
        pairs = [(t, i) for i, ts in gallery_of.items() if i != without for t in ts]
        return FaceGallery(
            np.stack([t for t, _ in pairs]), [i for _, i in pairs], calibration=calibration
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
            for stranger in (x for x in templates if x is not None):
                impostors += 1
                fpir += everyone.identify(stranger).person_id is not None
    probes = genuine + impostors + fta
    return {
        "fnir": round(fnir / genuine, 4) if genuine else float("nan"),
        "fpir": round(fpir / impostors, 4) if impostors else float("nan"),
        "fta": round(fta / probes, 4) if probes else float("nan"),
        "genuine_probes": genuine,
        "impostor_probes": impostors,
        "misses": fnir,
        "false_identifications": fpir,
        "enrolled_identities": len(enrolled),
    }


def choose(
    encoded: dict[str, list[np.ndarray | None]],
    curve: tuple[float, ...],
    base: Calibration,
    target_fpir: float,
) -> float | None:
    """The threshold whose FNIR is lowest at FPIR <= target (the smallest such)."""
    best: tuple[float, float] | None = None
    for threshold in curve:
        result = open_set(encoded, _at(base, threshold))
        if result["fpir"] <= target_fpir and (best is None or result["fnir"] < best[1]):
            best = (threshold, result["fnir"])
    return None if best is None else best[0]


def cross_validate(
    encoded: dict[str, list[np.ndarray | None]],
    curve: tuple[float, ...],
    base: Calibration,
    folds: int,
    target_fpir: float = 0.0,
) -> dict[str, Any]:
    """Leave identities out: choose on the others, count on the fold's own identities."""
    identities = sorted(encoded)
    chosen, misses, genuine, false_ids, impostors = [], 0, 0, 0, 0
    for fold in range(folds):
        held = {i for n, i in enumerate(identities) if n % folds == fold}
        threshold = choose(
            {i: e for i, e in encoded.items() if i not in held}, curve, base, target_fpir
        )
        if threshold is None:
            continue
        chosen.append(threshold)
        result = open_set({i: e for i, e in encoded.items() if i in held}, _at(base, threshold))
        misses += result["misses"]
        genuine += result["genuine_probes"]
        false_ids += result["false_identifications"]
        impostors += result["impostor_probes"]
    return {
        "thresholds": chosen,
        "held_out_fnir": round(misses / genuine, 4) if genuine else float("nan"),
        "held_out_fpir": round(false_ids / impostors, 4) if impostors else float("nan"),
        "held_out_counts": (misses, genuine, false_ids, impostors),
    }


def _at(base: Calibration, threshold: float) -> Calibration:
    return Calibration(threshold, base.margin, threshold + (base.look_alike - base.threshold))


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
    parser.add_argument("folders", type=Path, nargs="+", help="a folder per person, or fixtures")
    parser.add_argument("--manifest", action="store_true", help="the folders have MANIFEST.tsv")
    parser.add_argument("--engine", choices=sorted(CURVES), default="dlib")
    parser.add_argument("--accept-model-terms", action="store_true", help="for mobilefacenet")
    parser.add_argument("--target-fpir", type=float, default=0.0)
    parser.add_argument("--folds", type=int, default=0, help="cross-validate over K folds")
    args = parser.parse_args(argv)
    engine = build_engine(
        EngineSettings(type=args.engine, accept_model_terms=args.accept_model_terms)
    )
    encoded: dict[str, list[np.ndarray | None]] = {}
    for folder in args.folders:
        photos = labelled_photos(folder) if args.manifest else folder_photos(folder)
        for identity, templates in encode_all(engine, photos).items():
            encoded[f"{folder.name}/{identity}"] = templates
    base, curve = engine.calibration, CURVES[args.engine]
    print(f"{args.engine}: margin {base.margin}; shipped threshold {base.threshold}")
    print(f"{'threshold':>9} {'fnir':>7} {'fpir':>7} {'fta':>7}")
    for threshold in curve:
        r = open_set(encoded, _at(base, threshold))
        print(f"{threshold:>9.2f} {r['fnir']:>7.4f} {r['fpir']:>7.4f} {r['fta']:>7.4f}")
    best = choose(encoded, curve, base, args.target_fpir)
    if args.folds:
        print(
            f"leave identities out, {args.folds} folds:",
            cross_validate(encoded, curve, base, args.folds, args.target_fpir),
        )
    if best is None:
        print(f"no threshold reaches FPIR {args.target_fpir}")
        return 1
    print(f"threshold for FPIR <= {args.target_fpir}: {best:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
