"""Engine creation (SQLite in WAL mode, the embedded default, or PostgreSQL) and migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import create_engine

import hub.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
# PostgreSQL advisory lock held while migrating: hubs starting together take turns.
MIGRATION_LOCK = 0x616E6A75  # "anju"


def make_engine(url: str) -> Engine:
    # hide_parameters: errors must not write card numbers or names into the logs.
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def answers(engine: Engine) -> bool:
    """Whether the database answers a query now."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision: what `migrate` brings a database to."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (the newest by default); safe to run at every start."""
    if engine.dialect.name == "sqlite":
        _migrate_sqlite(engine, revision)
        return
    with engine.connect() as connection:
        # Taken before the migration's transaction begins, so that its snapshot (at any
        # isolation level) comes after the previous hub's commit: it finds the work done.
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        connection.commit()
        try:
            with connection.begin():
                command.upgrade(alembic_config(connection), revision)
        finally:
            connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
            connection.commit()


def _migrate_sqlite(engine: Engine, revision: str) -> None:
    """SQLite alters a table by rebuilding it (alembic's batch mode), and with foreign keys
    enforced the old table cannot be dropped while rows point at it (a user with a session,
    say). Enforcement is switched off around the migration, which SQLite allows only outside
    a transaction, and every key is checked before it commits."""
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        if connection.exec_driver_sql("PRAGMA foreign_keys").scalar() != 0:
            raise RuntimeError("SQLite kept foreign keys on: the migration would fail")
        connection.commit()
        try:
            with connection.begin():
                # The driver begins a transaction only before data changes: begun here, the
                # DDL is rolled back with the rest, and a second process migrating at the
                # same time waits for this one instead of racing it.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                command.upgrade(alembic_config(connection), revision)
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration to {revision} broke foreign keys: {broken}")
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
