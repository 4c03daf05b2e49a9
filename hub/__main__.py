"""`python -m hub serve` runs the hub; `python -m hub add-edge …` registers an edge's key.

Settings come from `ANJU_HUB_*` environment variables (see hub/core/config.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn
from sqlmodel import Session

from anju import logs
from hub import crud
from hub.core.config import HubSettings
from hub.core.db import init_db, make_engine
from hub.main import create_app
from models.errors import ContractError
from models.signing import load_public_key


def _serve(settings: HubSettings) -> int:
    app = create_app(settings)
    print(f"hub ready at http://{settings.host}:{settings.port}", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def _add_edge(settings: HubSettings, edge_id: str, compound_id: str, key_file: Path) -> int:
    pem = key_file.read_text(encoding="ascii")
    load_public_key(pem)
    engine = make_engine(settings.database_url)
    init_db(engine)
    with Session(engine) as session:
        crud.register_edge(
            session=session, edge_id=edge_id, compound_id=compound_id, public_key=pem
        )
        session.commit()
    engine.dispose()
    print(f"edge {edge_id} registered for compound {compound_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the hub (HTTP API and MQTT ingest)")
    add = commands.add_parser("add-edge", help="register an edge and its public signing key")
    add.add_argument("--edge-id", required=True)
    add.add_argument("--compound-id", required=True)
    add.add_argument("--public-key", type=Path, required=True, help="PEM file")
    args = parser.parse_args(argv)
    logs.configure()
    settings = HubSettings()
    try:
        if args.command == "serve":
            return _serve(settings)
        return _add_edge(settings, args.edge_id, args.compound_id, args.public_key)
    except (ContractError, OSError) as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
