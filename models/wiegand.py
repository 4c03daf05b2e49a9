"""Wiegand frames as Wiegand-to-network converters forward them over TCP.

One frame per line, ASCII: ``W<bits>:<hex>\\r\\n``, where ``<hex>`` is the raw frame (parity bits
included), most significant bit first. 26-bit frames (H10301: even parity, 8-bit facility, 16-bit
card, odd parity) and 34-bit frames (even parity, 32 data bits, odd parity) are understood. The
card number Anju stores is the frame's data bits as a decimal number.

Keypads send one 4-bit frame per key, as most Wiegand keypads do (``W4:<hex>``): 0-9, A for
``*`` and B for ``#``. QR scanners on the same converter send what they read as one line,
``Q:<text>`` (printable ASCII, at most `MAX_QR_CHARS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.errors import ContractError

SUPPORTED_BITS = (26, 34)
KEYPAD_BITS = 4
_KEYS = "0123456789*#"
MAX_LINE_BYTES = 64
MAX_QR_CHARS = 1024
MAX_READER_LINE_BYTES = MAX_QR_CHARS + 4  # "Q:" and the line end
_LINE = re.compile(r"^W(\d{1,2}):([0-9A-Fa-f]{1,16})$")


class WiegandError(ContractError):
    reason = "bad_wiegand_frame"


@dataclass(frozen=True)
class WiegandRead:
    bits: int
    data: int

    @property
    def card_number(self) -> str:
        return str(self.data)


@dataclass(frozen=True)
class KeyPress:
    key: str  # one of 0-9, * and #


@dataclass(frozen=True)
class QrScan:
    text: str


def encode_qr(text: str) -> bytes:
    if not text or len(text) > MAX_QR_CHARS or not text.isascii() or not text.isprintable():
        raise WiegandError("a QR scan is 1 to 1024 printable ASCII characters")
    return f"Q:{text}\r\n".encode("ascii")


def encode_key(key: str) -> bytes:
    if len(key) != 1 or key not in _KEYS:
        raise WiegandError(f"no such key {key!r}")
    return f"W4:{_KEYS.index(key):X}\r\n".encode("ascii")


def decode_frame(line: bytes) -> WiegandRead | KeyPress | QrScan:
    """A card read, a key press or a QR scan."""
    if line.startswith(b"Q:"):
        text = line[2:].rstrip(b"\r\n").decode("ascii", errors="replace")
        if not text or len(text) > MAX_QR_CHARS or not (text.isascii() and text.isprintable()):
            raise WiegandError("a QR line holds 1 to 1024 printable ASCII characters")
        return QrScan(text)
    match = _LINE.match(line.decode("ascii", errors="replace").strip())
    if match is not None and int(match.group(1)) == KEYPAD_BITS:
        value = int(match.group(2), 16)
        if value >= len(_KEYS):
            raise WiegandError(f"no key has the code {value}")
        return KeyPress(_KEYS[value])
    return decode(line)


def _parity(value: int) -> int:
    return value.bit_count() & 1


def encode(bits: int, data: int) -> bytes:
    """The converter's line for a card whose data bits are `data`."""
    if bits not in SUPPORTED_BITS:
        raise WiegandError(f"unsupported frame length {bits}")
    data_bits = bits - 2
    if not 0 <= data < (1 << data_bits):
        raise WiegandError(f"card data does not fit in {data_bits} bits")
    half = data_bits // 2
    high, low = data >> half, data & ((1 << half) - 1)
    even = _parity(high)
    odd = 1 - _parity(low)
    frame = (even << (bits - 1)) | (data << 1) | odd
    width = (bits + 3) // 4
    return f"W{bits}:{frame:0{width}X}\r\n".encode("ascii")


def decode(line: bytes) -> WiegandRead:
    """Parse and parity-check one converter line."""
    if len(line) > MAX_LINE_BYTES:
        raise WiegandError("frame line too long")
    match = _LINE.match(line.decode("ascii", errors="replace").strip())
    if match is None:
        raise WiegandError(f"not a Wiegand frame line: {line[:32]!r}")
    bits, frame = int(match.group(1)), int(match.group(2), 16)
    if bits not in SUPPORTED_BITS or frame >> bits:
        raise WiegandError(f"unsupported or oversized {bits}-bit frame")
    data = (frame >> 1) & ((1 << (bits - 2)) - 1)
    half = (bits - 2) // 2
    if _parity(frame >> (bits - 1)) != _parity(data >> half):
        raise WiegandError("even parity check failed")
    if (frame & 1) != 1 - _parity(data & ((1 << half) - 1)):
        raise WiegandError("odd parity check failed")
    return WiegandRead(bits=bits, data=data)
