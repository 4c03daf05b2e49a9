"""The audit chain stays one chain when several processes append to it at once, and a change
is committed with its audit record, in one transaction."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from hub import audit, audited, registry
from hub.core.security import SecretBox
from hub.errors import Conflict
from hub.tables import AuditRecord, Building, Person

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


def _compound(engine: Engine) -> None:
    box = SecretBox.from_config(SecretBox.generate_key())
    with Session(engine) as session:
        registry.create_compound(session=session, compound_id="c1", name="c1", box=box)
        session.commit()


def _add_buildings(engine: Engine, writer: str, count: int) -> None:
    actor = audit.Actor(writer, "staff", "c1")
    for n in range(count):
        with Session(engine) as session:
            session.add(Building(id=f"{writer}-{n}", compound_id="c1", name=str(n)))
            audited.commit(session, audited.Note(actor, "create", f"building:{writer}-{n}"))


def _read(engine: Engine, reader: str, count: int) -> None:
    actor = audit.Actor(reader, "officer", "c1")
    for n in range(count):
        audit.record(engine, actor=actor, action="read", target=f"person:p-{n}", reason="case")


def test_changes_and_reads_audited_at_once_keep_one_chain(engine: Engine) -> None:
    """Changes append their records inside their own transactions, reads in transactions of
    their own, on several threads at once: one chain, every record in it."""
    _compound(engine)
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [pool.submit(_add_buildings, engine, f"writer-{n}", 15) for n in range(2)]
        jobs += [pool.submit(_read, engine, f"reader-{n}", 15) for n in range(2)]
        for job in jobs:
            job.result()
    with Session(engine) as session:
        result = audit.verify(session)
        buildings = session.exec(select(Building)).all()
    assert (result.records, result.problems) == (60, [])
    assert len(buildings) == 30


def test_a_change_and_its_record_are_committed_together_or_not_at_all(engine: Engine) -> None:
    _compound(engine)
    actor = audit.Actor("staff", "staff", "c1")
    _add_buildings(engine, "first", 1)
    with Session(engine) as session:
        session.add(Building(id="first-0", compound_id="c1", name="again"))
        with pytest.raises(Conflict):
            audited.commit(session, audited.Note(actor, "create", "building:first-0"))
    with Session(engine) as session:
        records = session.exec(select(AuditRecord)).all()
        assert [r.target for r in records] == ["building:first-0"]  # the first, only
        # A registry change: the new version, the change's log and the record, at once.
        session.add(Person(id="p-1", compound_id="c1", kind="staff", display_name="某人"))
        changes = registry.Changes("c1")
        changes.upsert("person", "p-1")
        version = audited.commit(session, audited.Note(actor, "create", "person:p-1"), changes)
    with Session(engine) as session:
        assert registry.get_compound(session=session, compound_id="c1").registry_version == 1
        assert version == 1
        last = session.exec(select(AuditRecord).order_by(col(AuditRecord.id).desc())).first()
        assert last is not None and (last.actor, last.target) == ("staff", "person:p-1")
        assert audit.verify(session).ok


def _sealed(engine: Engine, *keys: str) -> SecretBox:
    box = SecretBox.from_config(",".join(keys))
    audit.seal_with(engine, audit.AuditKeys.from_box(box))
    return box


def _write(engine: Engine, count: int) -> None:
    actor = audit.Actor("c1-staff", "staff", "c1")
    for n in range(count):
        audit.record(engine, actor=actor, action="read", target=f"person:p-{n}")


def _relink(engine: Engine, start: int, *, key_id: str, keys: audit.AuditKeys) -> None:
    """What someone who can write to the database does after editing record `start`:
    recompute every later link, with whatever key they hold (or none)."""
    with Session(engine) as session:
        records = session.exec(select(AuditRecord).order_by(col(AuditRecord.id))).all()
        prev = records[start - 1].hash if start > 0 else audit.GENESIS
        for record in records[start:]:
            record.key_id, record.prev_hash = key_id, prev
            record.hash = audit.digest(record, keys)
            prev = record.hash
            session.add(record)
        session.commit()


def _edit_second(engine: Engine) -> None:
    with Session(engine) as session:
        second = session.exec(select(AuditRecord).order_by(col(AuditRecord.id))).all()[1]
        second.reason = "nothing to see here"
        session.add(second)
        session.commit()


def test_an_edited_chain_relinked_without_the_key_fails(engine: Engine) -> None:
    _sealed(engine, SecretBox.generate_key())
    _write(engine, 5)
    with Session(engine) as session:
        before = audit.verify(session)
    assert before.ok and set(before.sealed_by) != {""} and before.records == 5
    _edit_second(engine)
    _relink(engine, 1, key_id="", keys=audit.AuditKeys())  # as plain SHA-256 links
    with Session(engine) as session:
        problems = audit.verify(session).problems
    assert any("unkeyed after sealed" in p for p in problems), problems
    forger = audit.AuditKeys.from_box(SecretBox.from_config(SecretBox.generate_key()))
    assert forger.current is not None
    _relink(engine, 1, key_id=forger.current, keys=forger)  # with a key of their own
    with Session(engine) as session:
        problems = audit.verify(session).problems
    assert any("not held" in p for p in problems), problems


def test_records_stay_verifiable_across_a_key_rotation(engine: Engine) -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    _sealed(engine, old)
    _write(engine, 3)
    _sealed(engine, new, old)  # rotated: the new key first, the old kept for verification
    _write(engine, 2)
    with Session(engine) as session:
        result = audit.verify(session)
    assert result.ok, result.problems
    assert sorted(result.sealed_by.values()) == [2, 3]
    _sealed(engine, new)  # the old key dropped too early
    with Session(engine) as session:
        result = audit.verify(session)
    assert len(result.problems) == 3 and all("not held" in p for p in result.problems)
