"""A lane's screen: the controller of an LED or LCD panel at a gate, on the gate's network.

It takes what to show as ``POST /display`` with a JSON body (``kind``, ``zh``, ``en`` and,
for a vehicle lane, ``plate``), shows it until the next one, and answers ``GET /display``
with what it shows and what it has shown (newest last). A message that is not such JSON is
refused with 400 and changes nothing. ``--delay-s`` makes it slow to answer, as a panel that
is busy redrawing. Run as a program it prints each message as the panel would show it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

from firmware_mocks.web import JsonHandler, threaded_server

FIELDS = {"kind", "zh", "en", "plate"}
MAX_TEXT = 64  # characters a line of the panel holds


@dataclass
class Panel:
    delay_s: float = 0.0
    echo: bool = False
    shown: list[dict[str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def show(self, message: object) -> str | None:
        """None when shown, else what is wrong with `message`."""
        if not isinstance(message, dict) or set(message) - FIELDS:
            return f"a JSON object with at most {sorted(FIELDS)}"
        if not isinstance(message.get("kind"), str):
            return "kind: what is shown (granted, denied, a prompt…)"
        texts = [message.get("zh"), message.get("en")]
        if not all(isinstance(t, str) and 0 < len(t) <= MAX_TEXT for t in texts):
            return f"zh and en: texts of 1 to {MAX_TEXT} characters"
        plate = message.get("plate")
        if plate is not None and not (isinstance(plate, str) and len(plate) <= 10):
            return "plate: a plate number"
        time.sleep(self.delay_s)
        with self.lock:
            self.shown.append({k: message.get(k) for k in sorted(FIELDS)})
        if self.echo:
            print(" ".join(str(t) for t in (plate, *texts) if t), flush=True)
        return None

    def state(self) -> dict[str, object]:
        with self.lock:
            return {"current": self.shown[-1] if self.shown else None, "shown": list(self.shown)}


def http_server(panel: Panel, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(JsonHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server names it)
            if self.path != "/display":
                self.reply(404, {"error": "no such resource"})
                return
            self.reply(200, panel.state())

        def do_POST(self) -> None:  # noqa: N802 (http.server names it)
            if self.path != "/display":
                self.reply(404, {"error": "no such resource"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
                if not 0 < length <= 4096:
                    raise ValueError(f"a body of {length} bytes")
                problem = panel.show(json.loads(self.rfile.read(length)))
            except ValueError as exc:
                problem = f"not JSON: {exc}"
            if problem is None:
                self.reply(200, {"shown": True})
            else:
                self.reply(400, {"error": problem})

    return threaded_server(host, port, Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware_mocks.display", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-s", type=float, default=0.0, help="time to answer a message")
    args = parser.parse_args(argv)
    server = http_server(Panel(args.delay_s, echo=True), args.host, args.port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"http": server.server_address[1]}), flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    stopping.wait()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
