"""`make demo`: a whole compound on this machine, from card reader to relay to hub and back.

A broker (MQTT_URL if set, else a private Mosquitto if installed, else an embedded broker), the
hub on SQLite, one edge with an entry and an exit reader at the east door, a barrier
controller (the east door over Modbus-TCP, the car barrier over HTTP), and a Wiegand converter
mock that plays a morning: residents' cards, an unknown card, a visitor's QR pass issued by the
hub, the guard opening the car barrier from the booth, and the car barrier's ANPR camera
pushing a resident's car and an unknown van. It prints what was read, what the
relays did, what the hub stored and who is inside, then keeps the hub running at the printed
URL until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firmware_mocks.anpr_camera import AnprCamera
from firmware_mocks.card_reader import CardReader, Swipe
from harness.broker import Mosquitto, mosquitto_available, start_embedded
from harness.compound import Compound
from harness.processes import Child, wait_until

# (reader direction, card number): a morning at the east gate.
SCENARIO: tuple[tuple[str, int], ...] = (
    ("in", 1001),  # 王芳 comes home
    ("in", 1002),  # 李伟 comes home
    ("in", 4242),  # a card nobody registered: denied
    ("in", 1003),  # 张敏
    ("out", 1001),  # 王芳 goes out again
    ("in", 3001),  # the courier, with a visitor card
    ("in", 2001),  # the guard starts a shift
)


def start_broker(choice: str, workdir: Path) -> tuple[Child | None, str]:
    url = os.environ.get("MQTT_URL")
    if choice == "auto" and url:
        return None, url
    if choice == "mosquitto" or (choice == "auto" and mosquitto_available()):
        broker = Mosquitto(workdir / "broker").start()
        return broker.child, broker.url
    return start_embedded(workdir)


def play(compound: Compound) -> list[tuple[str, str, str]]:
    """The morning's reads: (direction, what was shown, the reader's answer)."""
    readers = {d: CardReader("127.0.0.1", port) for d, port in compound.reader_ports.items()}
    answers = [(d, f"card {card}", readers[d].present(Swipe(card)).result) for d, card in SCENARIO]
    token = visitor_pass(compound)
    answers.append(("in", "QR visitor pass", readers["in"].show_qr(token)))
    answers.append(("in", "QR pass again", readers["in"].show_qr(token)))  # one entry only
    for reader in readers.values():
        reader.close()
    body = {"action": "open", "reason": "furniture delivery for b1-101, resident confirmed"}
    compound.request("POST", "/api/gates/car-gate/commands", json=body)
    answers.append(("in", "guard opens car gate", "sent"))
    device, password = compound.anpr_camera
    camera = AnprCamera(compound.anpr_url, device, password)
    for plate in ("京A·12345", "苏E·11111"):  # 王芳's car, then a van nobody registered
        results = [camera.push(plate).body.get("result", "error") for _ in range(3)]
        answers.append(("in", f"ANPR {plate} ×3", "/".join(results)))
    return answers


def visitor_pass(compound: Compound) -> str:
    """A pass for one entry today, as a resident would issue it; its QR code's content."""
    now = datetime.now(UTC)
    body = {
        "id": "pass-demo",
        "unit_id": "b1-101",
        "visitor_name": "王芳's mother",
        "valid_from": now.isoformat(),
        "valid_until": (now + timedelta(hours=8)).isoformat(),
        "max_entries": 1,
    }
    token = str(compound.request("POST", "/api/passes", json=body).json()["token"])
    wait_until(lambda: "pass-demo" in compound.edge_registry(), 30, "the pass at the edge")
    return token


def report(compound: Compound, answers: list[tuple[str, str, str]]) -> int:
    print("\nRead at the east door (and one command from the guard booth):")
    for direction, shown, answer in answers:
        print(f"  {direction:<3} {shown:<22} → {answer}")
    expected = len(answers)  # each ANPR vehicle is one decision, however many pushes
    wait_until(lambda: len(compound.all_entries()) >= expected, 60, "the hub to store all")
    if compound.barrier is not None:
        log = compound.barrier.world.relay_log()
        # The controller's own watchdog acts before the edge first polls it on a slow start:
        # the safe state it sets is no command from Anju.
        opened = [c for c in log if c["on"] and not c.get("watchdog")]
        doors = sum(c["channel"] == 0 for c in opened)
        cars = sum(c["channel"] == 1 for c in opened)
        print(f"\nRelay commands at the barrier controller: east door {doors}, car barrier {cars}")
        if any(c.get("watchdog") for c in log):
            print("(its watchdog also set the safe state, before the edge first reached it)")
    entries = sorted(compound.all_entries(), key=lambda e: (str(e["occurred_at"]), 0))
    print(f"\nStored by the hub ({len(entries)} entry events):")
    for e in entries:
        who = f"{e['subject_kind']} {e['subject_id'] or ''}".strip()
        shown = str(e["credential_ref"] or "-")[:10]
        print(
            f"  #{e['seq']:<3} {e['direction']:<3} {e['method']:<6} {shown:<10}"
            f" {e['outcome']:<7} {who:<22} {e['reason']}"
        )
    if compound.display is not None:
        print("\nShown on the car-in lane's screen:")
        for shown in compound.display.shown():
            print(f"  {shown['plate'] or '':<9} {shown['zh']}  {shown['en']}")
    occupancy = compound.get("/api/occupancy").json()
    inside = ", ".join(f"{kind} {n}" for kind, n in occupancy["inside"].items())
    vehicles = sum(occupancy["vehicles"].values())
    print(f"\nInside now: {inside} (total {occupancy['total']}); vehicles {vehicles}")
    return len(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.demo", description=__doc__)
    parser.add_argument("--broker", choices=("auto", "mosquitto", "embedded"), default="auto")
    parser.add_argument("--no-wait", action="store_true", help="exit after the report")
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temp dir)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="anju-demo-"))
    broker, url = start_broker(args.broker, workdir)
    print(f"broker: {url} ({'external' if broker is None else broker.name}); logs in {workdir}")
    compound = Compound(workdir, url, with_gates=True)
    try:
        compound.prepare()
        compound.start_barrier()
        compound.start_display()
        compound.start_hub()
        compound.start_edge()
        compound.add_gates_to_hub()
        report(compound, play(compound))
        if not args.no_wait:
            print(
                f"\nOpen {compound.hub_url}/ui/ in a browser (the staff's web UI, 中文 or"
                f" English) and log in as admin, password {compound.admin_password};"
                f"\nthe API is described at {compound.hub_url}/docs.\nPress Ctrl-C to stop."
            )
            _wait_for_interrupt()
    finally:
        # Ctrl-C also ends a pipe we may write to (`make demo | tee log`): saying so must not
        # cost the clean-up.
        with contextlib.suppress(OSError):
            print("stopping…", flush=True)
        compound.stop()
        if broker is not None:
            broker.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _wait_for_interrupt() -> None:
    # Handlers of our own: a shell may start us with SIGINT ignored (a background job).
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


if __name__ == "__main__":
    sys.exit(main())
