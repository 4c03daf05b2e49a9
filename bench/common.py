"""What every benchmark shares: the machine it ran on, a printed table, a JSON file."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    name: str
    value: float | int
    unit: str
    target: str = ""
    met: bool | None = None


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }


def number(results: dict[str, object], key: str) -> float:
    value = results[key]
    if not isinstance(value, int | float):
        raise TypeError(f"{key} is not a number")
    return float(value)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1])


def print_table(title: str, rows: Sequence[Row]) -> None:
    print(f"\n{title}")
    width = max([26, *(len(row.name) for row in rows)])
    print(f"  {'metric':<{width}} {'value':>12} {'unit':<8} {'target':<12} ok")
    for row in rows:
        if isinstance(row.value, float):
            value = f"{row.value:.4f}" if abs(row.value) < 1 else f"{row.value:,.1f}"
        else:
            value = f"{row.value:,}"
        ok = "" if row.met is None else ("yes" if row.met else "NO")
        print(f"  {row.name:<{width}} {value:>12} {row.unit:<8} {row.target:<12} {ok}")


def write_json(path: Path | None, results: dict[str, object]) -> None:
    if path is not None:
        path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"\nwrote {path}")


def base_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser
