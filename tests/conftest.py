"""Shared fixtures: a real Mosquitto, real databases (SQLite always, PostgreSQL when reachable).

MQTT: `MQTT_URL` if set, else a private `mosquitto` started on a free port. Each test gets its
own topic prefix. Databases: SQLite for every test of the hub's database, PostgreSQL
(`ANJU_TEST_POSTGRES_URL`, else the local server if it answers) too for those marked
`dialects`; each test gets a database of its own, copied from one migrated once a session.
Under CI (CI=true) a missing broker or server fails instead of skipping, so that a green CI
always means the integration tests ran.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from harness.broker import Mosquitto, mosquitto_available
from hub.core.db import make_engine, migrate

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


# argon2id at its lowest cost for every hub the tests make, in this process and in the hub
# processes they start (which inherit the environment): at production's cost a login takes a
# fifth of a second here. tests/unit/test_security.py checks that production's is unchanged.
TEST_HUB_ENV = {"ANJU_HUB_PASSWORD_TIME_COST": "1", "ANJU_HUB_PASSWORD_MEMORY_KIB": "32"}


def pytest_configure(config: pytest.Config) -> None:
    for name, value in TEST_HUB_ENV.items():
        os.environ.setdefault(name, value)


# The packages whose ERROR logs fail a test that did not expect them (in this process only:
# what a child process logs goes to its own log file).
OUR_PACKAGES = ("models", "edge", "hub", "anju", "firmware_mocks")


class _ErrorLogs(logging.Handler):
    """Collects the records of ERROR and above that our packages log."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def unexpected(self, allowed: tuple[str, ...]) -> list[logging.LogRecord]:
        def allowed_by(record: logging.LogRecord) -> bool:
            return any(record.name == a or record.name.startswith(f"{a}.") for a in allowed)

        return [r for r in self.records if not allowed_by(r)]


@pytest.fixture(autouse=True)
def _no_unexpected_error_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test during which our code logged an error it did not expect: a swallowed
    exception is a failure, not a line in the log. A test that provokes one on purpose says so
    with `@pytest.mark.expect_error_log("hub.ingest", ...)` (those loggers and their children;
    with no names, any of ours)."""
    handler = _ErrorLogs()
    loggers = [logging.getLogger(name) for name in OUR_PACKAGES]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    marker = request.node.get_closest_marker("expect_error_log")
    if marker is not None and not marker.args:
        return
    unexpected = handler.unexpected(tuple(marker.args) if marker is not None else ())
    if unexpected:
        formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        shown = "\n".join(formatter.format(r) for r in unexpected[:5])
        pytest.fail(f"{len(unexpected)} unexpected error log(s) from our code:\n{shown}")


# Tests that take minutes by nature, run by `make test-slow` (which .ci/run runs too), not by
# `make test`: the benchmarks' smoke runs (each lays out its own processes and measures), the
# runs of faults in a row, the simulated day with its offline hour, the whole demo, and the
# face engines' runs on real photos and video (2.5 minutes as unit tests, 1.5 end to end).
# Move a module here rather than let `make test` outgrow its budget (README, "The test
# budget").
SLOW_MODULES = {
    "e2e/test_bench_api_fuzz.py",
    "e2e/test_bench_decide.py",
    "e2e/test_bench_district.py",
    "e2e/test_bench_events.py",
    "e2e/test_bench_faces.py",
    "e2e/test_bench_hub.py",
    "e2e/test_bench_plates.py",
    "e2e/test_bench_registry.py",
    "e2e/test_chaos.py",
    "e2e/test_compound.py",
    "e2e/test_faces.py",
    "e2e/test_faults.py",
    "e2e/test_scenario.py",
    "integration/test_face_strangers.py",
    "unit/test_face_engines.py",
    "unit/test_face_lane.py",
}
TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.relative_to(TESTS).as_posix() in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required under CI")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def broker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("MQTT_URL"):
        yield url
        return
    if not mosquitto_available():
        _missing("Mosquitto (set MQTT_URL or install the mosquitto package)")
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker.url
    broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def _postgres_admin_url() -> str | None:
    url = os.environ.get("ANJU_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError:
        return None
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = _postgres_admin_url()
    if url is None:
        _missing("PostgreSQL (set ANJU_TEST_POSTGRES_URL)")
    assert url is not None
    return url


class _PostgresDatabases:
    """Databases of this test run on the PostgreSQL server, dropped when it ends."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.run = uuid.uuid4().hex[:10]
        self.names: list[str] = []

    def create(self, template: str | None = None) -> str:
        name = f"anju_test_{self.run}_{len(self.names)}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        self.names.append(name)
        return name

    def url(self, name: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_all(self) -> None:
        for name in self.names:
            self.drop(name)
        self.admin.dispose()


@pytest.fixture(scope="session")
def _postgres(postgres_admin_url: str) -> Iterator[_PostgresDatabases]:
    databases = _PostgresDatabases(postgres_admin_url)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def postgres_url(_postgres: _PostgresDatabases) -> str:
    """An empty database of this test run, shared by the session's tests that ask for it."""
    return _postgres.url(_postgres.create())


def _migrated(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def _postgres_template(_postgres: _PostgresDatabases) -> str:
    """Migrated once a session; each test's database is a copy (CREATE DATABASE … TEMPLATE)."""
    name = _postgres.create()
    _migrated(_postgres.url(name))
    return name


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once a session; each test's database is a copy of the file."""
    path = tmp_path_factory.mktemp("sqlite-template") / "hub.sqlite"
    _migrated(f"sqlite:///{path}")  # disposed: the write-ahead log is folded into the file
    return path


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test of the hub's database runs on SQLite; one about the database itself (marked
    `dialects`: migrations, locking, what the dialects do differently) on PostgreSQL too, and
    so does every test when ANJU_TEST_ALL_DIALECTS is set (`make test-slow`)."""
    if "dialect" not in metafunc.fixturenames:
        return
    both = metafunc.definition.get_closest_marker("dialects") is not None
    both = both or bool(os.environ.get("ANJU_TEST_ALL_DIALECTS"))
    dialects = ["sqlite", "postgresql"] if both else ["sqlite"]
    metafunc.parametrize("dialect", dialects, indirect=True)


@pytest.fixture
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database_url(dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables yet, for the tests of the migrations themselves."""
    if dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite'}"
    databases: _PostgresDatabases = request.getfixturevalue("_postgres")
    return databases.url(databases.create())


@pytest.fixture
def database_url(dialect: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The hub's database, migrated and empty, of this test alone: a copy of the session's
    migrated template, which costs a file copy (SQLite) or a CREATE DATABASE (PostgreSQL)
    instead of running every migration again."""
    if dialect == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "hub.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    databases: _PostgresDatabases = request.getfixturevalue("_postgres")
    name = databases.create(template=request.getfixturevalue("_postgres_template"))
    yield databases.url(name)
    databases.drop(name)


@pytest.fixture
def hub_sqlite(tmp_path: Path, _sqlite_template: Path) -> Path:
    """A migrated hub database at tmp_path/hub.sqlite, where a Compound laid out in tmp_path
    keeps it: its hub commands then find the migrations done."""
    path = tmp_path / "hub.sqlite"
    shutil.copyfile(_sqlite_template, path)
    return path


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    path = SHARED / "fixtures"
    if not path.is_dir():
        pytest.skip(f"real-image fixtures not found at {path} (they live beside the checkout)")
    return path
