"""`python -m bench.chaos --faults 100 --json FILE`: faults in a row while a gate's traffic
flows (harness/chaos.py: kill -9 of the edge, the broker and the hub, broker restarts, network
cuts between the edge and the broker, the edge's disk filling where a tmpfs can be mounted),
then the invariant: every event generated is in the hub exactly once. Keys: `faults`,
`events`, `lost`, `duplicates` (targets: faults >= 100, lost 0, duplicates 0)."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.common import Row, base_parser, machine, print_table, write_json
from harness.chaos import Chaos


def main(argv: list[str] | None = None) -> int:
    parser = base_parser("python -m bench.chaos", __doc__)
    parser.add_argument("--faults", type=int, default=100)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="anju-chaos-") as tmp:
        report = Chaos(Path(tmp), args.seed).run(args.faults, lambda s: print(f"… {s}"))
    results: dict[str, object] = {**asdict(report), "seed": args.seed, "machine": machine()}
    print_table(
        f"bench.chaos: {report.faults} faults in {report.seconds:.0f} s",
        [
            Row("faults", report.faults, "", f">= {args.faults}", report.faults >= args.faults),
            Row("events", report.events, "events"),
            Row("lost", report.lost, "events", "0", report.lost == 0),
            Row("duplicates", report.duplicates, "events", "0", report.duplicates == 0),
            Row("unexpected", report.unexpected, "events", "0", report.unexpected == 0),
            Row("unaccounted", report.unaccounted, "swipes", "0", report.unaccounted == 0),
            *(Row(kind, n, "faults") for kind, n in sorted(report.by_kind.items())),
        ],
    )
    for problem in report.problems:
        print(f"  ! {problem}")
    write_json(args.json, results)
    if not report.disk_faults_possible:
        print("  (no tmpfs could be mounted: the disk-full fault was left out; run as root)")
    failed = report.lost + report.duplicates + report.unexpected + report.unaccounted
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
