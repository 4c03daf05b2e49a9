"""Simulated gate hardware as separate processes, for the demo, the tests and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from anju.processes import Child, free_port, port_open, python_module, wait_until
from firmware_mocks.barrier import World


@dataclass
class BarrierController:
    """A running `firmware_mocks.barrier` process and the world around it."""

    child: Child
    http_port: int
    modbus_port: int

    @property
    def world(self) -> World:
        return World(self.http_port)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def stop(self) -> None:
        self.child.stop()


def start_barrier(
    log_dir: Path,
    *,
    name: str = "barrier",
    channels: int = 2,
    egress: str = "",
    fail_safe: str = "",
    barrier: str = "",
    travel_s: float = 0.2,
    watchdog_s: float = 3.0,
    http_port: int | None = None,
    modbus_port: int | None = None,
) -> BarrierController:
    http_port, modbus_port = http_port or free_port(), modbus_port or free_port()
    args = [
        f"--http-port={http_port}",
        f"--modbus-port={modbus_port}",
        f"--channels={channels}",
        f"--egress={egress}",
        f"--fail-safe={fail_safe}",
        f"--barrier={barrier}",
        f"--travel-s={travel_s}",
        f"--watchdog-s={watchdog_s}",
    ]
    child = python_module(name, "firmware_mocks.barrier", args, log_dir).start()
    controller = BarrierController(child, http_port, modbus_port)
    try:
        wait_until(
            lambda: port_open("127.0.0.1", http_port) and port_open("127.0.0.1", modbus_port),
            20,
            "the barrier controller",
        )
    except Exception:
        child.kill()
        raise
    return controller
