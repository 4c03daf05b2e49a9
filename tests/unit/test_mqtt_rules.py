"""The MQTT link's rules without a broker: which refusals are final."""

from __future__ import annotations

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from anju.mqtt import refused_for_good


@pytest.mark.parametrize(
    ("name", "final"),
    [
        ("Bad user name or password", True),  # 3.1.1 return code 4
        ("Not authorized", True),  # 5
        ("Client identifier not valid", True),  # 2
        ("Bad authentication method", True),  # MQTT 5 only
        ("Server unavailable", False),  # 3: a broker starting up, say
        ("Server busy", False),
        ("Unspecified error", False),
    ],
)
def test_only_refusals_that_retrying_cannot_cure_are_final(name: str, final: bool) -> None:
    assert refused_for_good(ReasonCode(PacketTypes.CONNACK, name)) is final


def test_paho_hands_over_311_return_codes_as_the_codes_we_check() -> None:
    from paho.mqtt.client import convert_connack_rc_to_reason_code  # noqa: PLC0415

    finals = {rc for rc in range(6) if refused_for_good(convert_connack_rc_to_reason_code(rc))}
    assert finals == {2, 4, 5}
