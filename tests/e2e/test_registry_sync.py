"""The registry reaching a running edge, as separate processes: hub → MQTT nudge → HTTPS pull."""

from __future__ import annotations

import time

import pytest

from anju.compound import Compound
from anju.processes import wait_until
from firmware_mocks.card_reader import CardReader, Swipe

pytestmark = pytest.mark.e2e


def _swipe(compound: Compound, card: int) -> str:
    reader = CardReader("127.0.0.1", compound.reader_ports["in"])
    try:
        return reader.present(Swipe(card), give_up_after_s=30).result
    finally:
        reader.close()


def _seconds_until(compound: Compound, card: int, result: str, timeout_s: float = 60) -> float:
    start = time.monotonic()
    wait_until(lambda: _swipe(compound, card) == result, timeout_s, f"card {card} {result}")
    return time.monotonic() - start


def test_changes_and_revocations_reach_a_running_edge(compound: Compound) -> None:
    person = {"id": "p-new", "kind": "resident", "unit_id": "b1-101", "display_name": "新住户"}
    compound.request("POST", "/api/people", json=person)
    compound.request("POST", "/api/people/p-new/cards", json={"id": "card-new", "number": "4001"})
    assert _seconds_until(compound, 4001, "granted") < 10

    compound.request("DELETE", "/api/people/p-new")  # moves out
    assert _seconds_until(compound, 4001, "denied") < 60
    # import (1), person (2), card (3), move-out (4): the edge reports where it is.
    wait_until(
        lambda: compound.get("/api/edges").json()[0]["registry_version"] == 4, 30, "edge status"
    )
    [edge] = compound.get("/api/edges").json()
    assert edge["registry_stale"] is False
    assert edge["registry_age_s"] < 60


def test_a_cut_off_edge_decides_from_its_cache_and_catches_up(compound: Compound) -> None:
    assert compound.hub is not None and compound.edge is not None
    compound.hub.stop()
    assert _swipe(compound, 1001) == "granted"
    compound.edge.stop()
    compound.start_edge()  # restarted while the hub is away: the cache on disk decides
    assert _swipe(compound, 1001) == "granted"
    assert _swipe(compound, 4242) == "denied"

    compound.start_hub()
    compound.request(
        "POST", "/api/people/p-li-wei/cards", json={"id": "card-spare", "number": "4242"}
    )
    assert _seconds_until(compound, 4242, "granted") < 60
