"""Backup and restore of the hub's database with `python -m hub backup` and `restore`, on
SQLite and PostgreSQL: what was there comes back, and the audit chain verifies."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session, select

from hub import audit, backup, crud
from hub.tables import Entry
from tests import factories

pytestmark = pytest.mark.integration


def hub_command(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"ANJU_HUB_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.dialects
def test_a_backup_restores_the_entries_and_the_audit_chain(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    events = [factories.entry(factories.position(seq=n + 1)) for n in range(25)]
    with Session(engine) as session:
        crud.store_events(session=session, events=events)
        session.commit()
    audit.record(engine, actor=audit.Actor("staff-1", "staff", "c1"), action="read", target="x")
    done = hub_command(database_url, "backup", "--out", str(tmp_path / "backups"))
    assert done.returncode == 0, done.stderr
    [dump] = list((tmp_path / "backups").iterdir())

    with Session(engine) as session:  # the disaster: the entries are gone
        session.execute(delete(Entry))
        session.commit()
    engine.dispose()
    restored = hub_command(database_url, "restore", str(dump))
    assert restored.returncode == 0, restored.stderr

    with Session(engine) as session:
        kept = {row.event_id for row in session.exec(select(Entry)).all()}
    assert kept == {e.event_id for e in events}
    verified = hub_command(database_url, "audit-verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.dialects
def test_restoring_a_missing_file_is_a_clear_error(database_url: str, tmp_path: Path) -> None:
    result = hub_command(database_url, "restore", str(tmp_path / "nothing.dump"))
    assert result.returncode == 2 and "no backup at" in result.stderr


def test_an_sqlite_restore_is_the_backup_whatever_the_live_files_write_ahead_log_holds(
    tmp_path: Path,
) -> None:
    live = tmp_path / "hub.sqlite"
    url = f"sqlite:///{live}"
    with sqlite3.connect(live) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (n INTEGER)")
        db.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(5)])
    dump = backup.backup(url, tmp_path / "backups")
    assert dump.stat().st_mode & 0o777 == 0o600, "a backup is for its owner's eyes only"
    writer = sqlite3.connect(live)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(5, 12)])
    writer.commit()  # seven more rows, still only in the write-ahead log
    backup.restore(url, dump)
    writer.close()
    with sqlite3.connect(live) as db:
        assert db.execute("SELECT count(*) FROM t").fetchone() == (5,)


def test_the_database_password_never_reaches_a_command_line() -> None:
    target, secret = backup._libpq("postgresql+psycopg://anju:S3cret@db:5432/anju")
    assert "S3cret" not in target and secret == {"PGPASSWORD": "S3cret"}
