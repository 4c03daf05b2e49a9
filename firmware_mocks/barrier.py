"""A barrier controller: a relay board with sensors, as an I/O module on the gate's network.

Per channel (one gate each): a relay that releases the gate; a position sensor (the gate is
open) that follows the relay after the arm's or door's travel time; a passage beam with a
counter; a vehicle loop. One fire-alarm input for the whole controller. It speaks two
protocols, on two ports, onto the same state:

- HTTP, as network relay boards do: ``GET /status`` (relays, inputs, counters as JSON) and
  ``POST /relays/<n>`` with ``{"on": true|false}``.
- Modbus-TCP, as industrial I/O modules do: coils 0.. are the relays (functions 1, 5);
  discrete inputs 0.. the position sensors, 16.. the vehicle loops, 32 the fire alarm
  (function 2); input registers 0.. the passage counters (function 4, 16 bits, wrapping).

Safety lives here, in the controller, not in the edge: the fire alarm releases the egress
channels whatever the edge does or is; a barrier does not close on a vehicle on its loop; and a
communication watchdog puts every relay in its safe state when no request has arrived for
``--watchdog-s`` (fail-safe channels released, fail-secure channels locked), as I/O modules'
"safe value on communication loss" does. A gate propped open, forced, jammed, or walked
through is simulated through ``POST /world`` (not part of the device's protocol; tests and the
demo use it). ``GET /world/log`` lists relay commands with the controller's monotonic clock, for the
decision benchmark.
"""

from __future__ import annotations

import argparse
import json
import signal
import socketserver
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import httpx

from firmware_mocks.web import JsonHandler, threaded_server

LOOP_INPUTS = 16
FIRE_INPUT = 32
MAX_CHANNELS = 16


@dataclass
class Channel:
    egress: bool = False
    fail_safe: bool = False
    barrier: bool = False
    relay: bool = False
    position: float = 0.0  # 0 closed, 1 open
    loop: bool = False
    propped: bool = False
    forced: bool = False
    jammed: bool = False
    passages: int = 0


@dataclass
class Controller:
    channels: list[Channel]
    travel_s: float = 0.3
    watchdog_s: float = 3.0
    fire: bool = False
    faulty_reads: bool = False  # a module whose inputs fail while its relays still answer
    tripped: bool = False
    last_request: float = field(default_factory=time.monotonic)
    log: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def touch(self) -> None:
        with self.lock:
            self.last_request = time.monotonic()
            self.tripped = False

    def watchdog_expired(self, now: float) -> bool:
        return now - self.last_request > self.watchdog_s

    def driven_open(self, channel: Channel) -> bool:
        return channel.relay or (self.fire and channel.egress)

    def set_relay(self, index: int, on: bool) -> None:
        with self.lock:
            self.channels[index].relay = on
            self.log.append({"channel": index, "on": on, "t": time.monotonic()})
            del self.log[:-10_000]

    def step(self, dt: float) -> None:
        """Move every gate towards where it is driven; a barrier waits for its loop to clear."""
        now = time.monotonic()
        with self.lock:
            if not self.tripped and self.watchdog_expired(now):
                self._safe_state(now)
            for channel in self.channels:
                if channel.jammed:
                    continue
                opening = self.driven_open(channel) or channel.propped or channel.forced
                if not opening and channel.barrier and channel.loop and channel.position > 0:
                    opening = True
                rate = dt / self.travel_s if self.travel_s > 0 else 1.0
                target = 1.0 if opening else 0.0
                delta = max(-rate, min(rate, target - channel.position))
                channel.position = min(1.0, max(0.0, channel.position + delta))

    def _safe_state(self, now: float) -> None:
        """Control lost: fail-safe relays release, fail-secure relays lock, until written."""
        self.tripped = True
        for index, channel in enumerate(self.channels):
            channel.relay = channel.fail_safe
            self.log.append({"channel": index, "on": channel.relay, "t": now, "watchdog": True})

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        with self.lock:
            return {
                "relays": [c.relay for c in self.channels],
                "open": [c.position > 0.0 for c in self.channels],  # the door contact
                "fully_open": [c.position >= 1.0 for c in self.channels],
                "loop": [c.loop for c in self.channels],
                "counters": [c.passages % 65536 for c in self.channels],
                "fire": self.fire,
                "watchdog_expired": self.watchdog_expired(now),
                "driven_open": [self.driven_open(c) for c in self.channels],
            }

    def world(self, change: dict[str, Any]) -> None:
        """A person, a vehicle or the building acting on the gate."""
        with self.lock:
            if "fire" in change:
                self.fire = bool(change["fire"])
            if "faulty_reads" in change:
                self.faulty_reads = bool(change["faulty_reads"])
            channel = self.channels[int(change.get("channel", 0))]
            for key in ("loop", "propped", "forced", "jammed"):
                if key in change:
                    setattr(channel, key, bool(change[key]))
            channel.passages += int(change.get("passages", 0))

    def discrete_inputs(self) -> list[bool]:
        status = self.status()
        bits = [False] * (FIRE_INPUT + 1)
        for i in range(len(self.channels)):
            bits[i] = status["open"][i]
            bits[LOOP_INPUTS + i] = status["loop"][i]
        bits[FIRE_INPUT] = status["fire"]
        return bits


# ---------------------------------------------------------------------------------- HTTP


def http_server(controller: Controller, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server names it)
            if self.path == "/status":
                controller.touch()
                if controller.faulty_reads:
                    self.reply(500, {"error": "input board fault"})
                    return
                self.reply(200, controller.status())
            elif self.path == "/world/log":
                with controller.lock:
                    self.reply(200, list(controller.log))
            else:
                self.reply(404, {"error": "no such resource"})

        def do_POST(self) -> None:  # noqa: N802 (http.server names it)
            try:
                length = min(int(self.headers.get("Content-Length", "0")), 4096)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/world":
                    controller.world(body)
                    self.reply(200, controller.status())
                    return
                prefix = "/relays/"
                if not self.path.startswith(prefix) or not isinstance(body.get("on"), bool):
                    self.reply(400, {"error": 'POST /relays/<n> with {"on": true|false}'})
                    return
                controller.touch()
                controller.set_relay(int(self.path[len(prefix) :]), body["on"])
                self.reply(200, controller.status())
            except (ValueError, IndexError, AttributeError) as exc:
                self.reply(400, {"error": str(exc)})

    return threaded_server(host, port, Handler)


# ---------------------------------------------------------------------------------- Modbus


def modbus_answer(controller: Controller, request: bytes) -> bytes:
    """The response ADU to one request ADU (MBAP header, then the PDU)."""
    transaction, _protocol, _length, unit = struct.unpack(">HHHB", request[:7])
    pdu = request[7:]
    function = pdu[0]
    try:
        body = _modbus_pdu(controller, function, pdu[1:])
    except _ModbusException as exc:
        body = bytes([function | 0x80, exc.code])
    return struct.pack(">HHHB", transaction, 0, len(body) + 1, unit) + body


class _ModbusException(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _modbus_pdu(controller: Controller, function: int, data: bytes) -> bytes:
    controller.touch()
    n = len(controller.channels)
    if function == 5:  # write single coil
        address, value = struct.unpack(">HH", data[:4])
        if address >= n:
            raise _ModbusException(2)
        if value not in (0xFF00, 0x0000):
            raise _ModbusException(3)
        controller.set_relay(address, value == 0xFF00)
        return bytes([5]) + data[:4]
    if function in (1, 2, 4) and controller.faulty_reads:
        raise _ModbusException(4)  # server device failure
    if function in (1, 2):  # read coils, read discrete inputs
        address, count = struct.unpack(">HH", data[:4])
        bits = controller.status()["relays"] if function == 1 else controller.discrete_inputs()
        if count < 1 or address + count > len(bits):
            raise _ModbusException(2)
        return bytes([function]) + _pack_bits(bits[address : address + count])
    if function == 4:  # read input registers
        address, count = struct.unpack(">HH", data[:4])
        counters = controller.status()["counters"]
        if count < 1 or address + count > n:
            raise _ModbusException(2)
        values = counters[address : address + count]
        return bytes([4, 2 * count]) + struct.pack(f">{count}H", *values)
    raise _ModbusException(1)


def _pack_bits(bits: list[bool]) -> bytes:
    packed = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            packed[i // 8] |= 1 << (i % 8)
    return bytes([len(packed)]) + bytes(packed)


def modbus_server(controller: Controller, host: str, port: int) -> socketserver.TCPServer:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while header := _read_exactly(self.request, 7):
                length = struct.unpack(">H", header[4:6])[0]
                if not 2 <= length <= 254:
                    return  # not Modbus: drop the connection, as modules do
                rest = _read_exactly(self.request, length - 1)
                if rest is None:
                    return
                self.request.sendall(modbus_answer(controller, header + rest))

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def _read_exactly(sock: Any, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


# ---------------------------------------------------------------------------------- main


def _channels(args: argparse.Namespace) -> list[Channel]:
    def indices(text: str) -> set[int]:
        return {int(part) for part in text.split(",") if part.strip()}

    egress, safe, barrier = indices(args.egress), indices(args.fail_safe), indices(args.barrier)
    return [
        Channel(egress=i in egress, fail_safe=i in safe, barrier=i in barrier)
        for i in range(args.channels)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware_mocks.barrier", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--http-port", type=int, default=0)
    parser.add_argument("--modbus-port", type=int, default=0)
    parser.add_argument("--channels", type=int, default=2, choices=range(1, MAX_CHANNELS + 1))
    parser.add_argument("--egress", default="", help="channels the fire alarm releases: 0,1")
    parser.add_argument("--fail-safe", default="", help="channels released on loss of control")
    parser.add_argument("--barrier", default="", help="channels that are vehicle barriers")
    parser.add_argument("--travel-s", type=float, default=0.3, help="time to open or close")
    parser.add_argument("--watchdog-s", type=float, default=3.0)
    args = parser.parse_args(argv)
    controller = Controller(_channels(args), travel_s=args.travel_s, watchdog_s=args.watchdog_s)
    servers = [
        http_server(controller, args.host, args.http_port),
        modbus_server(controller, args.host, args.modbus_port),
    ]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports = {"http": servers[0].server_address[1], "modbus": servers[1].server_address[1]}
    print(json.dumps(ports), flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    tick = 0.01
    while not stopping.wait(tick):
        controller.step(tick)
    for server in servers:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())


class World:
    """The physical world around a running controller: people, vehicles, the fire panel."""

    def __init__(self, http_port: int, host: str = "127.0.0.1") -> None:
        self._base = f"http://{host}:{http_port}"

    def act(self, channel: int = 0, **change: bool | int) -> dict[str, Any]:
        return self._call("POST", "/world", {"channel": channel, **change})

    def status(self) -> dict[str, Any]:
        """Also feeds the watchdog, as any request does: use `peek` to only look."""
        return self._call("GET", "/status")

    def peek(self) -> dict[str, Any]:
        return self._call("POST", "/world", {})

    def relay_log(self) -> list[dict[str, Any]]:
        return self._call("GET", "/world/log")  # type: ignore[return-value]

    def _call(self, method: str, path: str, body: object = None) -> Any:
        response = httpx.request(method, self._base + path, json=body, timeout=5)
        response.raise_for_status()
        return response.json()
