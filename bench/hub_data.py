"""The data bench.hub searches: a year of two compounds' entries, made with a fixed seed (who
comes and goes, what each passage records) and loaded into SQLite or PostgreSQL through the
hub's own schema, reused when a database already holds them."""

from __future__ import annotations

import itertools
import random
import sqlite3
import time
import uuid
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

import psycopg
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from hub.core.db import make_engine, migrate
from hub.tables import Entry
from models.plates import PROVINCES

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "anju_bench_hub"
DAYS = 365
END = datetime(2025, 6, 1, tzinfo=UTC)
LOCAL = timedelta(hours=8)  # the compounds' days start at midnight China time
BATCH = 100_000

COLUMNS = (
    "event_id",
    "edge_id",
    "epoch",
    "seq",
    "compound_id",
    "gate_id",
    "lane",
    "direction",
    "occurred_at",
    "subject_kind",
    "subject_id",
    "method",
    "credential_ref",
    "score",
    "margin",
    "live",
    "quality",
    "outcome",
    "reason_code",
    "reason",
    "flags",
)
EntryRow = tuple[object, ...]  # in COLUMNS order
# subject_kind, subject_id, credential_ref, score, margin, live, quality,
# outcome, reason_code, reason, flags
Decided = tuple[
    str, str | None, str | None, float | None, float | None, bool | None, float | None,
    str, str, str, str,
]  # fmt: skip

# Passages by hour of the day (local time): quiet nights, morning and evening rushes.
HOUR_WEIGHTS = (1, 0.5, 0.3, 0.3, 0.5, 1.5, 4, 9, 10, 6, 4, 4, 5, 4, 4, 4, 5, 8, 10, 8, 6, 4, 3, 2)
METHOD_SHARES = {"face": 42, "plate": 25, "card": 18, "qr": 7, "pin": 4, "remote": 4}


# --- who comes and goes --------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    gate_id: str
    vehicles: bool
    edge_id: str
    epoch: str


@dataclass(frozen=True)
class Site:
    """One compound: its gates, people (with how often each passes) and vehicles."""

    compound_id: str
    share: float
    gates: tuple[Gate, ...]
    people: tuple[str, ...]
    people_cum: tuple[float, ...]
    cards: dict[str, str]
    plates: tuple[str, ...]
    plate_owners: tuple[str, ...]
    visitor_plates: tuple[str, ...]
    passes: int

    def person(self, rng: random.Random) -> str:
        return self.people[bisect(self.people_cum, rng.random() * self.people_cum[-1])]

    def gate(self, rng: random.Random, vehicles: bool) -> Gate:
        return rng.choice(self.car_gates if vehicles else self.foot_gates)

    @cached_property
    def car_gates(self) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if g.vehicles)

    @cached_property
    def foot_gates(self) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if not g.vehicles)


def plate_number(rng: random.Random) -> str:
    """A plate as a Shenzhen compound sees them: mostly 粤B, a quarter new-energy."""
    roll = rng.random()
    if roll < 0.7:
        head = "粤B"
    elif roll < 0.8:
        head = "粤" + rng.choice("ASEL")
    else:
        head = rng.choice(PROVINCES) + rng.choice("ABCDEF")
    if rng.random() < 0.25:
        return head + rng.choice("DF") + "".join(rng.choices("0123456789", k=5))
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    tail = [rng.choice(letters) if rng.random() < 0.2 else rng.choice("0123456789")]
    return head + "".join(tail) + "".join(rng.choices("0123456789", k=4))


def make_site(
    rng: random.Random, compound_id: str, share: float, gates: Sequence[str], size: int
) -> Site:
    """`size` people; vehicles for 30 % of them; gate names starting `car-` are for vehicles."""
    people = tuple(f"{compound_id}-p{n:05d}" for n in range(size))
    weights = list(itertools.accumulate(rng.lognormvariate(0, 0.8) for _ in people))
    owners = tuple(rng.sample(people, size * 3 // 10))
    return Site(
        compound_id=compound_id,
        share=share,
        gates=tuple(
            Gate(
                name,
                name.startswith("car-"),
                f"{compound_id}-{name}",
                f"{rng.getrandbits(128):032x}",
            )
            for name in gates
        ),
        people=people,
        people_cum=tuple(weights),
        cards={p: str(rng.randrange(10**9, 4 * 10**9)) for p in people},
        plates=tuple(plate_number(rng) for _ in owners),
        plate_owners=owners,
        visitor_plates=tuple(plate_number(rng) for _ in range(size * 4)),
        passes=size * 6,
    )


def make_sites(seed: int) -> tuple[Site, ...]:
    rng = random.Random(seed)
    gates_a = ("east-gate", "west-gate", "south-gate", "north-gate", "car-east", "car-west")
    return (
        make_site(rng, "jiayuan", 0.85, gates_a, 4_200),
        make_site(rng, "lanting", 0.15, ("main-gate", "side-gate", "car-gate"), 800),
    )


# --- what each passage records --------------------------------------------------------------


def granted(subject: tuple[str, str | None], ref: str | None, code: str, reason: str) -> Decided:
    return (*subject, ref, None, None, None, None, "granted", code, reason, "")


def denied(subject: tuple[str, str | None], ref: str | None, code: str, reason: str) -> Decided:
    return (*subject, ref, None, None, None, None, "denied", code, reason, "")


def by_face(rng: random.Random, site: Site) -> Decided:
    roll = rng.random()
    if roll < 0.03:
        score = round(rng.uniform(0.6, 0.9), 4)
        return ("unknown", None, None, score, None, True, 70.0, "denied", "face_unknown",
                "This face is not registered in the compound.", "")  # fmt: skip
    person = site.person(rng)
    score, margin = round(rng.uniform(0.25, 0.5), 4), round(rng.uniform(0.05, 0.3), 4)
    quality = round(rng.uniform(55, 95), 1)
    if roll < 0.05:
        return ("unknown", None, person, score, margin, False, quality, "denied", "face_not_live",
                "The face did not look live; use a card, PIN or QR.", "")  # fmt: skip
    return ("resident", person, person, score, margin, True, quality, "granted", "face_match",
            "Recognised face.", "")  # fmt: skip


def by_plate(rng: random.Random, site: Site) -> Decided:
    confidence = round(rng.uniform(0.85, 0.99), 3)
    if rng.random() < 0.8:
        n = rng.randrange(len(site.plates))
        flags = "plate_near" if rng.random() < 0.01 else ""
        return ("resident", site.plate_owners[n], site.plates[n], confidence, None, None, None,
                "granted", "plate_registered", "Registered vehicle.", flags)  # fmt: skip
    plate = rng.choice(site.visitor_plates)
    if rng.random() < 0.5:
        visitor = f"{site.compound_id}-pass{rng.randrange(site.passes):05d}"
        return ("visitor", visitor, plate, confidence, None, None, None, "granted", "plate_pass",
                "Visitor vehicle with a pass.", "")  # fmt: skip
    return ("unknown", None, plate, confidence, None, None, None, "denied", "plate_unknown",
            "This vehicle is not registered; please see the guard.", "")  # fmt: skip


def by_card(rng: random.Random, site: Site) -> Decided:
    roll = rng.random()
    if roll < 0.03:
        card = str(rng.randrange(10**9, 4 * 10**9))
        return denied(("unknown", None), card, "card_unknown", "This card is not registered.")
    person = site.person(rng)
    if roll < 0.05:
        expired = "The card is outside its validity period."
        return denied(("resident", person), site.cards[person], "card_expired", expired)
    return granted(("resident", person), site.cards[person], "card_valid", "Registered card.")


def by_qr(rng: random.Random, site: Site) -> Decided:
    visitor = f"{site.compound_id}-pass{rng.randrange(site.passes):05d}"
    roll = rng.random()
    if roll < 0.06:
        return denied(("visitor", visitor), visitor, "pass_expired", "This pass is expired.")
    if roll < 0.1:
        used_up = "This pass has no entries left (2 allowed)."
        return denied(("visitor", visitor), visitor, "pass_used_up", used_up)
    return granted(("visitor", visitor), visitor, "pass_valid", "Visitor pass.")


def by_pin(rng: random.Random, site: Site) -> Decided:
    if rng.random() < 0.12:
        return denied(("unknown", None), None, "pin_unknown", "This PIN is not registered.")
    return granted(("resident", site.person(rng)), None, "pin_valid", "Registered PIN.")


def by_remote(rng: random.Random, site: Site) -> Decided:
    command = f"{rng.getrandbits(128):032x}"
    if rng.random() < 0.03:
        return denied(("unknown", None), command, "guard_deny", "Refused by the guard (王: 推销).")
    return granted(("unknown", None), command, "guard_open", "Opened by the guard (王: 快递).")


DECIDERS: dict[str, Callable[[random.Random, Site], Decided]] = {
    "face": by_face,
    "plate": by_plate,
    "card": by_card,
    "qr": by_qr,
    "pin": by_pin,
    "remote": by_remote,
}


def day_times(rng: random.Random, day: datetime, count: int) -> list[datetime]:
    """`count` sorted instants of one local day (`day` is its midnight, in UTC)."""
    hours = rng.choices(range(24), weights=HOUR_WEIGHTS, k=count)
    seconds = sorted(h * 3600 + rng.random() * 3600 for h in hours)
    return [day + timedelta(seconds=s) for s in seconds]


def generate(rows: int, seed: int) -> Iterator[EntryRow]:
    """`rows` entries over the year up to END, oldest first (the order the hub stores them)."""
    rng = random.Random(seed + 1)
    sites = make_sites(seed)
    site_cum = list(itertools.accumulate(s.share for s in sites))
    methods = list(METHOD_SHARES)
    method_cum = list(itertools.accumulate(METHOD_SHARES.values()))
    seqs = {gate.edge_id: itertools.count(1) for site in sites for gate in site.gates}
    first_day = END - timedelta(days=DAYS) - LOCAL
    for day in range(DAYS):
        count = rows * (day + 1) // DAYS - rows * day // DAYS
        for at in day_times(rng, first_day + timedelta(days=day), count):
            site = sites[bisect(site_cum, rng.random() * site_cum[-1])]
            method = methods[bisect(method_cum, rng.random() * method_cum[-1])]
            gate = site.gate(rng, method == "plate" or (method == "remote" and rng.random() < 0.5))
            direction = "in" if rng.random() < 0.5 else "out"
            lane = f"{'car' if gate.vehicles else 'pedestrian'}-{direction}"
            decided = DECIDERS[method](rng, site)
            yield (
                f"{rng.getrandbits(128):032x}", gate.edge_id, gate.epoch,
                next(seqs[gate.edge_id]), site.compound_id, gate.gate_id, lane, direction, at,
                decided[0], decided[1], method, *decided[2:],
            )  # fmt: skip


def batches(rows: Iterable[EntryRow], size: int) -> Iterator[list[EntryRow]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


# --- the databases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    engine: Engine
    load_s: float | None  # None when the rows were already there
    version: str


def holds(engine: Engine, rows: int, seed: int) -> bool:
    """Whether the database holds what `generate(rows, seed)` makes: as many rows, the first
    of them among them (its id depends on the seed, the row count and the generator)."""
    first = next(generate(rows, seed), None)
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(Entry)).one()
        found = first is None or session.get(Entry, uuid.UUID(str(first[0]))) is not None
    return count == rows and found


def sqlite_database(path: Path, rows: int, seed: int, reload: bool) -> Loaded:
    url = f"sqlite:///{path}"
    if path.exists() and not reload:
        engine = make_engine(url)
        migrate(engine)
        if holds(engine, rows, seed):
            return Loaded(engine, None, sqlite3.sqlite_version)
        engine.dispose()
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    migrate(engine)
    start = time.monotonic()
    load_sqlite(engine, path, generate(rows, seed))
    return Loaded(engine, time.monotonic() - start, sqlite3.sqlite_version)


def bind_processor(engine: Engine, column: str) -> Callable[[object], object]:
    """How SQLAlchemy turns a value of this `entry` column into what the database stores."""
    column_type = Entry.__table__.c[column].type  # type: ignore[attr-defined]
    process = column_type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    if process is None:
        raise RuntimeError(f"entry.{column} has no bind processor on {engine.dialect.name}")
    return process  # type: ignore[no-any-return]


def load_sqlite(engine: Engine, path: Path, rows: Iterable[EntryRow]) -> None:
    """executemany in big transactions, in the very formats SQLAlchemy stores for the hub."""
    at = bind_processor(engine, "occurred_at")
    sample = uuid.uuid4()
    if bind_processor(engine, "event_id")(sample) != sample.hex:
        raise RuntimeError("SQLAlchemy no longer stores a UUID as 32 hex digits in SQLite")
    placeholders = ", ".join("?" for _ in COLUMNS)
    insert = f"INSERT INTO entry ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        for batch in batches(rows, BATCH):
            conn.executemany(insert, [(*r[:8], at(r[8]), *r[9:]) for r in batch])
            conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def postgres_admin(url: str) -> Engine | None:
    """An engine on the server's admin database, or None when no server answers."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError:
        engine.dispose()
        return None
    return engine


def postgres_database(admin: Engine, rows: int, seed: int, reload: bool) -> Loaded:
    url = admin.url.set(database=BENCH_DATABASE)
    url_text = url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": BENCH_DATABASE}
        ).first()
        version = str(conn.execute(text("SHOW server_version")).scalar_one())
    if exists and not reload:
        engine = make_engine(url_text)
        migrate(engine)
        if holds(engine, rows, seed):
            return Loaded(engine, None, version)
        engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{BENCH_DATABASE}"'))
    engine = make_engine(url_text)
    migrate(engine)
    start = time.monotonic()
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    load_postgres(conninfo, generate(rows, seed))
    return Loaded(engine, time.monotonic() - start, version)


def load_postgres(conninfo: str, rows: Iterable[EntryRow]) -> None:
    """COPY in one transaction, then VACUUM ANALYZE, as autovacuum would after such a load."""
    with psycopg.connect(conninfo) as conn:
        statement = f"COPY entry ({', '.join(COLUMNS)}) FROM STDIN"
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE entry")


def entry_indexes(engine: Engine) -> list[str]:
    """The indexes on `entry` that the queries ran with (the primary key's aside), with any
    PostgreSQL operator class: `credential_ref varchar_pattern_ops`, say."""
    described = []
    for index in inspect(engine).get_indexes("entry"):
        parts = index.get("expressions") or index["column_names"]
        ops = index.get("dialect_options", {}).get("postgresql_ops", {})
        columns = ", ".join(f"{p} {ops[p]}" if p in ops else str(p) for p in parts)
        described.append(f"{index['name']}({columns})")
    return sorted(described)
