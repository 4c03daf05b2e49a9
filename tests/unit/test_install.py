"""The install traps of the face stack, checked on the installed environment itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from anju import doctor


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_environment_passes_every_install_check() -> None:
    failed = [f for f in doctor.findings() if not f.ok]
    assert failed == []


def test_face_recognition_imports_without_quitting() -> None:
    result = _python(
        "from anju.doctor import require_face_stack; require_face_stack();"
        "import face_recognition; print('imported', face_recognition.face_encodings.__name__)"
    )
    assert result.returncode == 0, result.stderr
    assert "imported face_encodings" in result.stdout


def test_a_missing_pkg_resources_raises_instead_of_quitting() -> None:
    # What a setuptools without pkg_resources does: face_recognition would quit() silently.
    result = _python(
        "import sys; sys.modules['pkg_resources'] = None\n"
        "from anju.doctor import require_face_stack; require_face_stack()"
    )
    assert result.returncode == 1
    assert "InstallError" in result.stderr
    assert "face_recognition_models importable" in result.stderr


def test_the_real_face_models_encode_a_real_face(fixtures_dir: Path) -> None:
    doctor.require_face_stack()
    import face_recognition  # noqa: PLC0415 (after the guard, on purpose)

    image = face_recognition.load_image_file(
        fixtures_dir / "faces/face_recognition/examples/lin-manuel-miranda.png"
    )
    encodings = face_recognition.face_encodings(image)
    assert len(encodings) == 1
    assert encodings[0].shape == (128,)
