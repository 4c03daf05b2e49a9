"""A model file as a configuration names it: there, and the very file its checksum says."""

from __future__ import annotations

import hashlib
from pathlib import Path


class ModelError(Exception):
    """A model file that is missing, or not the one its checksum names."""


def check_file(path: Path, sha256: str, *, missing: str, wrong: str) -> None:
    """Raises ModelError, saying what to do, unless the file at `path` has this sha256."""
    if not path.is_file():
        raise ModelError(f"{path} is missing: {missing}")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != sha256:
        raise ModelError(f"{path} has sha256 {actual}, not {sha256}: {wrong}")
