"""The Modbus-TCP client and the mock module against the worked examples of the Modbus
Application Protocol specification v1.1b3 (section 6), byte for byte."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from edge.errors import DriverError
from edge.modbus import ModbusClient
from firmware_mocks.barrier import Channel, Controller, modbus_answer


def _adu(transaction: int, pdu: bytes, unit: int = 1) -> bytes:
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


class _Replay:
    """A server that answers each expected request with the specification's response."""

    def __init__(self, exchanges: list[tuple[bytes, bytes]]) -> None:
        self.exchanges = exchanges
        self.received: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            for transaction, (_request, response) in enumerate(self.exchanges, start=1):
                header = conn.recv(7)
                body = conn.recv(struct.unpack(">H", header[4:6])[0] - 1)
                self.received.append(header + body)
                conn.sendall(_adu(transaction, response))


@pytest.fixture
def spec_examples() -> Iterator[_Replay]:
    server = _Replay(
        [
            # Read Coils 20-38: 01 0013 0013 -> 01 03 CD 6B 05
            (bytes.fromhex("0100130013"), bytes.fromhex("0103CD6B05")),
            # Read Discrete Inputs 197-218: 02 00C4 0016 -> 02 03 AC DB 35
            (bytes.fromhex("0200C40016"), bytes.fromhex("0203ACDB35")),
            # Read Input Register 9: 04 0008 0001 -> 04 02 000A
            (bytes.fromhex("0400080001"), bytes.fromhex("0402000A")),
            # Write Single Coil 173 ON: 05 00AC FF00 -> echoed
            (bytes.fromhex("0500ACFF00"), bytes.fromhex("0500ACFF00")),
            # An exception: illegal data address
            (bytes.fromhex("0500ACFF00"), bytes.fromhex("8502")),
        ]
    )
    yield server
    server.sock.close()


def test_the_client_speaks_the_specifications_examples(spec_examples: _Replay) -> None:
    client = ModbusClient("127.0.0.1", spec_examples.port, unit=1, timeout_s=2)
    coils = client.read_coils(0x13, 0x13)
    assert coils[:8] == [True, False, True, True, False, False, True, True]  # 0xCD, LSB first
    assert len(coils) == 19 and coils[16:] == [True, False, True]  # 0x05
    inputs = client.read_discrete_inputs(0xC4, 0x16)
    assert inputs[:8] == [False, False, True, True, False, True, False, True]  # 0xAC
    assert client.read_input_registers(8, 1) == [10]
    client.write_coil(0xAC, True)
    with pytest.raises(DriverError, match="illegal data address"):
        client.write_coil(0xAC, True)
    requests = [adu[7:] for adu in spec_examples.received[:4]]
    assert requests == [request for request, _ in spec_examples.exchanges[:4]]
    client.close()


def test_the_mock_module_answers_as_the_specification_says() -> None:
    controller = Controller([Channel(), Channel()])
    write = modbus_answer(controller, _adu(7, bytes.fromhex("050001FF00")))
    assert write == _adu(7, bytes.fromhex("050001FF00"))
    assert controller.channels[1].relay
    coils = modbus_answer(controller, _adu(8, bytes.fromhex("0100000002")))
    assert coils == _adu(8, bytes.fromhex("010102"))
    bad = modbus_answer(controller, _adu(9, bytes.fromhex("050009FF00")))
    assert bad == _adu(9, bytes.fromhex("8502"))
    unknown = modbus_answer(controller, _adu(10, bytes.fromhex("2B0E0100")))
    assert unknown == _adu(10, bytes.fromhex("AB01"))


def test_an_unreachable_module_is_a_driver_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ModbusClient("127.0.0.1", port, unit=1, timeout_s=0.5)
    with pytest.raises(DriverError):
        client.read_coils(0, 1)


def test_a_response_too_short_to_be_modbus_is_a_driver_error() -> None:
    server = _Replay([(bytes.fromhex("0100000001"), b"")])  # length 1: no function code
    client = ModbusClient("127.0.0.1", server.port, unit=1, timeout_s=2)
    with pytest.raises(DriverError):
        client.read_coils(0, 1)
    server.sock.close()
