"""The audit chain stays one chain when several processes append to it at once."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from hub import audit

pytestmark = [pytest.mark.integration, pytest.mark.dialects]

WRITER = """
import sys
from hub import audit
from hub.core.db import make_engine
engine = make_engine(sys.argv[1])
actor = audit.Actor(sys.argv[2], "staff", "c1")
for n in range(40):
    audit.record(engine, actor=actor, action="read", target=f"person:p-{n}")
"""


def test_concurrent_writers_in_several_processes_keep_one_chain(
    engine: Engine, database_url: str
) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, database_url, f"writer-{n}"])
        for n in range(3)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    with Session(engine) as session:
        result = audit.verify(session)
    assert result.records == 120
    assert result.problems == []
