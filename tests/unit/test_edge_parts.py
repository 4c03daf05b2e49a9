from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from anju.mqtt import BrokerAddress, MqttError
from edge.config import load_settings
from edge.decide import CardEvidence, Context, Evidence, GateRules, PinEvidence, Verdict, decide
from edge.errors import ConfigError
from edge.ledger import Ledger
from edge.registry import RegistryCache
from harness.compound import DEFAULT_PEOPLE
from models.events import Direction, Outcome, SubjectKind
from models.pins import pin_digest
from models.registry import CardRecord, Change, Op, PersonRecord, PinRecord, RegistryDelta
from tests.factories import registry_snapshot

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def _registry() -> RegistryCache:
    cache = RegistryCache("c1")
    cache.apply(registry_snapshot("c1", DEFAULT_PEOPLE))
    return cache


def test_a_registered_card_opens_and_names_its_holder() -> None:
    verdict = _decide(CardEvidence("1001"), _registry(), NOW)
    assert verdict.granted
    assert (verdict.subject.kind, verdict.subject.id) == (SubjectKind.RESIDENT, "p-wang-fang")


def test_an_unknown_card_is_denied_with_a_reason() -> None:
    verdict = _decide(CardEvidence("4242"), _registry(), NOW)
    assert verdict.decision.outcome is Outcome.DENIED
    assert verdict.decision.reason_code == "card_unknown"
    assert verdict.subject.kind is SubjectKind.UNKNOWN


def test_an_expired_card_is_denied() -> None:
    cache = _registry()
    card = CardRecord(
        id="c-x", person_id="p-li-wei", number="777", valid_until=NOW - timedelta(days=1)
    )
    cache.apply(
        RegistryDelta(
            compound_id="c1",
            from_version=1,
            to_version=2,
            changes=[Change(op=Op.UPSERT, record_kind="card", id="c-x", record=card)],
        )
    )
    assert _decide(CardEvidence("777"), cache, NOW).decision.reason_code == "card_expired"


def test_a_deleted_person_no_longer_opens() -> None:
    cache = _registry()
    cache.apply(
        RegistryDelta(
            compound_id="c1",
            from_version=1,
            to_version=2,
            changes=[Change(op=Op.DELETE, record_kind="person", id="p-wang-fang")],
        )
    )
    assert _decide(CardEvidence("1001"), cache, NOW).decision.reason_code == "person_unknown"
    assert cache.version == 2


def test_a_delta_that_skips_versions_is_refused() -> None:
    cache = _registry()
    delta = RegistryDelta(compound_id="c1", from_version=5, to_version=6, changes=[])
    with pytest.raises(ValueError, match="starts at 5"):
        cache.apply(delta)


def test_an_upsert_must_carry_its_record() -> None:
    with pytest.raises(ValueError, match="carries the record"):
        Change(op=Op.UPSERT, record_kind="person", id="p-1")
    person = PersonRecord(id="p-2", subject_kind=SubjectKind.RESIDENT)
    with pytest.raises(ValueError, match="carries the record"):
        Change(op=Op.UPSERT, record_kind="person", id="p-1", record=person)


def _write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(
        'edge_id = "e1"\ncompound_id = "c1"\nsigning_key = "k.pem"\nregistry_path = "r.json"\n'
        + extra,
        encoding="utf-8",
    )
    return path


def test_config_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    settings = load_settings(_write_config(tmp_path, '[outbox]\npath = "data/o.sqlite"\n'))
    assert settings.signing_key == tmp_path / "k.pem"
    assert settings.outbox.path == tmp_path / "data/o.sqlite"


@pytest.mark.parametrize(
    "extra",
    [
        "typo_key = 1\n",
        "[outbox]\ncapacity = 0\n",
        "[mqtt]\nport = 1883\n",
        "edge_id = 'a b'\n",
        '[[gates]]\nid = "g1"\nschedules = {staff = ["9 to 5"]}\n',
        '[[gates]]\nid = "g1"\nschedules = {courier = ["09:00-17:00"]}\n',
        '[[gates]]\nid = "g1"\n[[gates]]\nid = "g1"\n',
        '[[gates]]\nid = "g1"\nfail_mode = "open"\n',
        '[[gates]]\nid = "g1"\n[gates.driver]\ntype = "modbus_tcp"\nport = 502\n',
        'timezone = "Mars/Olympus"\n',
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, extra: str) -> None:
    with pytest.raises(ConfigError, match=r"edge\.toml"):
        load_settings(_write_config(tmp_path, extra))


def test_unparseable_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text("edge_id = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(path)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANJU_EDGE_MQTT__URL", "mqtt://broker.example:1884")
    config = _write_config(tmp_path, '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\ntopic_prefix = "x"\n')
    settings = load_settings(config)
    assert settings.mqtt.url == "mqtt://broker.example:1884"
    assert settings.mqtt.topic_prefix == "x"


def test_broker_urls_parse_with_credentials() -> None:
    address = BrokerAddress.from_url("mqtt://edge-1:s3cret@10.0.0.2:8883")
    assert (address.host, address.port, address.username) == ("10.0.0.2", 8883, "edge-1")
    assert "s3cret" not in repr(address)
    with pytest.raises(MqttError):
        BrokerAddress.from_url("http://10.0.0.2")


@pytest.mark.parametrize(("fallback", "code"), [("deny", "registry_stale"), ("guard", "ask_guard")])
def test_a_stale_registry_follows_the_cards_fallback(fallback: str, code: str) -> None:
    verdict = _decide(CardEvidence("1001"), _registry(), NOW, fallback)
    assert verdict.decision.reason_code == code
    assert not verdict.granted
    assert _decide(CardEvidence("1001"), _registry(), NOW, "allow").granted


def test_the_cache_survives_a_restart_on_disk(tmp_path: Path) -> None:
    cache = _registry()
    cache.save(tmp_path / "registry.json")
    again = RegistryCache.load(tmp_path / "registry.json", "c1")
    assert again.version == cache.version
    assert again.card("1001") == cache.card("1001")
    assert again.age_s(now=again.synced_at or 0) == 0


def test_a_delta_for_another_compound_is_refused() -> None:
    with pytest.raises(ValueError, match="compound"):
        _registry().apply(RegistryDelta(compound_id="c2", from_version=0, to_version=1, changes=[]))


@pytest.mark.expect_error_log("edge.registry")  # the damaged snapshot, said
def test_a_damaged_snapshot_is_moved_aside_and_the_cache_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text('{"v": 1, "compound_id": "c1", "from_ver')  # cut short by a power loss
    cache = RegistryCache.load(path, "c1")
    assert (cache.version, cache.synced_at) == (0, None)
    assert not path.exists()
    assert len(list(tmp_path.glob("registry.damaged-*"))) == 1


def test_the_snapshot_on_disk_is_private(tmp_path: Path) -> None:
    _registry().save(tmp_path / "registry.json")
    assert (tmp_path / "registry.json").stat().st_mode & 0o077 == 0


def _with_pin(digest: str) -> RegistryCache:
    cache = _registry()
    pin = PinRecord(id="pin-1", person_id="p-li-wei", digest=digest)
    cache.apply(
        RegistryDelta(
            compound_id="c1",
            from_version=1,
            to_version=2,
            changes=[Change(op=Op.UPSERT, record_kind="pin", id="pin-1", record=pin)],
        )
    )
    return cache


def test_a_registered_pin_opens_and_an_unknown_one_does_not() -> None:
    key = b"compound-key"
    cache = _with_pin(pin_digest(key, "482913"))
    verdict = _decide(PinEvidence(pin_digest(key, "482913")), cache, NOW)
    assert verdict.granted
    assert verdict.subject.id == "p-li-wei"
    wrong = _decide(PinEvidence(pin_digest(key, "111111")), cache, NOW)
    assert wrong.decision.reason_code == "pin_unknown"
    other_key = _decide(PinEvidence(pin_digest(b"other", "482913")), cache, NOW)
    assert not other_key.granted


def _decide(
    evidence: Evidence, registry: RegistryCache, now: datetime, fallback: str = "allow"
) -> Verdict:
    fallbacks = None if fallback == "allow" else {"card": fallback, "pin": fallback}
    rules = GateRules("g1", Direction.IN)
    return decide(evidence, Context(registry, rules, now, fallbacks=fallbacks))  # type: ignore[arg-type]


def test_the_ledger_takes_the_last_pass_entry_once(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    assert ledger.take_entry("p1", 2) and ledger.take_entry("p1", 2)
    assert not ledger.take_entry("p1", 2)
    ledger.note_entries("p2", 3)  # the hub's count
    assert ledger.pass_entries("p2") == 3
    assert not ledger.take_entry("p2", 3)
    ledger.close()


def test_a_guard_command_is_carried_out_once_even_across_restarts(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    assert ledger.first_time("cmd-1")
    assert not ledger.first_time("cmd-1")
    ledger.close()
    assert not Ledger(tmp_path / "ledger.sqlite").first_time("cmd-1")


@pytest.mark.expect_error_log("edge.registry")  # the damaged snapshot, said
def test_a_sealed_snapshot_is_unreadable_without_its_key(tmp_path: Path) -> None:
    key = bytes(range(32))
    cache = _registry()
    cache.sealing_key = key
    path = tmp_path / "registry.json"
    cache.save(path)
    assert b"1001" not in path.read_bytes()  # the card numbers are not on disk in clear
    assert RegistryCache.load(path, "c1", key).card("1001") is not None
    stranger = RegistryCache.load(path, "c1", bytes(32))  # another key: moved aside, empty
    assert stranger.version == 0 and stranger.synced_at is None
    assert list(tmp_path.glob("registry.damaged-*"))
