"""`harness.hub_batch`: hub commands in one process, in order, stopping at the first failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from harness.hub_batch import main
from hub.core.security import SecretBox


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    monkeypatch.setenv("ANJU_HUB_DATABASE_URL", url)
    monkeypatch.setenv("ANJU_HUB_SECRET_KEYS", SecretBox.generate_key())
    monkeypatch.setenv("ANJU_NEW_PASSWORD", "a long enough password 1")
    return url


def _users(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        names = [row[0] for row in conn.execute(text("SELECT username FROM user"))]
    engine.dispose()
    return names


def test_commands_run_in_order_and_the_first_failure_stops_the_rest(
    database: str, tmp_path: Path
) -> None:
    create = ["create-compound", "--id", "c1", "--name", "One"]
    user = ["create-user", "--username", "ann", "--role", "admin", "--compound", "c1"]
    missing = ["import-residents", str(tmp_path / "absent.csv"), "--compound", "c1"]

    assert main([json.dumps(create), json.dumps(user)]) == 0
    assert _users(database) == ["ann"]

    other = [*user[:2], "bob", *user[3:]]
    assert main([json.dumps(missing), json.dumps(other)]) != 0
    assert _users(database) == ["ann"]  # bob's command never ran
    assert main([json.dumps(["create-user", "--no-such-option"]), json.dumps(other)]) == 2
    assert _users(database) == ["ann"]  # refused arguments stop the batch too


def test_an_argument_that_is_not_a_list_of_strings_runs_nothing(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    create = json.dumps(["create-compound", "--id", "c1", "--name", "One"])
    for bad in ('{"create-user": 1}', "[create-user", '["create-user", 1]'):
        assert main([create, bad]) == 2
        assert "not a JSON list of strings" in capsys.readouterr().err
    engine = create_engine(database)
    with engine.connect() as conn:
        tables = conn.execute(text("SELECT name FROM sqlite_master WHERE name = 'compound'"))
        assert tables.first() is None  # the first command did not run either
    engine.dispose()
