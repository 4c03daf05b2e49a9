"""One gate under the edge's control: its open cycles, and the alarms its sensors raise.

A grant holds the relay for `open_s` (each further grant extends it); a barrier with a vehicle
on its loop is held open until the loop clears. The gate must report open within `confirm_s`
(`gate_not_opened`); more passages on the beam than grants in one open cycle is `tailgating`;
open without a release is `door_forced`; still open `held_open_s` after the release is
`door_held_open`; a relay that does not answer is `relay_unreachable`.

The fire alarm releases an egress gate here too, but that is the second line: the controller
releases its egress channels by itself (see `firmware_mocks.barrier`), whether or not the edge
is alive. Likewise a controller whose watchdog stops hearing from the edge puts each relay in
its safe state; at start the edge writes every relay back to its normal state (locked), so a
fail-secure gate left open by a crash is closed by the watchdog, then by the restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.config import GateSection
from edge.drivers import GateDriver, GateInputs
from edge.errors import DriverError
from models.events import Severity

logger = logging.getLogger(__name__)

AlarmSink = Callable[[str, str, Severity, str], None]  # gate_id, code, severity, text
UNREACHABLE_AFTER = 3  # failed polls in a row


@dataclass
class _Cycle:
    """From the first grant's relay command to the gate closed again."""

    started: float
    grants: int
    baseline: int
    confirmed: bool = False
    late_reported: bool = False
    tailgating_reported: bool = False


class GateController:
    def __init__(
        self,
        section: GateSection,
        driver: GateDriver,
        alarm: AlarmSink,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.section = section
        self._driver = driver
        self._alarm_sink = alarm
        self._clock = clock
        self._lock = threading.RLock()
        self._release: set[str] = set()  # grant, fire, emergency
        self._grant_until = 0.0
        self._cycle: _Cycle | None = None
        self._last: GateInputs | None = None
        self._failures = 0
        self._held_since: float | None = None
        self._held_reported = False
        self._holding_for_vehicle = False
        self._relay_failing = False
        self._stopped = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gate-{section.id}", daemon=True)

    @property
    def id(self) -> str:
        return self.section.id

    def start(self) -> None:
        """Take control: the relay back to its normal state (unless the fire alarm is on)."""
        self._check_left_on()
        self.step()
        self._thread.start()

    def stop(self) -> None:
        """Lock the gate (unless the fire alarm holds it) and refuse any later command."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            self._stopped = True
            self._release.discard("grant")
            self._release.discard("emergency")
            self._set_relay(bool(self._release))
        self._driver.close()

    def grant(self) -> bool:
        """Open for one more person or vehicle; False when the relay did not take it, in
        which case nothing is left pending: the person was told no, the gate stays shut."""
        with self._lock:
            if self._stopped:
                return False
            if not self._set_relay(True):
                return False
            now = self._clock()
            self._release.add("grant")
            self._grant_until = now + self.section.open_s
            if self._cycle is None:
                baseline = self._last.passages if self._last is not None else self._passages()
                self._cycle = _Cycle(started=now, grants=1, baseline=baseline)
            else:
                self._cycle.grants += 1
            return True

    def emergency(self, active: bool) -> bool:
        """Hold the gate open (an emergency override) until called with False."""
        with self._lock:
            if self._stopped:
                return False
            if active:
                self._release.add("emergency")
            else:
                self._release.discard("emergency")
            return self._set_relay(bool(self._release))

    @property
    def released(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._release)

    def step(self) -> None:
        """One look at the gate's inputs, and what follows from them."""
        with self._lock:
            now = self._clock()
            try:
                inputs = self._driver.read()
            except DriverError as exc:
                self._unreachable(exc)
                self._blind(now)
                return
            if self._failures >= UNREACHABLE_AFTER:
                logger.info("gate %s answers again", self.id)
            self._failures = 0
            self._fire(inputs)
            self._expire_grant(now, inputs)
            if inputs.relay != bool(self._release):
                self._set_relay(bool(self._release))
            self._watch_cycle(now, inputs)
            self._watch_door(now, inputs)
            self._last = inputs

    def _blind(self, now: float) -> None:
        """The inputs cannot be read: a grant still ends on time, and the relay is told so.
        (A barrier's controller keeps it up while its loop is occupied, by itself.)"""
        if "grant" in self._release and now >= self._grant_until:
            self._release.discard("grant")
        if not self._release:
            self._set_relay(False)

    def _check_left_on(self) -> None:
        """At start: a relay found on was left so by a crash (or released by the watchdog)."""
        try:
            inputs = self._driver.read()
        except DriverError:
            return
        if not inputs.relay or (inputs.fire and self.section.egress):
            return
        if self.section.fail_mode == "secure":
            text = "Relay found on at start on a fail-secure gate; locking it."
            self._alarm("relay_left_on", Severity.CRITICAL, text)
        else:
            text = "Released by the controller while the edge was away; locking it again."
            self._alarm("released_while_away", Severity.WARNING, text)

    def _run(self) -> None:
        while not self._stopping.wait(self.section.poll_s):
            try:
                self.step()
            except Exception:  # the gate's watch must outlive any one bad reading
                logger.exception("gate %s: step failed", self.id)

    # ------------------------------------------------------------------------------ rules

    def _fire(self, inputs: GateInputs) -> None:
        if not self.section.egress:
            return
        if inputs.fire and "fire" not in self._release:
            self._release.add("fire")
            self._alarm("fire_release", Severity.CRITICAL, "Fire alarm: egress gate released.")
        elif not inputs.fire and "fire" in self._release:
            self._release.discard("fire")
            self._alarm("fire_cleared", Severity.INFO, "Fire alarm cleared: gate back in service.")

    def _expire_grant(self, now: float, inputs: GateInputs) -> None:
        if "grant" not in self._release or now < self._grant_until:
            return
        if self.section.kind == "barrier" and inputs.loop:
            if not self._holding_for_vehicle:
                logger.info("gate %s: held open for a vehicle on the loop", self.id)
            self._holding_for_vehicle = True
            return
        self._holding_for_vehicle = False
        self._release.discard("grant")

    def _watch_cycle(self, now: float, inputs: GateInputs) -> None:
        cycle = self._cycle
        if cycle is None:
            moved = self._last is not None and inputs.passages != self._last.passages
            if moved and not self._release and self._last is not None:
                passed = (inputs.passages - self._last.passages) % 65536
                text = f"{passed} passage(s) while the gate was not released."
                self._alarm("passage_without_grant", Severity.WARNING, text)
            return
        if inputs.open:
            cycle.confirmed = True
        elif not (cycle.confirmed or cycle.late_reported) and self._late(now, cycle):
            cycle.late_reported = True
            text = f"The gate did not report open within {self.section.confirm_s:g} s."
            self._alarm("gate_not_opened", Severity.WARNING, text)
        passages = (inputs.passages - cycle.baseline) % 65536
        if passages > cycle.grants and not cycle.tailgating_reported:
            cycle.tailgating_reported = True
            text = f"{passages} passages for {cycle.grants} grant(s) in one open cycle."
            self._alarm("tailgating", Severity.WARNING, text)
        if "grant" not in self._release and not inputs.open and (cycle.confirmed or passages):
            self._cycle = None  # closed again: the cycle is over
        elif "grant" not in self._release and cycle.late_reported:
            self._cycle = None  # never opened: nothing more to watch

    def _late(self, now: float, cycle: _Cycle) -> bool:
        return now - cycle.started > self.section.confirm_s

    def _watch_door(self, now: float, inputs: GateInputs) -> None:
        released = bool(self._release)
        if not inputs.open or released:
            self._held_since = None
            self._held_reported = False
            return
        was_open = self._last is None or self._last.open  # open at start-up is not forced
        if self._cycle is None and not was_open and self._held_since is None:
            self._alarm("door_forced", Severity.CRITICAL, "The gate opened without a release.")
        if self._held_since is None:
            self._held_since = now
        elif now - self._held_since > self.section.held_open_s and not self._held_reported:
            self._held_reported = True
            text = f"Open {self.section.held_open_s:g} s after its release."
            self._alarm("door_held_open", Severity.WARNING, text)

    # ------------------------------------------------------------------------------ I/O

    def _set_relay(self, on: bool) -> bool:
        """Command the relay; one alarm per run of failures, however often it is retried."""
        try:
            self._driver.set_relay(on)
        except DriverError as exc:
            if not self._relay_failing:
                what = "open" if on else "close"
                self._alarm("relay_unreachable", Severity.CRITICAL, f"Could not {what}: {exc}")
            self._relay_failing = True
            return False
        self._relay_failing = False
        return True

    @property
    def healthy(self) -> bool:
        """The relay takes commands and the controller answers."""
        return not self._relay_failing and self._failures < UNREACHABLE_AFTER

    def _passages(self) -> int:
        try:
            return self._driver.read().passages
        except DriverError:
            return 0

    def _unreachable(self, exc: DriverError) -> None:
        self._failures += 1
        if self._failures == UNREACHABLE_AFTER:
            self._alarm("gate_unreachable", Severity.CRITICAL, f"No answer from the gate: {exc}")

    def _alarm(self, code: str, severity: Severity, text: str) -> None:
        logger.warning("gate %s: %s: %s", self.id, code, text)
        self._alarm_sink(self.id, code, severity, text)
