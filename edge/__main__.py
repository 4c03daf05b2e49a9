"""`python -m edge run --config FILE` runs the daemon; `python -m edge keygen --out FILE` makes
the edge's signing key and prints its public half for the hub."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from anju import logs
from anju.model_file import ModelError
from anju.mqtt import MqttError
from edge.config import load_settings
from edge.daemon import EdgeDaemon
from edge.errors import EdgeError
from models.errors import ContractError
from models.signing import generate_key, private_key_pem, public_key_pem

logger = logging.getLogger("edge")


def _run(config: Path) -> int:
    daemon = EdgeDaemon.from_settings(load_settings(config))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        daemon.start()
    except BaseException:
        logger.info("could not start: stopping what had started (gates back to normal)")
        daemon.stop()
        raise
    print("edge ready", flush=True)
    while not stop.wait(0.5) and daemon.refused is None:
        pass
    logger.info("stopping")
    daemon.stop()
    if daemon.refused is not None:
        print(f"edge: the broker refused this edge: {daemon.refused}", file=sys.stderr)
        return 3
    return 0


def _keygen(out: Path) -> int:
    key = generate_key()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(key))
    print(public_key_pem(key), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the edge daemon")
    run.add_argument("--config", type=Path, required=True)
    keygen = commands.add_parser("keygen", help="create a signing key; prints the public key")
    keygen.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logs.configure()
    try:
        return _run(args.config) if args.command == "run" else _keygen(args.out)
    except (EdgeError, ContractError, ModelError, MqttError, OSError) as exc:
        print(f"edge: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
