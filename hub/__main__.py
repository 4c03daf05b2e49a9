"""The hub's command line: `python -m hub COMMAND`. Settings come from `ANJU_HUB_*`
environment variables (see hub/core/config.py)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import uvicorn
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from anju import logs
from anju.faces.engines import EngineSettings
from anju.tls import TlsError, server_context
from hub import audit, audited, auth, backup, crud, faces, importer, registry
from hub.analytics import job
from hub.core.config import HubSettings
from hub.core.db import migrate
from hub.core.security import SecretBox
from hub.errors import HubError, NotFound
from hub.main import create_app
from hub.provision import ReaderSpec, provision_edge
from hub.records import owned
from hub.secrets import rotate_secrets
from hub.tables import Person, utcnow
from models.errors import ContractError
from models.signing import load_public_key

Command = Callable[[argparse.Namespace, HubSettings], int]


@contextmanager
def _session(settings: HubSettings) -> Iterator[Session]:
    """A session on the migrated database; its engine is disposed after it, so commands
    run one after another in a process (harness.hub_batch) leave no connections behind."""
    engine = audit.sealed_engine(settings)
    try:
        migrate(engine)
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _note(compound_id: str | None, action: str, target: str) -> audited.Note:
    """Commands change the registry too: they are audited as the operating-system user, each
    change with its record (`hub.audited.commit`)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid-{os.getuid()}"
    return audited.Note(audit.Actor(f"cli:{user}", "admin", compound_id), action, target)


def _audit(session: Session, compound_id: str | None, action: str, target: str) -> None:
    """A read, or what a step that commits its own work (an import, an edge's enrolment) did,
    audited after it."""
    note = _note(compound_id, action, target)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    audit.record(engine, actor=note.actor, action=action, target=target, reason=note.reason)


def serve(args: argparse.Namespace, settings: HubSettings) -> int:
    certfile = keyfile = None
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if cert is not None and key is not None:
        server_context(cert, key)  # a clear error now rather than uvicorn's traceback
        certfile, keyfile = str(cert), str(key)
    app = create_app(settings)
    scheme = "https" if certfile else "http"
    print(f"hub ready at {scheme}://{settings.host}:{settings.port}", flush=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    return 0


def _aware_time(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} names no time zone (e.g. +08:00)")
    return at


def create_compound(args: argparse.Namespace, settings: HubSettings) -> int:
    with _session(settings) as session:
        registry.create_compound(
            session=session,
            compound_id=args.id,
            name=args.name,
            box=settings.secret_box(),
            in_service_since=args.in_service_since,
        )
        audited.commit(session, _note(args.id, "create", f"compound:{args.id}"))
    print(f"compound {args.id} created")
    return 0


def create_user(args: argparse.Namespace, settings: HubSettings) -> int:
    password = os.environ.get("ANJU_NEW_PASSWORD") or sys.stdin.readline().rstrip("\n")
    with _session(settings) as session:
        auth.create_user(
            session=session,
            settings=settings,
            username=args.username,
            password=password,
            role=auth.Role(args.role),
            compound_id=args.compound,
            unit_id=args.unit,
            person_id=args.person,
        )
        audited.commit(session, _note(args.compound, "create", f"user:{args.username}"))
    print(f"user {args.username} ({args.role}) created")
    return 0


def add_edge(args: argparse.Namespace, settings: HubSettings) -> int:
    pem = args.public_key.read_text(encoding="ascii")
    load_public_key(pem)
    with _session(settings) as session:
        crud.register_edge(
            session=session, edge_id=args.edge_id, compound_id=args.compound_id, public_key=pem
        )
        audited.commit(session, _note(args.compound_id, "create", f"edge:{args.edge_id}"))
    print(f"edge {args.edge_id} registered for compound {args.compound_id}")
    return 0


def provision(args: argparse.Namespace, settings: HubSettings) -> int:
    with _session(settings) as session:
        bundle = provision_edge(
            session=session,
            box=settings.secret_box(),
            compound_id=args.compound,
            edge_id=args.edge_id,
            out=args.out,
            hub_url=args.hub_url,
            mqtt_url=args.mqtt_url,
            readers=[ReaderSpec.parse(r) for r in args.reader],
            topic_prefix=settings.topic_prefix,
            hub_ca=args.hub_ca.read_bytes() if args.hub_ca is not None else None,
        )
        _audit(session, args.compound, "create", f"edge:{args.edge_id}")
    print(f"edge {args.edge_id} enrolled; its files are in {bundle.directory}")
    print(f"add {bundle.directory / 'mosquitto-passwd'} to the broker's password_file")
    return 0


def import_residents(args: argparse.Namespace, settings: HubSettings) -> int:
    rows = importer.read_rows(args.file)
    with _session(settings) as session:
        report = importer.import_residents(
            session=session,
            compound_id=args.compound,
            rows=rows,
            skip_bad_rows=args.skip_bad_rows,
            progress=_progress,
        )
        if report.committed:
            _audit(session, args.compound, "create", f"import:{args.file.name}:{report.imported}")
    for rejected in report.rejected:
        print(f"line {rejected.line}: {rejected.reason}", file=sys.stderr)
    if not report.committed:
        print(
            f"nothing imported: {len(report.rejected)} of {report.rows} rows rejected"
            " (--skip-bad-rows imports the others)",
            file=sys.stderr,
        )
        return 1
    print(f"imported {report.imported} of {report.rows} rows; registry version {report.version}")
    return 0


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    print(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr)
    if done == total:
        print(file=sys.stderr)


def enrol_faces(args: argparse.Namespace, settings: HubSettings) -> int:
    """A folder per person (named by person id) of photos, and `--consents`, a CSV naming
    each person's own signed form: a folder without one is not enrolled, and a form without
    a folder is reported. Minors are enrolled through the API, with a guardian."""
    forms = importer.read_consent_forms(args.consents)
    folders = sorted(p for p in args.folder.iterdir() if p.is_dir())
    enrolled, failed = 0, 0
    with _session(settings) as session:
        for done, folder in enumerate(folders, start=1):
            problem = _enrol_folder(session, settings, args.compound, folder, forms)
            if problem is None:
                enrolled += 1
            else:
                failed += 1
                print(f"\n{folder.name}: {problem}", file=sys.stderr)
            _progress(done, len(folders))
    photoless = sorted(set(forms) - {folder.name for folder in folders})
    for person_id in photoless:  # a form is no enrolment: say so rather than skip it
        print(f"\n{person_id}: a consent form but no folder of photos", file=sys.stderr)
    failed += len(photoless)
    print(f"{enrolled} people enrolled, {failed} not")
    return 0 if failed == 0 else 1


def face_engines(args: argparse.Namespace, settings: HubSettings) -> int:
    """Choose the template engines a compound enrols for, and the risk gate's limit."""
    chosen = [
        EngineSettings(type=name, accept_model_terms=args.accept_model_terms)
        for name in args.engine
    ]
    with _session(settings) as session:
        compound = registry.get_compound(session=session, compound_id=args.compound)
        changes = registry.Changes(args.compound)
        try:
            faces.set_engines(
                session=session,
                compound=compound,
                engines=chosen,
                fpir_limit=args.fpir_limit,
                changes=changes,
            )
        except faces.EnginesRefused as exc:
            print(f"hub: {exc}", file=sys.stderr)
            return 2
        target = f"face-engines:{','.join(args.engine)}"
        audited.commit(session, _note(args.compound, "update", target), changes)
    print(f"{args.compound} enrols faces for: {', '.join(args.engine)}")
    return 0


def face_status(args: argparse.Namespace, settings: HubSettings) -> int:
    """Each engine's risk gate, and who must be enrolled again for an engine."""
    with _session(settings) as session:
        compound = registry.get_compound(session=session, compound_id=args.compound)
        risks = faces.gallery_risks(session=session, compound=compound, box=settings.secret_box())
        for key, risk in risks.items():
            alone = "allowed" if risk.fpir_bound <= compound.face_fpir_limit else "off"
            print(
                f"{key}: {risk.people} people, FPIR bound {risk.fpir_bound:.4f} "
                f"(limit {compound.face_fpir_limit}): face alone {alone}; "
                f"{len(risk.look_alikes)} look-alikes need a second factor"
            )
        for person_id, engines in faces.needs_re_enrolment(
            session=session, compound=compound
        ).items():
            print(f"re-enrol {person_id}: no template for {', '.join(engines)}")
        _audit(session, args.compound, "read", "face-status")
    return 0


def _enrol_folder(
    session: Session, settings: HubSettings, compound_id: str, folder: Path, forms: dict[str, str]
) -> str | None:
    form = forms.get(folder.name)
    if form is None:
        return f"no consent form for {folder.name} in the consents file"
    return _enrol_one(
        session,
        settings,
        compound_id=compound_id,
        person_id=folder.name,
        photos=[p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()],
        consent=faces.ConsentGiven(minor=False, given_by="self", document_ref=form),
    )


def _enrol_one(
    session: Session,
    settings: HubSettings,
    *,
    compound_id: str,
    person_id: str,
    photos: list[bytes],
    consent: faces.ConsentGiven,
) -> str | None:
    try:
        person = owned(session, Person, person_id, compound_id, "person")
    except NotFound:
        return f"no person {person_id} in {compound_id}"
    changes = registry.Changes(compound_id)
    try:
        result = faces.enrol(
            session=session,
            box=settings.secret_box(),
            person=person,
            photos=photos,
            consent=consent,
            recorded_by="cli",
            changes=changes,
        )
    except faces.PhotoError as exc:
        session.rollback()
        return str(exc)
    audited.commit(session, _note(compound_id, "create", f"face:{person_id}"), changes)
    for warning in result.warnings:
        print(f"\n{person_id}: {warning}", file=sys.stderr)
    return None


def audit_verify(args: argparse.Namespace, settings: HubSettings) -> int:
    with _session(settings) as session:
        result = audit.verify(session)
    for problem in result.problems:
        print(f"TAMPERED: {problem}")
    print(f"{result.records} audit records; head {result.head}")
    for key_id, count in sorted(result.sealed_by.items()):
        print(f"  {count} sealed by " + (f"key {key_id}" if key_id else "no key (SHA-256 links)"))
    return 0 if result.ok else 1


def new_secret_key(args: argparse.Namespace, settings: HubSettings) -> int:
    print(SecretBox.generate_key())
    return 0


def rotate(args: argparse.Namespace, settings: HubSettings) -> int:
    with _session(settings) as session:
        count = rotate_secrets(session=session, box=settings.secret_box())
    print(f"{count} secrets re-encrypted under the current key")
    return 0


def backup_database(args: argparse.Namespace, settings: HubSettings) -> int:
    target = backup.backup(settings.database_url, args.out)
    print(f"backed up to {target}")
    return 0


def restore_database(args: argparse.Namespace, settings: HubSettings) -> int:
    backup.restore(settings.database_url, args.file)
    engine = audit.sealed_engine(settings)
    migrate(engine)  # a backup from an older version comes up to this one's schema
    engine.dispose()
    print(f"restored from {args.file}; now run: python -m hub audit-verify")
    return 0


def analytics(args: argparse.Namespace, settings: HubSettings) -> int:
    """One round of the analytics job now: anomaly scan, then retention."""
    engine = audit.sealed_engine(settings)
    migrate(engine)
    purged = job.run_once(engine, settings.analytics, utcnow())
    print(f"anomalies scanned; retention purged {purged.as_text()}")
    return 0


def _compound_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--id", required=True)
    sub.add_argument("--name", required=True)
    sub.add_argument(
        "--in-service-since",
        type=_aware_time,
        help="when its gates began deciding (ISO 8601 with a zone; default now): events"
        " dated before it are kept out of occupancy and analytics",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hub", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.set_defaults(run=run)
        return sub

    command("serve", serve, "run the hub (HTTP API and MQTT ingest)")
    _compound_arguments(command("create-compound", create_compound, "create a compound"))
    sub = command("create-user", create_user, "create a user; the password is read from stdin")
    sub.add_argument("--username", required=True)
    sub.add_argument("--role", required=True, choices=[r.value for r in auth.Role])
    sub.add_argument("--compound", required=True)
    sub.add_argument("--unit", help="a resident's unit")
    sub.add_argument("--person", help="the holder's own person id in the registry")
    sub = command("add-edge", add_edge, "register an edge whose key was made elsewhere")
    sub.add_argument("--edge-id", required=True)
    sub.add_argument("--compound-id", required=True)
    sub.add_argument("--public-key", type=Path, required=True, help="PEM file")
    sub = command("provision-edge", provision, "enrol an edge and write everything it needs")
    sub.add_argument("--compound", required=True)
    sub.add_argument("--edge-id", required=True)
    sub.add_argument("--out", type=Path, required=True, help="directory for the edge's files")
    sub.add_argument("--hub-url", required=True, help="how the edge reaches this hub")
    sub.add_argument("--hub-ca", type=Path, help="for https: the CA of the hub's certificate")
    sub.add_argument("--mqtt-url", required=True, help="how the edge reaches the broker")
    sub.add_argument("--reader", action="append", default=[], help="GATE:LANE:in|out:PORT")
    sub = command("import-residents", import_residents, "bulk import from CSV")
    sub.add_argument("file", type=Path)
    sub.add_argument("--compound", required=True)
    sub.add_argument("--skip-bad-rows", action="store_true")
    sub = command("enrol-faces", enrol_faces, "enrol faces from a folder per person")
    sub.add_argument("folder", type=Path)
    sub.add_argument("--compound", required=True)
    sub.add_argument(
        "--consents",
        type=Path,
        required=True,
        help="CSV: person_id, document_ref (each person's own signed form)",
    )
    sub = command("face-engines", face_engines, "choose the engines faces are enrolled for")
    sub.add_argument("--compound", required=True)
    sub.add_argument(
        "--engine",
        action="append",
        required=True,
        choices=["dlib", "mobilefacenet"],
        help="repeat for several: each photo is encoded for each",
    )
    sub.add_argument(
        "--accept-model-terms",
        action="store_true",
        help="mobilefacenet: you have read its terms in docs/faces.md",
    )
    sub.add_argument("--fpir-limit", type=float, default=faces.DEFAULT_FPIR_LIMIT)
    sub = command("face-status", face_status, "risk gates and who must re-enrol, by engine")
    sub.add_argument("--compound", required=True)
    command("analytics", analytics, "scan for anomalies and enforce retention now")
    sub = command("backup", backup_database, "back up the hub's database into a directory")
    sub.add_argument("--out", type=Path, required=True)
    sub = command("restore", restore_database, "restore a backup (stop the hub first)")
    sub.add_argument("file", type=Path)
    command("audit-verify", audit_verify, "check the audit chain; exit 1 if tampered")
    command("new-secret-key", new_secret_key, "print a new key for ANJU_HUB_SECRET_KEYS")
    command("rotate-secrets", rotate, "re-encrypt secrets under the first key")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure()
    try:
        settings = HubSettings()
    except ValidationError as exc:
        print(f"hub: settings (ANJU_HUB_*): {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.run(args, settings))
    except (HubError, ContractError, importer.CsvError, TlsError, OSError) as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
