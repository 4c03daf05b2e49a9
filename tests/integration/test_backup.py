"""Backup and restore of the hub's database with `python -m hub backup` and `restore`, on
SQLite and PostgreSQL: what was there comes back, and the audit chain verifies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from sqlmodel import Session, select

from hub import audit, crud
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


def test_restoring_a_missing_file_is_a_clear_error(database_url: str, tmp_path: Path) -> None:
    result = hub_command(database_url, "restore", str(tmp_path / "nothing.dump"))
    assert result.returncode == 2 and "no backup at" in result.stderr
