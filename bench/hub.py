"""`python -m bench.hub --json FILE`: the entry-log searches staff run, on a year of entries.

What is measured: `hub.crud.list_entries` itself (through a `sqlmodel.Session` from a pool,
as an HTTP request gets one), from the call to the page of `Entry` objects in hand, on the
hub's real schema (made by its Alembic migrations, nothing added), on two databases:

- SQLite (the embedded default) holding `--rows-sqlite` entries (1,000,000) → `query_p95_ms_1m`;
- PostgreSQL holding `--rows-postgres` entries (10,000,000) → `query_p95_ms_10m`, or null
  when no server answers at `--postgres-url`.

The entries are a year of two compounds (85 % and 15 % of the rows; 6 and 3 gates; 5,000
people; 1,500 residents' vehicles with plates such as 粤B12345, and visitors' cars), by face,
plate, card, QR, PIN and the guard's remote opening, about 93 % granted, busiest at the
morning and evening rush, stored in time order as the hub receives them. They are made with a
fixed seed and kept in `--work-dir` (SQLite) and the database `anju_bench_hub` (PostgreSQL,
replaced when it holds other rows), and reused when they already hold the same rows. SQLite is
left as the hub leaves it (no ANALYZE statistics); PostgreSQL is vacuumed and analysed after
the load, as autovacuum would.

The query mix, parameters drawn with a fixed seed, each a first page of 50 newest first:
`newest` (the plain log), `range_gate` / `range_method` / `range_decision` (one day or one
week, plus a gate, a method or a decision), `plate` (a whole plate), `plate_prefix` (粤B1,
say), `person` (one person's history). A third of them also fetch the next page through the
cursor (kind `…/next`). After a warm-up, p50 and p95 over every page fetched, and per kind.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, make_url
from sqlmodel import Session

from bench.common import Row, base_parser, machine, percentile, print_table, write_json
from bench.hub_data import (
    BENCH_DATABASE,
    DAYS,
    DEFAULT_POSTGRES,
    END,
    LOCAL,
    METHOD_SHARES,
    Loaded,
    Site,
    entry_indexes,
    make_sites,
    postgres_admin,
    postgres_database,
    sqlite_database,
)
from hub import crud

TARGET_MS = 50.0
PAGE = 50

# --- the searches -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    kind: str
    filters: crud.EntryFilter
    next_page: bool


QUERY_SHARES = {
    "newest": 15,
    "range_gate": 15,
    "range_method": 10,
    "range_decision": 10,
    "plate": 15,
    "plate_prefix": 10,
    "person": 25,
}


def time_range(rng: random.Random) -> tuple[datetime, datetime]:
    """One local day or one local week, within the year of data."""
    days = rng.choice((1, 1, 7))
    start = END - LOCAL - timedelta(days=rng.randrange(days, DAYS + 1))
    return start, start + timedelta(days=days)


def draw_filters(rng: random.Random, kind: str, site: Site) -> crud.EntryFilter:
    base = crud.EntryFilter(compound_id=site.compound_id)
    if kind == "newest":
        return base
    if kind.startswith("range_"):
        since, until = time_range(rng)
        ranged = crud.EntryFilter(compound_id=site.compound_id, since=since, until=until)
        if kind == "range_gate":
            return replace(ranged, gate_id=rng.choice(site.gates).gate_id)
        if kind == "range_method":
            return replace(ranged, method=rng.choice(list(METHOD_SHARES)))
        return replace(ranged, outcome="denied" if rng.random() < 0.7 else "granted")
    if kind == "plate":
        pool = site.plates if rng.random() < 0.85 else site.visitor_plates
        return replace(base, plate=rng.choice(pool))
    if kind == "plate_prefix":
        return replace(base, plate_prefix=rng.choice(site.plates)[: rng.choice((3, 4))])
    return replace(base, subject_id=rng.choice(site.people))


def draw_queries(sites: Sequence[Site], seed: int, count: int) -> list[Query]:
    """`count` searches of the data made from `sites`, with parameters drawn from `seed`."""
    rng = random.Random(seed)
    kinds = rng.choices(list(QUERY_SHARES), weights=list(QUERY_SHARES.values()), k=count)
    queries = []
    for kind in kinds:
        site = rng.choices(sites, weights=[s.share for s in sites])[0]
        queries.append(Query(kind, draw_filters(rng, kind, site), rng.random() < 1 / 3))
    return queries


@dataclass(frozen=True)
class Sample:
    kind: str
    ms: float
    rows: int


def run_queries(engine: Engine, queries: Sequence[Query]) -> list[Sample]:
    samples = []
    for query in queries:
        with Session(engine) as session:
            start = time.perf_counter()
            rows, cursor = crud.list_entries(session=session, filters=query.filters, limit=PAGE)
            samples.append(Sample(query.kind, (time.perf_counter() - start) * 1000, len(rows)))
            if query.next_page and cursor is not None:
                start = time.perf_counter()
                rows, _ = crud.list_entries(
                    session=session, filters=query.filters, limit=PAGE, cursor=cursor
                )
                ms = (time.perf_counter() - start) * 1000
                samples.append(Sample(f"{query.kind}/next", ms, len(rows)))
    return samples


@dataclass(frozen=True)
class KindStats:
    count: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    rows_mean: float


def kind_stats(samples: Sequence[Sample]) -> KindStats:
    ms = [s.ms for s in samples]
    return KindStats(
        count=len(samples),
        p50_ms=round(percentile(ms, 50), 2),
        p95_ms=round(percentile(ms, 95), 2),
        max_ms=round(max(ms), 2),
        rows_mean=round(statistics.fmean(s.rows for s in samples), 1),
    )


@dataclass(frozen=True)
class Measured:
    database: str
    version: str
    rows: int
    load_s: float | None
    indexes: list[str]
    overall: KindStats
    kinds: dict[str, KindStats]


def measure(name: str, loaded: Loaded, rows: int, queries: int, warmup: int, seed: int) -> Measured:
    print(f"{name}: {warmup} warm-up and {queries} measured searches…", flush=True)
    sites = make_sites(seed)  # the data's: the same compounds, gates, people and plates
    run_queries(loaded.engine, draw_queries(sites, seed + 1000, warmup))
    samples = run_queries(loaded.engine, draw_queries(sites, seed + 1, queries))
    kinds = sorted({s.kind for s in samples})
    return Measured(
        database=name,
        version=loaded.version,
        rows=rows,
        load_s=None if loaded.load_s is None else round(loaded.load_s, 1),
        indexes=entry_indexes(loaded.engine),
        overall=kind_stats(samples),
        kinds={k: kind_stats([s for s in samples if s.kind == k]) for k in kinds},
    )


# --- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    rows_sqlite: int
    rows_postgres: int
    postgres_url: str
    queries: int
    warmup: int
    seed: int
    work_dir: Path
    reload: bool


def run_sqlite(settings: Settings) -> Measured:
    path = settings.work_dir / f"hub-{settings.rows_sqlite}-seed{settings.seed}.sqlite"
    print(f"sqlite: {settings.rows_sqlite:,} entries in {path}…", flush=True)
    loaded = sqlite_database(path, settings.rows_sqlite, settings.seed, settings.reload)
    try:
        return measure("sqlite", loaded, settings.rows_sqlite, *searches(settings))
    finally:
        loaded.engine.dispose()


def run_postgres(settings: Settings) -> Measured | None:
    if settings.rows_postgres <= 0:
        print("postgresql: skipped (--rows-postgres 0)", flush=True)
        return None
    admin = postgres_admin(settings.postgres_url)
    if admin is None:
        shown = make_url(settings.postgres_url).render_as_string(hide_password=True)
        print(f"postgresql: no server answers at {shown}; skipped", flush=True)
        return None
    print(f"postgresql: {settings.rows_postgres:,} entries in {BENCH_DATABASE}…", flush=True)
    try:
        loaded = postgres_database(admin, settings.rows_postgres, settings.seed, settings.reload)
    finally:
        admin.dispose()
    try:
        return measure("postgresql", loaded, settings.rows_postgres, *searches(settings))
    finally:
        loaded.engine.dispose()


def searches(settings: Settings) -> tuple[int, int, int]:
    return settings.queries, settings.warmup, settings.seed


def results_of(
    sqlite: Measured, postgres: Measured | None, settings: Settings
) -> dict[str, object]:
    def p(measured: Measured | None, key: str) -> float | None:
        return None if measured is None else float(getattr(measured.overall, key))

    return {
        "query_p95_ms_1m": p(sqlite, "p95_ms"),
        "query_p95_ms_10m": p(postgres, "p95_ms"),
        "query_p50_ms_1m": p(sqlite, "p50_ms"),
        "query_p50_ms_10m": p(postgres, "p50_ms"),
        "rows_sqlite": sqlite.rows,
        "rows_postgres": None if postgres is None else postgres.rows,
        "load_s_sqlite": sqlite.load_s,
        "load_s_postgres": None if postgres is None else postgres.load_s,
        "queries": settings.queries,
        "page": PAGE,
        "seed": settings.seed,
        "sqlite": asdict(sqlite),
        "postgresql": None if postgres is None else asdict(postgres),
        "machine": machine(),
    }


def summary_rows(measured: Measured, key: str) -> Iterator[Row]:
    name = measured.database
    yield Row(f"{name} rows", measured.rows, "entries")
    if measured.load_s is not None:
        yield Row(f"{name} load_s", measured.load_s, "s")
    yield Row(f"{name} p50", measured.overall.p50_ms, "ms")
    p95 = measured.overall.p95_ms
    yield Row(key, p95, "ms", f"<= {TARGET_MS:.0f}", p95 <= TARGET_MS)


def print_kinds(measured: Measured) -> None:
    print(f"\n  {measured.database} {measured.version}, by kind of search")
    print(f"  {'kind':<22} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'rows':>6}")
    for kind, stats in measured.kinds.items():
        print(
            f"  {kind:<22} {stats.count:>5} {stats.p50_ms:>8.2f} {stats.p95_ms:>8.2f}"
            f" {stats.max_ms:>8.2f} {stats.rows_mean:>6.1f}"
        )
    print(f"  indexes: {', '.join(measured.indexes)}")


def main(argv: list[str] | None = None) -> int:
    parser = base_parser("python -m bench.hub", __doc__)
    parser.add_argument("--rows-sqlite", type=int, default=1_000_000, help="entries in SQLite")
    parser.add_argument(
        "--rows-postgres", type=int, default=10_000_000, help="entries in PostgreSQL (0: skip)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("ANJU_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help=f"a server's admin database; the benchmark creates {BENCH_DATABASE} beside it",
    )
    parser.add_argument("--queries", type=int, default=400, help="measured searches per database")
    parser.add_argument("--warmup", type=int, default=50, help="searches run first, not measured")
    parser.add_argument("--seed", type=int, default=7, help="of the data and of the searches")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "anju-bench-hub",
        help="where the SQLite database is kept between runs",
    )
    parser.add_argument("--reload", action="store_true", help="regenerate the data even if kept")
    args = parser.parse_args(argv)
    settings = Settings(
        args.rows_sqlite,
        args.rows_postgres,
        args.postgres_url,
        args.queries,
        args.warmup,
        args.seed,
        args.work_dir,
        args.reload,
    )
    sqlite = run_sqlite(settings)
    postgres = run_postgres(settings)
    rows = list(summary_rows(sqlite, "query_p95_ms_1m"))
    if postgres is not None:
        rows += summary_rows(postgres, "query_p95_ms_10m")
    print_table(f"bench.hub: entry-log searches, {machine()['cpus']} cpus", rows)
    for measured in (sqlite, postgres):
        if measured is not None:
            print_kinds(measured)
    write_json(args.json, results_of(sqlite, postgres, settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
