"""The gate controller and its drivers against the barrier-controller mock, a separate process
speaking HTTP and Modbus-TCP: every alarm path, the vehicle loop, fire, and the watchdog."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge.config import GateSection, HttpRelaySection, ModbusSection
from edge.drivers import make_driver
from edge.gate import GateController
from harness.hardware import BarrierController, start_barrier
from harness.processes import free_port, wait_until
from models.events import Severity


@dataclass
class Alarms:
    raised: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, gate_id: str, code: str, severity: Severity, text: str) -> None:
        self.raised.append((gate_id, code))

    def codes(self) -> list[str]:
        return [code for _, code in self.raised]


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BarrierController]:
    # Channel 0: an egress door, fail-secure. Channel 1: a vehicle barrier, fail-safe.
    logs = tmp_path_factory.mktemp("barrier")
    barrier = start_barrier(
        logs, channels=2, egress="0", fail_safe="1", barrier="1", travel_s=0.1, watchdog_s=1.0
    )
    yield barrier
    barrier.stop()


def _section(
    controller: BarrierController, protocol: str, channel: int, **rules: object
) -> GateSection:
    driver: HttpRelaySection | ModbusSection
    if protocol == "http":
        driver = HttpRelaySection(url=controller.http_url, channel=channel)
    else:
        driver = ModbusSection(host="127.0.0.1", port=controller.modbus_port, channel=channel)
    defaults: dict[str, object] = {"open_s": 0.4, "confirm_s": 0.5, "held_open_s": 0.6}
    kind = "barrier" if channel == 1 else "door"
    return GateSection(
        id=f"g{channel}", kind=kind, egress=channel == 0, driver=driver, **{**defaults, **rules}
    )


@pytest.fixture(params=["http", "modbus"])
def gate_factory(
    request: pytest.FixtureRequest, controller: BarrierController
) -> Iterator[Callable[..., tuple[GateController, Alarms]]]:
    made: list[GateController] = []

    def make(channel: int = 0, **rules: object) -> tuple[GateController, Alarms]:
        for ch in range(2):  # a clean world for each test
            controller.world.act(ch, loop=False, propped=False, forced=False, jammed=False)
        controller.world.act(0, fire=False, faulty_reads=False)
        wait_until(lambda: _closed(controller, channel), 5, "the gate closed")
        alarms = Alarms()
        section = _section(controller, request.param, channel, **rules)
        gate = GateController(section, make_driver(section.driver), alarms)  # type: ignore[arg-type]
        gate.start()
        made.append(gate)
        time.sleep(3 * section.poll_s)  # the gate has seen itself closed
        return gate, alarms

    yield make
    for gate in made:
        gate.stop()


def _closed(controller: BarrierController, channel: int) -> bool:
    return not controller.world.peek()["open"][channel]


def _opened(controller: BarrierController, channel: int) -> bool:
    return controller.world.peek()["open"][channel]


def test_a_grant_opens_confirms_and_closes_without_alarm(gate_factory, controller) -> None:
    gate, alarms = gate_factory(0)
    assert gate.grant()
    wait_until(lambda: _opened(controller, 0), 2, "the door open")
    controller.world.act(0, passages=1)
    wait_until(lambda: _closed(controller, 0), 3, "the door closed again")
    time.sleep(0.2)
    assert alarms.codes() == []


def test_more_passages_than_grants_is_tailgating(gate_factory, controller) -> None:
    gate, alarms = gate_factory(0)
    gate.grant()
    wait_until(lambda: _opened(controller, 0), 2, "the door open")
    controller.world.act(0, passages=2)
    wait_until(lambda: "tailgating" in alarms.codes(), 2, "the tailgating alarm")
    assert alarms.codes().count("tailgating") == 1


def test_two_grants_in_one_cycle_let_two_through(gate_factory, controller) -> None:
    gate, alarms = gate_factory(0)
    gate.grant()
    gate.grant()
    controller.world.act(0, passages=2)
    wait_until(lambda: _closed(controller, 0), 3, "the door closed again")
    time.sleep(0.2)
    assert "tailgating" not in alarms.codes()


def test_a_door_forced_open_alarms(gate_factory, controller) -> None:
    _gate, alarms = gate_factory(0)
    controller.world.act(0, forced=True)
    wait_until(lambda: "door_forced" in alarms.codes(), 2, "the forced-door alarm")
    controller.world.act(0, forced=False)


def test_a_door_propped_open_after_a_grant_alarms_held_open(gate_factory, controller) -> None:
    gate, alarms = gate_factory(0)
    gate.grant()
    wait_until(lambda: _opened(controller, 0), 2, "the door open")
    controller.world.act(0, propped=True, passages=1)
    wait_until(lambda: "door_held_open" in alarms.codes(), 3, "the held-open alarm")
    assert "door_forced" not in alarms.codes()
    controller.world.act(0, propped=False)


def test_a_gate_that_does_not_move_alarms(gate_factory, controller) -> None:
    """A jammed door: the relay clicks, the door contact never changes."""
    gate, alarms = gate_factory(0, confirm_s=0.3)
    controller.world.act(0, jammed=True)
    try:
        gate.grant()
        wait_until(lambda: "gate_not_opened" in alarms.codes(), 2, "the not-opened alarm")
    finally:
        controller.world.act(0, jammed=False)


def test_the_barrier_stays_up_while_a_vehicle_is_on_the_loop(gate_factory, controller) -> None:
    gate, alarms = gate_factory(1, open_s=0.2)
    # The car is on the loop before the barrier opens: put there after it opened, it could
    # come too late on a busy machine, the barrier already down again after open_s.
    controller.world.act(1, loop=True)
    gate.grant()
    wait_until(lambda: _opened(controller, 1), 10, "the barrier up")
    time.sleep(0.8)  # long past open_s
    assert _opened(controller, 1)
    assert "grant" in gate.released
    controller.world.act(1, loop=False, passages=1)
    wait_until(lambda: _closed(controller, 1), 3, "the barrier down once the loop cleared")
    assert alarms.codes() == []


def test_fire_releases_egress_gates_even_without_the_edge(controller) -> None:
    """No gate controller at all: the controller releases its egress channel by itself."""
    controller.world.act(0, fire=True)
    try:
        wait_until(lambda: _opened(controller, 0), 2, "the egress door released")
        assert _closed(controller, 1)  # not an egress gate
    finally:
        controller.world.act(0, fire=False)
        controller.world.status()  # the edge-side request that re-arms the watchdog
    wait_until(lambda: _closed(controller, 0), 3, "the door closed after the fire")


def test_fire_is_followed_by_the_edge_too_and_alarmed(gate_factory, controller) -> None:
    gate, alarms = gate_factory(0)
    controller.world.act(0, fire=True)
    wait_until(lambda: "fire_release" in alarms.codes(), 2, "the fire alarm")
    assert "fire" in gate.released
    controller.world.act(0, fire=False)
    wait_until(lambda: "fire_cleared" in alarms.codes(), 2, "the fire cleared")
    wait_until(lambda: _closed(controller, 0), 3, "the door closed")


def test_watchdog_fail_secure_locks_and_fail_safe_releases(controller) -> None:
    """Grant both gates, then lose the edge (no request for 1 s): the fail-secure door
    closes, the fail-safe barrier opens; a new edge puts both back to normal."""
    for channel in (0, 1):
        section = _section(controller, "http", channel, open_s=30)
        gate = GateController(section, make_driver(section.driver), Alarms())  # type: ignore[arg-type]
        gate.grant()  # relay on; and nobody polls: the edge is gone
    wait_until(lambda: controller.world.peek()["relays"] == [False, True], 4, "the safe state")
    wait_until(lambda: _closed(controller, 0) and _opened(controller, 1), 2, "safe positions")
    section = _section(controller, "modbus", 1)
    gate = GateController(section, make_driver(section.driver), Alarms())  # type: ignore[arg-type]
    gate.start()  # a restarted edge takes control back
    try:
        wait_until(lambda: _closed(controller, 1), 3, "the barrier back down")
    finally:
        gate.stop()


def test_a_grant_ends_on_time_even_when_the_inputs_cannot_be_read(gate_factory, controller) -> None:
    """Reads fail but the relay still answers (and the watchdog is fed): the door must not
    stay unlocked past open_s."""
    gate, alarms = gate_factory(0, open_s=0.3)
    controller.world.act(0, faulty_reads=True)
    try:
        assert gate.grant()
        time.sleep(0.9)
        assert controller.world.peek()["relays"][0] is False
        assert "gate_unreachable" in alarms.codes()
    finally:
        controller.world.act(0, faulty_reads=False)


def test_a_relay_that_does_not_answer_alarms_once(tmp_path: Path) -> None:
    section = GateSection(
        id="g9", driver=HttpRelaySection(url=f"http://127.0.0.1:{free_port()}", timeout_s=0.2)
    )
    alarms = Alarms()
    gate = GateController(section, make_driver(section.driver), alarms)  # type: ignore[arg-type]
    assert not gate.grant()
    assert gate.released == frozenset()  # nothing pending: the person was told no
    for _ in range(5):
        gate.step()
    assert alarms.codes().count("relay_unreachable") == 1
    assert alarms.codes().count("gate_unreachable") == 1
