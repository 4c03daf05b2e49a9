"""The MQTT link's rules without a broker: the reconnect back-off and which refusals are final."""

from __future__ import annotations

import random
import statistics
from collections import Counter

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from anju.mqtt import Backoff, MqttError, refused_for_good


def test_the_window_doubles_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=30.0)
    assert [backoff.ceiling(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.ceiling(10_000) == 30  # no overflow after a very long outage


def test_every_delay_lies_in_its_window() -> None:
    backoff = Backoff(base_s=0.5, cap_s=20.0)
    rng = random.Random(7)
    for attempt in range(12):
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(0.0 <= d <= backoff.ceiling(attempt) for d in delays)
        assert max(delays) > 0.9 * backoff.ceiling(attempt)  # the whole window is used
        assert min(delays) < 0.1 * backoff.ceiling(attempt)


def test_clients_that_lost_the_broker_together_come_back_spread_out() -> None:
    """500 edges, each with its own random source, after the same broker restart: their first
    retries spread over the whole first window, and later ones over theirs, rather than all
    at one instant as paho's own schedule (1, 2, 4 ... s for everyone) would have them."""
    backoff = Backoff(base_s=1.0, cap_s=30.0)
    edges = [random.Random(seed) for seed in range(500)]
    for attempt, window in [(0, 1.0), (3, 8.0), (6, 30.0)]:
        delays = [backoff.delay(attempt, rng) for rng in edges]
        tenths = Counter(int(d / window * 10) for d in delays)
        assert len(tenths) == 10 and max(tenths.values()) < 80  # about 50 in each tenth
        assert statistics.pstdev(delays) == pytest.approx(window / 12**0.5, rel=0.15)


def test_a_nonsense_back_off_is_refused() -> None:
    with pytest.raises(MqttError):
        Backoff(base_s=0.0)
    with pytest.raises(MqttError):
        Backoff(base_s=10.0, cap_s=1.0)


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
