from __future__ import annotations

import pytest

from hub import audit
from hub.core.config import HubSettings
from hub.core.security import (
    PasswordCost,
    SecretBox,
    SecretError,
    hash_password,
    pin_digest,
    token_digest,
    verify_password,
)


def test_secrets_round_trip_and_carry_their_key() -> None:
    box = SecretBox.from_config(SecretBox.generate_key())
    sealed = box.encrypt(b"pepper")
    assert box.decrypt(sealed) == b"pepper"
    assert box.is_current(sealed)
    assert b"pepper" not in sealed


def test_a_tampered_secret_or_a_missing_key_is_refused() -> None:
    box = SecretBox.from_config(SecretBox.generate_key())
    sealed = bytearray(box.encrypt(b"pepper"))
    sealed[-1] ^= 1
    with pytest.raises(SecretError, match="integrity"):
        box.decrypt(bytes(sealed))
    other = SecretBox.from_config(SecretBox.generate_key())
    with pytest.raises(SecretError, match="no configured key"):
        other.decrypt(box.encrypt(b"pepper"))


@pytest.mark.parametrize("config", ["", "not base64!", "c2hvcnQ=", "YWFh,"])
def test_bad_key_configuration_is_a_clear_error(config: str) -> None:
    with pytest.raises(SecretError):
        SecretBox.from_config(config)


def test_pin_digests_depend_on_the_compound_key() -> None:
    assert pin_digest(b"k1", "1234") == pin_digest(b"k1", "1234")
    assert pin_digest(b"k1", "1234") != pin_digest(b"k2", "1234")
    assert "1234" not in pin_digest(b"k1", "1234")
    assert len(token_digest("t")) == 64


def test_a_read_of_many_people_is_audited_in_several_targets_none_cut() -> None:
    people = [f"walkin-20261129-{n:08x}" for n in range(30)]
    targets = audit.targets("gates:waiting", people)
    assert len(targets) > 1
    assert all(len(t) <= audit.TARGET_CHARS for t in targets)
    named = [p for t in targets for p in t.removeprefix("gates:waiting (")[:-1].split(", ")]
    assert named == people
    assert audit.targets("ui:live", []) == ["ui:live"]


def test_production_hashes_passwords_at_argon2ids_full_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tests lower the cost (tests/conftest.py); a hub left at its defaults keeps
    argon2id's own: 64 MiB, 3 passes, 4 lanes. A hash verifies whatever the cost now set."""
    for name in ("ANJU_HUB_PASSWORD_TIME_COST", "ANJU_HUB_PASSWORD_MEMORY_KIB"):
        monkeypatch.delenv(name, raising=False)
    cost = HubSettings(_env_file=None).password_cost()  # type: ignore[call-arg]
    assert cost == PasswordCost(time_cost=3, memory_kib=65536, parallelism=4)
    full = hash_password("correct horse battery", cost)
    assert full.startswith("$argon2id$") and "$m=65536,t=3,p=4$" in full
    cheap = hash_password("correct horse battery", PasswordCost(time_cost=1, memory_kib=32))
    assert "$m=32,t=1,p=4$" in cheap
    assert verify_password("correct horse battery", full)
    assert verify_password("correct horse battery", cheap)
    assert not verify_password("wrong horse battery", cheap)


def test_the_tests_run_at_the_lowest_argon2_cost() -> None:
    assert HubSettings().password_cost() == PasswordCost(time_cost=1, memory_kib=32)
