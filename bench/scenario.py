"""`python -m bench.scenario --json FILE`: a simulated day at full size, through the whole
compound, compared with its ground truth.

`firmware_mocks.scenario` plans the day (500 residents, 100 visitors, 200 vehicles by
default, faults, planted anomalies) and its truth; `harness.scenario` plays it through the card
reader and ANPR mocks, a real edge and hub, and a private Mosquitto, then reads the hub's
hourly occupancy and its anomalies. Keys: `occupancy_error` (people and vehicles, summed
absolute difference from the truth at each of the day's 25 hours), `planted_anomalies`,
`found_anomalies`, `false_anomalies`; targets 0, N, N, 0.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

from bench.common import Row, base_parser, machine, print_table, write_json
from firmware_mocks.scenario import CI_SIZE, ZONE, Size, generate
from harness.broker import Mosquitto
from harness.scenario import run


def main(argv: list[str] | None = None) -> int:
    parser = base_parser("python -m bench.scenario", __doc__)
    parser.add_argument("--residents", type=int, default=Size.residents)
    parser.add_argument("--visitors", type=int, default=Size.visitors)
    parser.add_argument("--vehicles", type=int, default=Size.vehicles)
    parser.add_argument("--staff", type=int, default=Size.staff)
    parser.add_argument("--ci", action="store_true", help="the CI size (40 residents)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    size = CI_SIZE if args.ci else Size(args.residents, args.visitors, args.vehicles, args.staff)
    day = datetime.now(ZONE).date() - timedelta(days=2)
    plan = generate(size, day=day, seed=args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="anju-scenario-") as tmp:
        workdir = Path(tmp)
        broker = Mosquitto(workdir / "broker").start()
        try:
            report = run(plan, workdir / "compound", broker.url, lambda s: print(f"… {s}"))
        finally:
            broker.stop()
    results: dict[str, object] = {
        **asdict(report),
        "size": asdict(size),
        "seed": args.seed,
        "day": day.isoformat(),
        "total_s": round(time.monotonic() - started, 1),
        "machine": machine(),
    }
    planted = report.planted_anomalies
    print_table(
        f"A simulated day ({size.residents} residents, {size.visitors} visitors,"
        f" {size.vehicles} vehicles; {report.actions} reads)",
        [
            Row(
                "occupancy_error",
                report.occupancy_error,
                "people",
                "0",
                report.occupancy_error == 0,
            ),
            Row("planted_anomalies", planted, "cases"),
            Row(
                "found_anomalies",
                report.found_anomalies,
                "cases",
                f"{planted}",
                report.found_anomalies == planted,
            ),
            Row(
                "false_anomalies", report.false_anomalies, "cases", "0", report.false_anomalies == 0
            ),
            Row("withdrawn_anomalies", report.withdrawn_anomalies, "cases"),
            Row(
                "events stored",
                report.events_stored,
                "events",
                f"{report.events_expected}",
                report.events_stored == report.events_expected,
            ),
            Row(
                "offline hour, late",
                report.offline_events_late,
                "events",
                f"{report.offline_events}",
            ),
            Row(
                "unexpected answers",
                len(report.unexpected_answers),
                "reads",
                "0",
                not report.unexpected_answers,
            ),
            Row("play time", report.play_s, "s"),
        ],
    )
    for line in [*report.missed, *report.false, *report.unexpected_answers][:20]:
        print(f"  ! {line}")
    write_json(args.json, results)
    ok = report.occupancy_error == 0 and report.false_anomalies == 0
    return 0 if ok and report.found_anomalies == planted else 1


if __name__ == "__main__":
    raise SystemExit(main())
