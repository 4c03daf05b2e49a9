"""The registry reaching a running edge, as separate processes: hub → MQTT nudge → HTTPS pull."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from firmware_mocks.card_reader import CardReader, Swipe
from harness.broker import Mosquitto
from harness.compound import Compound
from harness.processes import wait_until
from tests.pki import make_pki

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


def test_an_edge_syncs_from_a_hub_on_https_with_the_bundles_ca(
    tmp_path: Path, broker: Mosquitto, topic_prefix: str
) -> None:
    """provision-edge --hub-ca puts the compound's CA in the bundle; the edge then pulls its
    registry over HTTPS, and a card added later reaches it."""
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    with Compound(tmp_path / "c", broker.url, topic_prefix=topic_prefix, hub_tls=pki) as compound:
        compound.prepare()
        assert 'ca_file = "hub-ca.pem"' in (compound.edge_dir / "edge.toml").read_text()
        compound.start_hub()
        compound.start_edge()  # waits for the first registry pull, over HTTPS
        assert compound.hub_url.startswith("https://")
        person = {"id": "p-tls", "kind": "resident", "unit_id": "b1-101", "display_name": "T"}
        compound.request("POST", "/api/people", json=person)
        card = {"id": "card-tls", "number": "4101"}
        compound.request("POST", "/api/people/p-tls/cards", json=card)
        assert _seconds_until(compound, 4101, "granted") < 30


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


def test_a_pin_set_on_the_hub_opens_at_the_gate_and_is_never_sent(compound: Compound) -> None:
    compound.request("POST", "/api/people/p-li-wei/pins", json={"id": "pin-li", "pin": "482913"})

    def enter(pin: str) -> str:
        reader = CardReader("127.0.0.1", compound.reader_ports["in"])
        try:
            return reader.enter_pin(pin)
        finally:
            reader.close()

    wait_until(lambda: enter("482913") == "granted", 30, "the PIN to reach the edge")
    assert enter("000000") == "denied"
    wait_until(
        lambda: sum(e["method"] == "pin" for e in compound.all_entries()) >= 2, 30, "PIN events"
    )
    pin_entries = [e for e in compound.all_entries() if e["method"] == "pin"]
    assert {e["outcome"] for e in pin_entries} == {"granted", "denied"}
    assert all(e["credential_ref"] is None for e in pin_entries)
    snapshot = compound.edge_registry()
    assert "pin-li" in snapshot and "482913" not in snapshot
    assert b"pin-li" not in (compound.edge_dir / "registry.json").read_bytes()  # encrypted


def test_pin_guessing_pauses_pins_at_that_reader_and_raises_an_alarm(compound: Compound) -> None:
    compound.request("POST", "/api/people/p-li-wei/pins", json={"id": "pin-li", "pin": "482913"})
    reader = CardReader("127.0.0.1", compound.reader_ports["in"])
    try:
        wait_until(lambda: reader.enter_pin("482913") == "granted", 30, "the PIN at the edge")
        assert [reader.enter_pin(f"00000{n}") for n in range(5)] == ["denied"] * 5
        assert reader.enter_pin("482913") == "denied"  # paused, even for the right PIN
        assert reader.present(Swipe(1002)).result == "granted"  # cards still work
    finally:
        reader.close()
    engine = create_engine(compound.database_url)
    try:
        wait_until(lambda: _alarms(engine) == ["pin_guessing"], 30, "the alarm at the hub")
    finally:
        engine.dispose()


def _alarms(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT code FROM alarm"))]


def test_a_duress_pin_opens_and_raises_a_silent_alarm(compound: Compound) -> None:
    pin = {"id": "pin-duress", "pin": "911911", "duress": True}
    compound.request("POST", "/api/people/p-zhang-min/pins", json=pin)
    reader = CardReader("127.0.0.1", compound.reader_ports["in"])
    try:
        wait_until(lambda: reader.enter_pin("911911") == "granted", 30, "the duress PIN")
    finally:
        reader.close()
    engine = create_engine(compound.database_url)
    try:
        wait_until(lambda: "duress" in _alarms(engine), 30, "the silent alarm at the hub")
    finally:
        engine.dispose()

    # Tries before the edge had the new PIN were refused; the entry that opened may reach
    # the hub after the alarm.
    def opened() -> list[dict[str, object]]:
        return [
            e for e in compound.all_entries() if (e["method"], e["outcome"]) == ("pin", "granted")
        ]

    wait_until(lambda: bool(opened()), 30, "the duress entry at the hub")
    [entry] = opened()
    assert (entry["reason_code"], entry["flags"]) == ("pin_valid", "")  # looks ordinary
