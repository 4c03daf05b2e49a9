"""Shared fixtures: a real Mosquitto, real databases (SQLite always, PostgreSQL when reachable).

MQTT: `MQTT_URL` if set, else a private `mosquitto` started on a free port. Each test gets its
own topic prefix. PostgreSQL: `ANJU_TEST_POSTGRES_URL`, else the local server if it answers;
each test run gets its own database. Under CI (CI=true) a missing broker fails instead of
skipping, so that a green CI always means the integration tests ran.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from anju.broker import Mosquitto, mosquitto_available
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
def postgres_url() -> Iterator[str]:
    admin_url = _postgres_admin_url()
    if admin_url is None:
        _missing("PostgreSQL (set ANJU_TEST_POSTGRES_URL)")
        return
    name = f"anju_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The hub's database, once on each back-end, empty for every test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.sqlite'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    path = SHARED / "fixtures"
    if not path.is_dir():
        pytest.skip(f"real-image fixtures not found at {path} (they live beside the checkout)")
    return path
