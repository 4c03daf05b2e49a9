"""Decoding images from cameras and pushes, defensively: whatever arrives, the result is an
8-bit BGR array or an `ImageError` saying what was wrong, never a crash or a memory blow-up.
A JPEG cut short in transfer is read as far as its data goes."""

from __future__ import annotations

import io
import logging

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from edge.errors import EdgeError

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 20_000_000
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"


class ImageError(EdgeError):
    """Not an image we can use: empty, corrupt, truncated, or too large."""


def decode(data: bytes) -> np.ndarray:
    """JPEG, PNG or BMP bytes as an 8-bit BGR image; the size is checked from the header
    before any pixel is decoded."""
    if not data:
        raise ImageError("empty image")
    if len(data) > MAX_BYTES:
        raise ImageError(f"image of {len(data):,} bytes, the limit is {MAX_BYTES:,}")
    try:
        with Image.open(io.BytesIO(data)) as header:
            width, height = header.size
    except Image.DecompressionBombError as exc:
        raise ImageError(f"over {MAX_PIXELS // 1_000_000} megapixels") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"not an image: {exc}") from exc
    if width * height > MAX_PIXELS:
        raise ImageError(f"{width}x{height} is over {MAX_PIXELS // 1_000_000} megapixels")
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None and data.startswith(JPEG_START) and not data.endswith(JPEG_END):
        array = _cut_short_jpeg(data)
    if array is None or array.size == 0:
        raise ImageError("the image is corrupt or truncated")
    return to_bgr8(array)


def _cut_short_jpeg(data: bytes) -> np.ndarray | None:
    """A JPEG whose transfer stopped before its end: decoded as far as its data goes, with
    the end marker restored (libjpeg greys what is missing). A camera's frame cut by a few
    bytes on a poor link still shows the plate; one cut early shows less, and the reader
    finds less in it."""
    log.warning("a JPEG of %d bytes ends early: read as far as it goes", len(data))
    return cv2.imdecode(np.frombuffer(data + JPEG_END, dtype=np.uint8), cv2.IMREAD_UNCHANGED)


def to_bgr8(array: np.ndarray) -> np.ndarray:
    """Greyscale, 16-bit and alpha images as 8-bit BGR."""
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ImageError(f"unsupported pixel type {array.dtype}")
    if array.ndim == 2:
        return cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.ndim == 3 and array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    if array.ndim == 3 and array.shape[2] == 3:
        return array
    raise ImageError(f"unsupported image shape {array.shape}")


def scaled(image: np.ndarray, pixels: int, max_zoom: float) -> tuple[np.ndarray, float]:
    """`image` scaled to about `pixels` pixels (enlarged at most `max_zoom` times), and the
    scale: a detector's time goes with its input's pixels, and small plates need enough."""
    height, width = image.shape[:2]
    scale = min(max_zoom, (pixels / max(1, height * width)) ** 0.5)
    if scale == 1.0:
        return image, scale
    shrink = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=shrink), scale
