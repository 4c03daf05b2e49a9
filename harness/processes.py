"""Starting and stopping Anju's processes (and a broker) for the demo, tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class ProcessError(Exception):
    """A child process did not start or answer in time."""


LISTEN_PORTS_FROM = 20_000  # ports for our listeners: below the system's ephemeral range


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different ports free now for a process of ours to listen on, each held until
    all are chosen. They are taken below the system's ephemeral range: a port the system
    gave out (bind to 0) may be handed next to an outgoing connection, the hub's to the
    broker say, before our listener binds it."""
    low, _ = _ephemeral_range()
    candidates = list(range(LISTEN_PORTS_FROM, low))
    random.shuffle(candidates)
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        for port in candidates:
            sock = held.enter_context(socket.socket())
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            ports.append(port)
            if len(ports) == count:
                return ports
    raise ProcessError(f"no {count} free ports between {LISTEN_PORTS_FROM} and {low}")


def _ephemeral_range() -> tuple[int, int]:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        low, high = (int(part) for part in text.split())
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default
    return max(low, LISTEN_PORTS_FROM + 1_000), high


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise ProcessError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Child:
    """A child process whose output goes to a log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _terminating: bool = field(default=False, repr=False)

    def start(self) -> Child:
        self._terminating = False
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (argv is built by Anju itself)
            self.argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a power cut."""
        if self.process is not None and self.running:
            self.process.kill()
            self.process.wait()

    def wait(self, timeout_s: float) -> int:
        """Wait for the process to end by itself; its exit code."""
        if self.process is None:
            raise ProcessError(f"{self.name} was never started")
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired as exc:
            self.kill()
            raise ProcessError(f"{self.name} did not finish in {timeout_s:.0f} s") from exc

    def terminate(self) -> None:
        """SIGTERM, without waiting: several children then stop at once (`stop` waits)."""
        if self.process is not None and self.running and not self._terminating:
            self.process.send_signal(signal.SIGTERM)
            self._terminating = True

    def stop(self, timeout_s: float = 10.0) -> int | None:
        if self.process is None:
            return None
        if self.running:
            self.terminate()  # once: a second SIGTERM makes uvicorn skip its clean shutdown
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def python_module(name: str, module: str, args: list[str], log_dir: Path, **env: str) -> Child:
    return Child(name, [sys.executable, "-m", module, *args], log_dir / f"{name}.log", env)
