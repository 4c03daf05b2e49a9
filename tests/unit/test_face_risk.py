"""The face contracts, the engines' model-file checks and terms, and the risk gate's
arithmetic: no photos, no networks run."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from anju.faces import mobilefacenet_model
from anju.faces.engines import Calibration, EngineError, EngineSettings, build_engine
from anju.faces.risk import clopper_pearson, gallery_risk
from edge.faces.gallery import RegistryGallery
from edge.registry import RegistryCache
from models.registry import Change, FaceRecord, Op, RegistryDelta


def test_a_gallery_never_compares_templates_of_another_engine() -> None:
    rng = np.random.default_rng(3)
    dlib = base64.b64encode(rng.normal(size=128).astype("<f4").tobytes()).decode()
    other = base64.b64encode(rng.normal(size=192).astype("<f4").tobytes()).decode()
    records = [
        FaceRecord(id="f1", person_id="p-1", template=dlib),
        FaceRecord(id="f2", person_id="p-2", engine="mobilefacenet", template=other),
    ]
    cache = RegistryCache("c1")
    changes = [Change(op=Op.UPSERT, record_kind="face", id=r.id, record=r) for r in records]
    cache.apply(RegistryDelta(compound_id="c1", from_version=0, to_version=1, changes=changes))
    gallery = RegistryGallery(lambda: cache, "dlib", Calibration(0.4, 0.03, 0.45), length=128)
    assert gallery().people == frozenset({"p-1"})
    narrow = RegistryGallery(lambda: cache, "dlib", Calibration(0.4, 0.03, 0.45), length=64)
    assert narrow().people == frozenset()  # a template of another length is never compared


def test_a_template_of_a_broken_length_or_not_base64_is_refused_by_the_contract() -> None:
    seven = base64.b64encode(b"\0" * 130).decode()  # 32.5 numbers
    with pytest.raises(ValueError, match="float32"):
        FaceRecord(id="f1", person_id="p-1", template=seven)
    with pytest.raises(ValueError, match="base64"):
        FaceRecord(id="f1", person_id="p-1", template="A" * 177)


def test_mobilefacenet_needs_its_terms_accepted() -> None:
    with pytest.raises(EngineError, match="accept_model_terms"):
        build_engine(EngineSettings(type="mobilefacenet"))


def test_a_damaged_model_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    damaged = tmp_path / "MobileFaceNet.tflite"
    damaged.write_bytes(mobilefacenet_model.installed_path().read_bytes()[:-10] + b"0" * 10)
    settings = EngineSettings(type="mobilefacenet", accept_model_terms=True, model_path=damaged)
    with pytest.raises(EngineError, match="make install"):
        build_engine(settings)
    with pytest.raises(EngineError, match="missing"):
        build_engine(settings.model_copy(update={"model_path": tmp_path / "absent.tflite"}))


def test_an_onnx_engine_checks_its_file_against_the_configured_checksum(tmp_path: Path) -> None:
    model = tmp_path / "licensed.onnx"
    model.write_bytes(b"not the licensed model")
    settings = EngineSettings(
        type="onnx", model_path=model, sha256="0" * 64, threshold=0.9, length=512
    )
    with pytest.raises(EngineError, match="sha256"):
        build_engine(settings)
    with pytest.raises(ValueError, match="threshold"):
        EngineSettings(type="onnx", model_path=model, sha256="0" * 64)


def test_the_tarball_check_refuses_anything_but_the_pinned_bytes() -> None:
    with pytest.raises(mobilefacenet_model.ModelError):
        mobilefacenet_model.check_integrity(b"another package")


# ------------------------------------------------------------------------------ risk gate


def _spread(people: int, dimension: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """People far apart (random directions), two close templates each."""
    centres = rng.normal(size=(people, dimension))
    return {
        f"p-{i}": np.stack([c + rng.normal(scale=0.05, size=dimension) for _ in range(2)])
        for i, c in enumerate(centres)
    }


def test_a_gallery_of_people_far_apart_lets_the_face_alone_open() -> None:
    gallery = _spread(40, 128, np.random.default_rng(1))
    risk = gallery_risk(gallery, Calibration(0.6, 0.05, 0.7))
    assert risk.false_accepts == 0 and risk.pairs == 40 * 39 // 2
    assert risk.fpir_bound < 0.01
    assert risk.face_alone("p-3", 0.01)


def test_look_alikes_and_a_crowded_gallery_need_a_second_factor() -> None:
    rng = np.random.default_rng(2)
    gallery = _spread(40, 128, rng)
    gallery["p-twin"] = gallery["p-0"] + rng.normal(scale=0.02, size=(2, 128))
    risk = gallery_risk(gallery, Calibration(0.6, 0.05, 0.7))
    assert {"p-0", "p-twin"} <= risk.look_alikes
    assert not risk.face_alone("p-twin", 1.0)
    crowded = gallery_risk(gallery, Calibration(1.35, 0.05, 1.4))  # near the typical distance
    assert crowded.fpir_bound > 0.5 and not crowded.face_alone("p-3", 0.01)


def test_too_small_a_gallery_says_nothing_and_keeps_the_face_alone_off() -> None:
    risk = gallery_risk(_spread(5, 128, np.random.default_rng(4)), Calibration(0.6, 0.05, 0.7))
    assert risk.fpir_bound == 1.0


def test_clopper_pearson_matches_known_values() -> None:
    low, high = clopper_pearson(0, 100)
    assert low == 0 and abs(high - 0.036217) < 1e-5
    low, high = clopper_pearson(5, 50)
    assert abs(low - 0.033275) < 1e-5 and abs(high - 0.218135) < 1e-5


def test_a_gallery_whose_distances_do_not_spread_says_nothing_rather_than_fail() -> None:
    same = np.ones((1, 128))
    risk = gallery_risk({f"p-{i}": same for i in range(10)}, Calibration(0.6, 0.05, 0.7))
    assert risk.fpir_bound == 1.0
    assert len(risk.look_alikes) == 10


def test_the_bound_follows_a_normal_tail_computed_apart() -> None:
    """Forty people whose distances spread: the projected share is the normal tail at the
    threshold from the jackknife's bounds, and the bound is rounded up, never down."""
    rng = np.random.default_rng(11)
    gallery = {f"p-{i}": rng.normal(size=(2, 16)) for i in range(40)}
    calibration = Calibration(0.9, 0.05, 0.95)
    risk = gallery_risk(gallery, calibration)
    assert 0 < risk.far_bound < 1
    expected = 1 - (1 - risk.far_bound) ** 40
    assert expected <= risk.fpir_bound <= expected + 1e-6
    tighter = gallery_risk(gallery, Calibration(0.7, 0.05, 0.75))
    assert tighter.far_bound < risk.far_bound  # a lower threshold, a thinner tail
