"""Gate drivers: one interface over the relay boards and I/O modules that open gates.

A driver sets its gate's relay and reads its inputs: the position sensor (is the gate open?),
the passage counter of its beam, the vehicle loop, and the controller's fire-alarm input. Any
failure is a `DriverError`; the driver reconnects by itself on the next call. Polling the
inputs also feeds the controller's communication watchdog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ValidationError

from edge.config import DriverSection, HttpRelaySection, ModbusSection
from edge.errors import DriverError
from edge.modbus import ModbusClient

LOOP_INPUTS = 16
FIRE_INPUT = 32


@dataclass(frozen=True)
class GateInputs:
    relay: bool
    open: bool
    loop: bool
    fire: bool
    passages: int  # a counter that wraps at 65536


class GateDriver(Protocol):
    def set_relay(self, on: bool) -> None: ...

    def read(self) -> GateInputs: ...

    def close(self) -> None: ...


class _BoardStatus(BaseModel):
    relays: list[bool]
    open: list[bool]
    loop: list[bool]
    counters: list[int]
    fire: bool


class HttpRelayDriver:
    """A network relay board: ``GET /status``, ``POST /relays/<n>`` with ``{"on": ...}``."""

    def __init__(self, section: HttpRelaySection) -> None:
        self._channel = section.channel
        self._client = httpx.Client(base_url=section.url, timeout=section.timeout_s)

    def set_relay(self, on: bool) -> None:
        self._status(self._request("POST", f"/relays/{self._channel}", {"on": on}))

    def read(self) -> GateInputs:
        return self._status(self._request("GET", "/status"))

    def close(self) -> None:
        self._client.close()

    def _request(self, method: str, path: str, body: object = None) -> bytes:
        try:
            response = self._client.request(method, path, json=body)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise DriverError(f"relay board {self._client.base_url}: {exc}") from exc
        return response.content

    def _status(self, content: bytes) -> GateInputs:
        try:
            status = _BoardStatus.model_validate_json(content)
            n = self._channel
            return GateInputs(
                relay=status.relays[n],
                open=status.open[n],
                loop=status.loop[n],
                fire=status.fire,
                passages=status.counters[n],
            )
        except (ValidationError, IndexError) as exc:
            raise DriverError(f"relay board answered nonsense: {exc}") from exc


class ModbusDriver:
    """An I/O module: coil n is the relay; discrete input n the position sensor, 16+n the
    vehicle loop, 32 the fire alarm; input register n the passage counter."""

    def __init__(self, section: ModbusSection) -> None:
        self._channel = section.channel
        self._client = ModbusClient(section.host, section.port, section.unit, section.timeout_s)

    def set_relay(self, on: bool) -> None:
        self._client.write_coil(self._channel, on)

    def read(self) -> GateInputs:
        n = self._channel
        inputs = self._client.read_discrete_inputs(0, FIRE_INPUT + 1)
        return GateInputs(
            relay=self._client.read_coils(n, 1)[0],
            open=inputs[n],
            loop=inputs[LOOP_INPUTS + n],
            fire=inputs[FIRE_INPUT],
            passages=self._client.read_input_registers(n, 1)[0],
        )

    def close(self) -> None:
        self._client.close()


# The drivers by the `type` of their configuration section.
DRIVERS: dict[str, Callable[[Any], GateDriver]] = {
    "http_relay": HttpRelayDriver,
    "modbus_tcp": ModbusDriver,
}


def make_driver(section: DriverSection) -> GateDriver:
    return DRIVERS[section.type](section)
