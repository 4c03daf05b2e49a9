"""Backup and restore of the hub's database, with the database's own tools: `pg_dump` and
`pg_restore` for PostgreSQL (a custom-format dump, consistent while the hub runs), SQLite's
online backup for an SQLite file. After a restore, `audit-verify` tells whether the audit
chain came back whole.

Restoring replaces what the database holds: stop the hub first. What reached the hub after
the backup is gone from it, except what the edges still hold: an edge deletes an event only
once the hub has confirmed it. Back up often, and keep the newest backups off the host.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
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
        target = _private(out_dir / f"anju-hub-{stamp}.sqlite")
        _sqlite_copy(_sqlite_path(database_url), str(target))
        return target
    target = _private(out_dir / f"anju-hub-{stamp}.dump")
    _run(
        lambda db: ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", db],
        database_url,
    )
    return target


def restore(database_url: str, dump: Path) -> None:
    if not dump.is_file():
        raise BackupError(f"no backup at {dump}")
    if make_url(database_url).get_backend_name() == "sqlite":
        # Through SQLite itself, so that the live file's write-ahead log is not replayed
        # over the restored pages.
        _sqlite_copy(str(dump), _sqlite_path(database_url))
        return
    command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction"]
    _run(lambda db: [*command, f"--dbname={db}", str(dump)], database_url)


def _sqlite_copy(source: str, target: str) -> None:
    with sqlite3.connect(source) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)


def _private(path: Path) -> Path:
    """A backup holds personal data: readable by its owner only, from the start."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    return path


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """The SQLAlchemy URL as libpq reads it, without its password, which travels in the
    environment (PGPASSWORD) rather than on a command line anyone can list."""
    url = make_url(database_url)
    password = url.password
    bare = url.set(drivername="postgresql", password=None).render_as_string()
    return bare, ({"PGPASSWORD": str(password)} if password else {})


def _sqlite_path(database_url: str) -> str:
    path = make_url(database_url).database
    if not path:
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return path


def _run(command_for: Callable[[str], list[str]], database_url: str) -> None:
    """Run a PostgreSQL tool; `command_for` places the database (without its password)."""
    target, secret = _libpq(database_url)
    command = command_for(target)
    binary = shutil.which(command[0])
    if binary is None:
        raise BackupError(f"{command[0]} is not installed (Debian: postgresql-client)")
    env = os.environ | secret
    result = subprocess.run(  # noqa: S603 - our own arguments
        [binary, *command[1:]], capture_output=True, text=True, check=False, env=env
    )
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[:500]}")
