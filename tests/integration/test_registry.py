"""The registry on a real database: bulk import, deltas, migrations, secrets, provisioning."""

from __future__ import annotations

import base64
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel, select

from anju.faces.engines import EngineSettings
from anju.mqtt import BrokerAddress, MqttLink
from edge.config import load_settings
from harness.broker import Mosquitto, mosquitto_available
from hub import crud, faces, importer, registry
from hub.__main__ import main as hub_main
from hub.core.db import head_revision, make_engine, migrate
from hub.core.security import SecretBox
from hub.errors import InvalidInput
from hub.provision import ReaderSpec, mosquitto_password_line, provision_edge
from hub.secrets import rotate_secrets
from hub.tables import Compound, Entry, Person, Receipt, as_utc
from models.registry import FacePolicyRecord, FaceRecord, Op
from tests import factories
from tests.integration.conftest import HubHttp

pytestmark = pytest.mark.integration

HEADER = {
    "building": "",
    "unit": "",
    "person_id": "",
    "name": "",
    "kind": "",
    "cards": "",
    "plates": "",
}


def _row(**values: str) -> dict[str, str]:
    base = {"building": "b1", "unit": "b1-101", "name": "王芳", "kind": "resident"}
    return {**HEADER, **base, **values}


@pytest.fixture
def compound(engine: Engine) -> str:
    with Session(engine) as session:
        registry.create_compound(
            session=session, compound_id="c1", name="c1", box=SecretBox.from_config(KEY)
        )
        session.commit()
    return "c1"


KEY = SecretBox.generate_key()


@pytest.mark.dialects
def test_an_import_adds_everyone_in_one_registry_version(engine: Engine, compound: str) -> None:
    rows = importer.numbered(
        [
            _row(person_id="p1", cards="1001;1002", plates="鲁C·12345"),
            _row(person_id="p2", unit="b1-102", cards="1003", plates="鲁CD12345;粤B12345F"),
        ]
    )
    with Session(engine) as session:
        report = importer.import_residents(session=session, compound_id=compound, rows=rows)
        delta = registry.delta_since(session=session, compound_id=compound, since=0)
    assert (report.committed, report.imported, report.version) == (True, 2, 1)
    kinds = sorted(c.record_kind for c in delta.changes)
    assert kinds == ["card"] * 3 + ["person"] * 2 + ["plate"] * 3
    assert {c.record.number for c in delta.changes if c.record_kind == "plate"} == {  # type: ignore[union-attr]
        "鲁C12345",
        "鲁CD12345",
        "粤B12345F",
    }


def test_a_file_with_bad_rows_imports_nothing_and_says_why(engine: Engine, compound: str) -> None:
    with Session(engine) as session:
        importer.import_residents(
            session=session,
            compound_id=compound,
            rows=importer.numbered([_row(person_id="p0", cards="9000")]),
        )
    rows = importer.numbered(
        [
            _row(person_id="p1", cards="1001"),
            _row(person_id="p2", cards="1001"),  # the same card twice in the file
            _row(person_id="p3", cards="9000"),  # a card already registered
            _row(person_id="p4", plates="顺丰速运"),
            _row(person_id="p5", kind="landlord"),
            _row(person_id="p 6"),
            _row(person_id="p1"),  # the same person twice
            _row(person_id="p7", cards="12ab"),
            _row(person_id="p8", building="b2"),  # b1-101 is in b1
        ]
    )
    with Session(engine) as session:
        report = importer.import_residents(session=session, compound_id=compound, rows=rows)
        people = session.exec(select(Person.id)).all()
    assert not report.committed
    assert [r.line for r in report.rejected] == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "registered twice" in report.rejected[0].reason
    assert "not a Chinese licence plate" in report.rejected[2].reason
    assert people == ["p0"]

    with Session(engine) as session:
        skipped = importer.import_residents(
            session=session, compound_id=compound, rows=rows, skip_bad_rows=True
        )
        people = session.exec(select(Person.id).order_by(Person.id)).all()
    assert (skipped.committed, skipped.imported) == (True, 1)
    assert people == ["p0", "p1"]


@pytest.mark.dialects
def test_a_delta_holds_the_latest_state_of_each_record(engine: Engine, compound: str) -> None:
    with Session(engine) as session:
        importer.import_residents(
            session=session,
            compound_id=compound,
            rows=importer.numbered(
                [_row(person_id="p1", cards="1001"), _row(person_id="p2", cards="1002")]
            ),
        )
        changes = registry.Changes(compound)
        registry.delete_person(session=session, person=session.get(Person, "p1"), changes=changes)
        changes.commit_version(session)
        session.commit()
        delta = registry.delta_since(session=session, compound_id=compound, since=1)
        ahead = registry.delta_since(session=session, compound_id=compound, since=99)
    assert (delta.from_version, delta.to_version) == (1, 2)
    assert sorted((c.record_kind, c.op) for c in delta.changes) == [
        ("card", Op.DELETE),
        ("person", Op.DELETE),
    ]
    assert ahead.from_version == 0  # an edge ahead of the hub (a restored backup) resyncs


@pytest.mark.dialects
def test_migrations_upgrade_a_populated_database(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    migrate(engine, "0001")
    event = factories.entry()
    # The entry table as 0001 made it: the columns later migrations added are left out.
    later = {"flags", "margin", "live", "quality", "reported_at", "counted"}
    columns = [c._copy() for c in Entry.__table__.columns if c.name not in later]  # type: ignore[attr-defined]
    entry_0001 = sa.Table("entry", sa.MetaData(), *columns)
    values = crud.entry_row(event).model_dump(exclude=later)
    with Session(engine) as session:
        session.execute(entry_0001.insert().values(**values))
        session.commit()
    migrate(engine)
    with Session(engine) as session:
        [stored] = session.exec(select(Entry)).all()
        version = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert stored.event_id == event.event_id
    assert version == head_revision()
    assert stored.flags == ""
    engine.dispose()


@pytest.mark.dialects
def test_migration_0011_retimes_a_far_dated_entry_and_dates_the_compound(
    empty_database_url: str,
) -> None:
    engine = make_engine(empty_database_url)
    migrate(engine, "0010")
    far = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    event, received = factories.entry(at=far), datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    later = {"reported_at", "counted"}
    columns = [c._copy() for c in Entry.__table__.columns if c.name not in later]  # type: ignore[attr-defined]
    entry_0010 = sa.Table("entry", sa.MetaData(), *columns)
    receipt = {
        "event_id": event.event_id,
        "edge_id": event.position.edge_id,
        "epoch": event.position.epoch,
        "seq": event.position.seq,
        "kind": "entry",
        "received_at": received,
    }
    with Session(engine) as session:
        session.execute(
            entry_0010.insert().values(**crud.entry_row(event).model_dump(exclude=later))
        )
        session.execute(Receipt.__table__.insert().values(**receipt))  # type: ignore[attr-defined]
        session.execute(
            text(
                "INSERT INTO compound (id, name, registry_version, pin_pepper, face_engines,"
                " face_fpir_limit) VALUES ('c1', 'c1', 0, :pepper, '[]', 0.01)"
            ),
            {"pepper": b"x"},
        )
        session.commit()
    migrate(engine)
    with Session(engine) as session:
        [stored] = session.exec(select(Entry)).all()
        [compound] = session.exec(select(Compound)).all()
    assert as_utc(stored.occurred_at) == received and as_utc(stored.reported_at or received) == far
    assert not stored.counted and stored.flags == "time_out_of_bounds"
    assert as_utc(compound.in_service_since) == received  # its earliest entry, as retimed
    engine.dispose()


@pytest.mark.dialects
def test_migrations_rebuild_tables_that_rows_point_at(empty_database_url: str) -> None:
    """0009 rebuilds `user` on SQLite (batch mode) while session tokens point at its rows, as
    on any hub someone is logged in to."""
    engine = make_engine(empty_database_url)
    migrate(engine, "0008")
    with Session(engine) as session:
        session.execute(  # as 0008 made the table (today's model has columns added since)
            text(
                "INSERT INTO compound (id, name, registry_version, pin_pepper) "
                "VALUES ('c1', 'c1', 0, :pepper)"
            ),
            {"pepper": SecretBox.from_config(KEY).encrypt(b"pepper")},
        )
        session.execute(
            text(
                'INSERT INTO "user" (username, password_hash, role, compound_id, failed_logins) '
                "VALUES ('ann', 'x', 'admin', 'c1', 0)"
            )
        )
        session.execute(
            text(
                "INSERT INTO authtoken (token_hash, user_id, expires_at) "
                "SELECT 'h', id, '2030-01-01 00:00:00+00:00' FROM \"user\""
            )
        )
        session.commit()
    migrate(engine)
    with Session(engine) as session:
        users = session.execute(text('SELECT username, person_id FROM "user"')).all()
        tokens = session.execute(text("SELECT token_hash FROM authtoken")).scalars().all()
    assert [tuple(u) for u in users] == [("ann", None)]
    assert tokens == ["h"]
    engine.dispose()


@pytest.mark.dialects
def test_hubs_starting_together_migrate_one_database_once(empty_database_url: str) -> None:
    """Two hub processes (a restart overlapping the old one, or two replicas) migrate an
    empty database at the same moment: one waits for the other, and neither fails."""
    script = (
        "import sys; from hub.core.db import make_engine, migrate; "
        "migrate(make_engine(sys.argv[1]))"
    )
    hubs = [
        subprocess.Popen(
            [sys.executable, "-c", script, empty_database_url], stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    try:
        errors = [hub.communicate(timeout=120)[1] for hub in hubs]
    finally:
        for hub in hubs:
            hub.kill()
    assert [hub.returncode for hub in hubs] == [0, 0, 0], "\n".join(errors)
    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert [v for (v,) in versions] == [head_revision()]


def test_hub_commands_in_one_process_leave_no_connection_open(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """harness.hub_batch runs several commands in one process: each must give its database
    connections back, or a long batch holds a connection per command."""
    monkeypatch.setenv("ANJU_HUB_DATABASE_URL", postgres_url)
    monkeypatch.setenv("ANJU_HUB_SECRET_KEYS", KEY)
    counter = make_engine(postgres_url)

    def connections() -> int:
        with counter.connect() as connection:
            query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            return int(connection.execute(text(query)).scalar_one()) - 1  # less this one

    before = connections()
    for compound in ("cli-a", "cli-b"):
        assert hub_main(["create-compound", "--id", compound, "--name", compound]) == 0
    after = connections()
    counter.dispose()
    assert after == before


@pytest.mark.dialects
def test_the_migrations_build_exactly_the_models_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert drift == []


def test_secrets_rotate_to_a_new_key(engine: Engine, compound: str) -> None:
    old = SecretBox.from_config(KEY)
    with Session(engine) as session:
        pepper = registry.pin_pepper(session=session, compound_id=compound, box=old)
    new_key = SecretBox.generate_key()
    both = SecretBox.from_config(f"{new_key},{KEY}")
    with Session(engine) as session:
        assert rotate_secrets(session=session, box=both) == 1
        assert rotate_secrets(session=session, box=both) == 0
    only_new = SecretBox.from_config(new_key)
    with Session(engine) as session:
        assert registry.pin_pepper(session=session, compound_id=compound, box=only_new) == pepper
        assert only_new.is_current(session.get(Compound, compound).pin_pepper)


def test_provisioning_writes_a_bundle_the_edge_can_run_from(
    hub_http: HubHttp, tmp_path: Path
) -> None:
    with Session(hub_http.engine) as session:
        bundle = provision_edge(
            session=session,
            box=hub_http.settings.secret_box(),
            compound_id="c1",
            edge_id="edge-9",
            out=tmp_path / "edge-9",
            hub_url=hub_http.base_url,
            mqtt_url="mqtt://127.0.0.1:1883",
            readers=[ReaderSpec.parse("g1:l1:in:4100")],
        )
    for name in ("signing-key.pem", "hub-token", "pin-key", "edge.toml"):
        assert stat.S_IMODE((bundle.directory / name).stat().st_mode) == 0o600, name
    settings = load_settings(bundle.directory / "edge.toml")
    assert settings.hub is not None
    assert settings.readers[0].listen_port == 4100
    token = settings.hub.token_file.read_text()
    client = hub_http.anonymous()
    pulled = client.get("/api/edge/registry", headers={"Authorization": f"Bearer {token}"})
    assert pulled.status_code == 200
    assert pulled.json()["compound_id"] == "c1"
    refused = client.get("/api/edge/registry", headers={"Authorization": "Bearer forged"})
    assert refused.status_code == 401


@pytest.mark.skipif(not mosquitto_available(), reason="needs a mosquitto binary")
@pytest.mark.expect_error_log("anju.mqtt")  # a wrong password, refused
def test_the_mqtt_credentials_work_with_a_real_mosquitto(tmp_path: Path) -> None:
    (tmp_path / "passwd").write_text(mosquitto_password_line("edge-9", "s3cret-pw") + "\n")
    broker = Mosquitto(tmp_path, allow_anonymous=False, password_file=tmp_path / "passwd")
    broker.start()
    try:
        good = MqttLink(
            BrokerAddress.from_url(f"mqtt://edge-9:s3cret-pw@127.0.0.1:{broker.port}"),
            client_id="edge-9",
        )
        bad = MqttLink(
            BrokerAddress.from_url(f"mqtt://edge-9:wrong@127.0.0.1:{broker.port}"),
            client_id="edge-9b",
        )
        good.start()
        bad.start()
        assert good.wait_connected(10)
        assert not bad.wait_connected(3)
        good.stop()
        bad.stop()
    finally:
        broker.stop()


def test_a_rejected_row_does_not_hold_its_card_from_a_later_row(
    engine: Engine, compound: str
) -> None:
    rows = importer.numbered(
        [
            _row(person_id="p1", cards="1001", plates="not a plate"),
            _row(person_id="p2", cards="1001"),
        ]
    )
    with Session(engine) as session:
        report = importer.import_residents(
            session=session, compound_id=compound, rows=rows, skip_bad_rows=True
        )
    assert [r.line for r in report.rejected] == [2]
    assert report.imported == 1


def test_ids_of_another_compound_are_refused_not_crashed_on(engine: Engine, compound: str) -> None:
    with Session(engine) as session:
        registry.create_compound(
            session=session, compound_id="c2", name="c2", box=SecretBox.from_config(KEY)
        )
        session.commit()
        importer.import_residents(
            session=session, compound_id="c2", rows=importer.numbered([_row(person_id="p1")])
        )
        report = importer.import_residents(
            session=session,
            compound_id=compound,
            rows=importer.numbered([_row(person_id="p1", building="b9", unit="b9-1")]),
        )
    assert not report.committed
    assert "already in use" in report.rejected[0].reason


def test_line_numbers_are_the_files_own(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "\ufeffbuilding,unit,person_id,name,kind,cards,plates\n"
        'b1,b1-101,p1,"王\n芳",resident,,\n\nb1,b1-101,p2,李伟,resident,,\n',
        encoding="utf-8",
    )
    assert [row.line for row in importer.read_rows(path)] == [3, 5]


@pytest.mark.parametrize(
    "edge_id", ["anju-hub", "anju-officers", "bridge-c1", "E1", "e+1", "e/1", 'x"y']
)
def test_an_edge_id_that_would_break_the_brokers_acl_is_refused(
    engine: Engine, compound: str, edge_id: str, tmp_path: Path
) -> None:
    with Session(engine) as session, pytest.raises(InvalidInput):
        provision_edge(
            session=session,
            box=SecretBox.from_config(KEY),
            compound_id=compound,
            edge_id=edge_id,
            out=tmp_path / "bundle",
            hub_url="http://hub",
            mqtt_url="mqtt://broker:1883",
            readers=[],
        )
    assert not (tmp_path / "bundle").exists()


@pytest.mark.dialects
def test_face_templates_from_before_engines_stay_dlibs_and_await_re_enrolment(
    empty_database_url: str,
) -> None:
    """An upgrade from 0009 with a resident's template: it is dlib's, reaches edges as such
    with its risk gate, and once MobileFaceNet is enabled its holder is listed to re-enrol."""
    engine = make_engine(empty_database_url)
    migrate(engine, "0009")
    box = SecretBox.from_config(SecretBox.generate_key())
    template = np.random.default_rng(5).normal(size=128).astype("<f4").tobytes()
    rows = [
        ("INSERT INTO compound (id, name, registry_version, pin_pepper)"
         " VALUES ('c1', 'C', 1, :blob)", {"blob": b"pepper"}),
        ("INSERT INTO person (id, compound_id, kind, display_name)"
         " VALUES ('p1', 'c1', 'resident', 'Wang')", {}),
        ("INSERT INTO faceconsent (id, compound_id, person_id, minor, given_by, recorded_by,"
         " recorded_at) VALUES (1, 'c1', 'p1', false, 'self', 'staff', :at)",
         {"at": datetime(2026, 1, 1, tzinfo=UTC)}),
        ("INSERT INTO facetemplate (id, compound_id, person_id, consent_id, template,"
         " created_at) VALUES ('face-1', 'c1', 'p1', 1, :blob, :at)",
         {"blob": box.encrypt(template), "at": datetime(2026, 1, 1, tzinfo=UTC)}),
    ]  # fmt: skip
    with engine.begin() as connection:
        for statement, values in rows:
            connection.execute(text(statement), values)
    migrate(engine)
    with Session(engine) as session:
        delta = registry.delta_since(session=session, compound_id="c1", since=0, box=box)
        records = {c.record_kind: c.record for c in delta.changes}
        compound = session.get(Compound, "c1")
        assert compound is not None
        assert [s.type for s in faces.compound_engines(compound)] == ["dlib"]
        assert faces.needs_re_enrolment(session=session, compound=compound) == {}
        assert compound.registry_version == 2  # the upgrade announced the risk gate
        announced = registry.delta_since(session=session, compound_id="c1", since=1, box=box)
        assert [c.record_kind for c in announced.changes] == ["face_policy"]
        changes = registry.Changes("c1")
        mobilefacenet = EngineSettings(type="mobilefacenet", accept_model_terms=True)
        faces.set_engines(
            session=session,
            compound=compound,
            engines=[mobilefacenet, EngineSettings()],
            fpir_limit=0.01,
            changes=changes,
        )
        changes.commit_version(session)
        session.commit()
        assert faces.needs_re_enrolment(session=session, compound=compound) == {
            "p1": ["mobilefacenet"]
        }
        after = registry.delta_since(session=session, compound_id="c1", since=2, box=box)
    face = records["face"]
    assert isinstance(face, FaceRecord) and face.engine == "dlib"
    assert base64.b64decode(face.template) == template
    policy = records["face_policy"]
    assert isinstance(policy, FacePolicyRecord) and policy.fpir_bound == 1.0  # one resident
    engines = {c.record.engine for c in after.changes if isinstance(c.record, FacePolicyRecord)}
    assert engines == {"dlib", "mobilefacenet"}
    engine.dispose()


def test_an_engine_whose_terms_are_not_accepted_is_refused() -> None:
    with pytest.raises(faces.EnginesRefused, match="accept_model_terms"):
        faces.set_engines(
            session=None,  # type: ignore[arg-type]  (refused before any database work)
            compound=Compound(id="c1", name="C", pin_pepper=b""),
            engines=[EngineSettings(type="mobilefacenet")],
            fpir_limit=0.01,
            changes=registry.Changes("c1"),
        )
