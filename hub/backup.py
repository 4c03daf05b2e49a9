"""Backup and restore of the hub's database, with the database's own tools: `pg_dump` and
`pg_restore` for PostgreSQL (a custom-format dump, consistent while the hub runs), SQLite's
online backup for an SQLite file. After a restore, `audit-verify` tells whether the audit
chain came back whole.

Restoring replaces what the database holds: stop the hub first. What reached the hub after
the backup is gone from it, except what the edges still hold: an edge deletes an event only
once the hub has confirmed it. Back up often, and keep the newest backups off the host.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from hub.errors import HubError


class BackupError(HubError):
    """The dump or the restore failed; the message says why."""


def backup(database_url: str, out_dir: Path) -> Path:
    url = make_url(database_url)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if url.get_backend_name() == "sqlite":
        target = out_dir / f"anju-hub-{stamp}.sqlite"
        with sqlite3.connect(_sqlite_path(database_url)) as source, sqlite3.connect(target) as copy:
            source.backup(copy)
        return target
    target = out_dir / f"anju-hub-{stamp}.dump"
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq(database_url)])
    return target


def restore(database_url: str, dump: Path) -> None:
    if not dump.is_file():
        raise BackupError(f"no backup at {dump}")
    if make_url(database_url).get_backend_name() == "sqlite":
        shutil.copyfile(dump, _sqlite_path(database_url))
        return
    command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction"]
    _run([*command, f"--dbname={_libpq(database_url)}", str(dump)])


def _libpq(database_url: str) -> str:
    """The SQLAlchemy URL as libpq reads it (no driver name; the password stays in it, so
    the command line is never logged)."""
    url = make_url(database_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(database_url: str) -> str:
    path = make_url(database_url).database
    if not path:
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return path


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (Debian: postgresql-client)")
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[:500]}")
