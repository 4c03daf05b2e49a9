"""Simulated gate hardware as separate processes, for the demo, the tests and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from firmware_mocks.barrier import World
from harness.processes import Child, free_port, port_open, python_module, wait_until


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


@dataclass(frozen=True)
class DisplayPanel:
    """A running `firmware_mocks.display` process: a lane's screen."""

    child: Child
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/display"

    def shown(self) -> list[dict[str, str | None]]:
        """What the panel has shown, oldest first."""
        return list(httpx.get(self.url, timeout=5).json()["shown"])

    def stop(self) -> None:
        self.child.stop()


def start_display(log_dir: Path, *, name: str = "display", port: int | None = None) -> DisplayPanel:
    port = port or free_port()
    child = python_module(name, "firmware_mocks.display", [f"--port={port}"], log_dir).start()
    try:
        wait_until(lambda: port_open("127.0.0.1", port), 20, "the display panel")
    except Exception:
        child.kill()
        raise
    return DisplayPanel(child, port)


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
