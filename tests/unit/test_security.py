from __future__ import annotations

import pytest

from hub import audit
from hub.core.security import SecretBox, SecretError, pin_digest, token_digest


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
