"""A small Modbus-TCP client: the four functions a gate needs, one request at a time.

Read coils (1), read discrete inputs (2), read input registers (4), write single coil (5), as
the Modbus Application Protocol v1.1b3 defines them, over one TCP connection that is reopened
after any error. Thread-safe: requests are serialised.
"""

from __future__ import annotations

import socket
import struct
import threading

from edge.errors import DriverError

_EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    6: "server device busy",
}


MAX_LENGTH = 254  # the MBAP length field: unit id and PDU, at most 253 bytes of PDU


class ModbusClient:
    def __init__(self, host: str, port: int, unit: int, timeout_s: float) -> None:
        self._address = (host, port)
        self._unit = unit
        self._timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._transaction = 0
        self._lock = threading.Lock()

    def read_coils(self, address: int, count: int) -> list[bool]:
        return _bits(self._call(1, struct.pack(">HH", address, count)), count)

    def read_discrete_inputs(self, address: int, count: int) -> list[bool]:
        return _bits(self._call(2, struct.pack(">HH", address, count)), count)

    def read_input_registers(self, address: int, count: int) -> list[int]:
        data = self._call(4, struct.pack(">HH", address, count))
        if len(data) != 1 + 2 * count or data[0] != 2 * count:
            raise DriverError("modbus: malformed register response")
        return list(struct.unpack(f">{count}H", data[1:]))

    def write_coil(self, address: int, on: bool) -> None:
        request = struct.pack(">HH", address, 0xFF00 if on else 0x0000)
        if self._call(5, request) != request:
            raise DriverError("modbus: the coil write was not echoed")

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _call(self, function: int, data: bytes) -> bytes:
        with self._lock:
            try:
                return self._exchange(function, data)
            except (OSError, struct.error) as exc:
                self._drop()
                raise DriverError(f"modbus {self._address[0]}:{self._address[1]}: {exc}") from exc

    def _exchange(self, function: int, data: bytes) -> bytes:
        sock = self._connect()
        self._transaction = (self._transaction + 1) % 65536
        pdu = bytes([function]) + data
        sock.sendall(struct.pack(">HHHB", self._transaction, 0, len(pdu) + 1, self._unit) + pdu)
        transaction, protocol, length, unit = struct.unpack(">HHHB", _recv(sock, 7))
        if not 2 <= length <= MAX_LENGTH:
            raise OSError(f"response length {length} is not Modbus")
        body = _recv(sock, length - 1)
        if transaction != self._transaction or protocol != 0 or unit != self._unit:
            raise OSError("response does not match the request")
        if body[0] == function | 0x80:
            code = body[1] if len(body) > 1 else 0
            self._drop()  # keep the connection's state simple after an exception
            raise DriverError(f"modbus exception {code}: {_EXCEPTIONS.get(code, 'unknown')}")
        if body[0] != function:
            raise OSError(f"response to function {body[0]}, not {function}")
        return body[1:]

    def _connect(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection(self._address, timeout=self._timeout_s)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._sock

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None


def _recv(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("the module closed the connection")
        data += chunk
    return data


def _bits(data: bytes, count: int) -> list[bool]:
    if not data or data[0] != len(data) - 1 or 8 * data[0] < count:
        raise DriverError("modbus: malformed bit response")
    return [bool(data[1 + i // 8] >> (i % 8) & 1) for i in range(count)]
