"""Chaos: faults injected one after another while a gate's traffic flows, then the delivery
invariant: every event the edge generated is in the hub exactly once.

The faults, drawn at random with a seed: kill -9 of the edge, of the broker or of the hub
(each started again), a clean broker restart, the network between the edge and the broker
cut for one to three seconds (through a relay on loopback), and, where a small disk can be
mounted (root), the edge's disk filled up and freed again. After each fault the run waits
for the traffic to flow again, so the next fault hits a working compound.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from firmware_mocks.network import Link
from harness.broker import Mosquitto
from harness.compound import Compound
from harness.invariant import check, hub_rows
from harness.processes import Child
from harness.traffic import Traffic, settle


class Fault(StrEnum):
    KILL_EDGE = "kill -9 edge"
    KILL_BROKER = "kill -9 broker"
    RESTART_BROKER = "broker restart"
    KILL_HUB = "kill -9 hub"
    CUT_LINK = "network cut"
    FILL_DISK = "edge disk full"


@dataclass
class ChaosReport:
    faults: int
    by_kind: dict[str, int]
    events: int
    answered: int
    lost: int
    duplicates: int
    unexpected: int
    answered_while_full: int
    unaccounted: int
    disk_faults_possible: bool
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Chaos:
    def __init__(self, workdir: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.broker = Mosquitto(workdir / "broker", max_queued_messages=200)
        disk = workdir / "edge-disk"
        self.disk = disk if mount_tmpfs(disk, "64m") else None
        self.link: Link | None = None
        self.workdir = workdir

    def kinds(self) -> list[Fault]:
        return [f for f in Fault if f is not Fault.FILL_DISK or self.disk is not None]

    def run(self, faults: int, progress: Callable[[str], None]) -> ChaosReport:
        started = time.monotonic()
        self.broker.start()
        self.link = Link(("127.0.0.1", self.broker.port)).start()
        compound = Compound(
            self.workdir / "compound",
            self.broker.url,
            resend_after_s=2.0,
            edge_mqtt_url=f"mqtt://127.0.0.1:{self.link.port}",
            outbox_dir=self.disk,
        )
        done: Counter[str] = Counter()
        while_full = 0
        try:
            compound.prepare()
            compound.start_hub()
            compound.start_edge()
            with Traffic(compound, interval_s=0.02) as traffic:
                traffic.wait_for(10)
                for n in range(faults):
                    fault = self.rng.choice(self.kinds())
                    progress(f"fault {n + 1}/{faults}: {fault}")
                    before = len(traffic.answers)
                    self.inject(fault, compound)
                    if fault is Fault.FILL_DISK:  # these swipes may have had no event
                        while_full += len(traffic.answers) - before
                    done[fault.value] += 1
                    traffic.wait_for(len(traffic.answers) + 3, timeout_s=120)
            stream = settle(compound, timeout_s=300)
            verdict = check([stream], hub_rows(compound.database_url))
        finally:
            compound.stop()
            self.close()
        return ChaosReport(
            faults=sum(done.values()),
            by_kind=dict(done),
            events=verdict.generated,
            answered=len(traffic.answers),
            lost=verdict.lost,
            duplicates=verdict.duplicates,
            unexpected=verdict.unexpected,
            answered_while_full=while_full,
            # Every answered swipe is an event, but those answered while the disk was full.
            unaccounted=max(0, len(traffic.answers) - while_full - verdict.generated),
            disk_faults_possible=self.disk is not None,
            problems=verdict.problems[:20],
            seconds=round(time.monotonic() - started, 1),
        )

    def inject(self, fault: Fault, compound: Compound) -> None:
        pause = self.rng.uniform(0.5, 2.0)
        if fault is Fault.KILL_EDGE:
            _child(compound.edge).kill()
            compound.start_edge()
        elif fault is Fault.KILL_HUB:
            _child(compound.hub).kill()
            time.sleep(pause)
            compound.start_hub()
        elif fault in (Fault.KILL_BROKER, Fault.RESTART_BROKER):
            self.broker.kill() if fault is Fault.KILL_BROKER else self.broker.stop()
            time.sleep(pause)
            self.broker.start()
        elif fault is Fault.CUT_LINK:
            assert self.link is not None
            self.link.cut()
            time.sleep(pause + 1.0)
            self.link.restore()
        else:
            assert self.disk is not None
            filler = fill_disk(self.disk)
            time.sleep(pause)
            filler.unlink()

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
        self.broker.stop()
        umount = shutil.which("umount")
        if self.disk is not None and umount:
            subprocess.run([umount, "-l", str(self.disk)], check=False)  # noqa: S603 - our path


def _child(child: Child | None) -> Child:
    if child is None:
        raise RuntimeError("the compound's process is not running")
    return child


def mount_tmpfs(path: Path, size: str) -> bool:
    """A small disk at `path`, where this process may mount one (root): True when mounted."""
    path.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    if mount is None:
        return False
    command = [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    result = subprocess.run(command, capture_output=True, check=False)  # noqa: S603 - our path
    return result.returncode == 0


def fill_disk(path: Path) -> Path:
    """Fill the disk under `path` to the last byte; the file to delete to free it."""
    filler = path / "filler"
    with filler.open("wb", buffering=0) as handle:  # nothing left to flush at close
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError:
            pass  # the disk is full: that is the fault
    return filler
