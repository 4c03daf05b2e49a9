"""An MQTT broker for the demo and the tests: Mosquitto when installed, else an embedded one.

`python -m harness.broker --port N` runs the embedded pure-Python broker (amqtt) in the foreground.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.processes import (
    Child,
    ProcessError,
    free_port,
    port_open,
    python_module,
    wait_until,
)


def mosquitto_available() -> bool:
    return shutil.which("mosquitto") is not None


@dataclass
class Mosquitto:
    """A private Mosquitto on a loopback port, which a test may stop, kill and start again."""

    workdir: Path
    port: int = field(default_factory=free_port)
    max_queued_messages: int = 1000
    allow_anonymous: bool = True
    password_file: Path | None = None
    _child: Child | None = field(default=None, repr=False)

    @property
    def child(self) -> Child:
        if self._child is None:
            raise ProcessError("mosquitto was never started")
        return self._child

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def start(self) -> Mosquitto:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\n"
            f"allow_anonymous {str(self.allow_anonymous).lower()}\n"
            # A test's password file sits in a private temp dir: stay root to read it.
            + (f"password_file {self.password_file}\nuser root\n" if self.password_file else "")
            + f"max_queued_messages {self.max_queued_messages}\nsys_interval 1\n"
            "log_dest stdout\nlog_type error\nlog_type warning\nlog_type notice\n",
            encoding="utf-8",
        )
        binary = shutil.which("mosquitto") or "mosquitto"
        self._child = Child("mosquitto", [binary, "-c", str(config)], self.log_path).start()
        wait_until(lambda: port_open("127.0.0.1", self.port), 10, "mosquitto to listen")
        return self

    def stop(self) -> None:
        self.child.stop()

    def kill(self) -> None:
        self.child.kill()


def start_embedded(workdir: Path, port: int | None = None) -> tuple[Child, str]:
    port = port or free_port()
    child = python_module("embedded-broker", "harness.broker", ["--port", str(port)], workdir)
    child.start()
    wait_until(lambda: port_open("127.0.0.1", port), 20, "the embedded broker to listen")
    return child, f"mqtt://127.0.0.1:{port}"


async def _serve_embedded(port: int) -> None:
    from amqtt.broker import Broker  # noqa: PLC0415 (only this process needs amqtt)

    broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}}})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await broker.start()
    print(f"embedded broker on 127.0.0.1:{port}", flush=True)
    await stop.wait()
    await broker.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.broker", description=__doc__)
    parser.add_argument("--port", type=int, default=1883)
    args = parser.parse_args(argv)
    asyncio.run(_serve_embedded(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
