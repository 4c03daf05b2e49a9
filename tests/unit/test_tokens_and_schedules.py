from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from edge.schedules import Window
from models.signing import generate_key
from models.tokens import (
    MAX_TOKEN_CHARS,
    ForgedToken,
    GateCommand,
    PassToken,
    TokenError,
    off_clock,
    sign_token,
    verify_token,
)

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
KEY = generate_key()


def _pass() -> PassToken:
    return PassToken(
        pass_id="pass-1",
        compound_id="c1",
        valid_from=NOW,
        valid_until=NOW + timedelta(hours=4),
        max_entries=1,
        plate="沪B67890",
        issued_at=NOW,
        registry_version=7,
    )


def test_a_pass_token_round_trips_and_fits_a_qr_code() -> None:
    token = sign_token(_pass(), KEY)
    assert verify_token(token, PassToken, KEY.public_key()) == _pass()
    assert token.isascii() and len(token) < 400


def test_a_token_signed_by_another_key_is_forged() -> None:
    with pytest.raises(ForgedToken):
        verify_token(sign_token(_pass(), generate_key()), PassToken, KEY.public_key())


def test_a_pass_cannot_be_replayed_as_a_command() -> None:
    token = sign_token(_pass(), KEY)
    as_command = token.replace("AJ1.pass.", "AJ1.cmd.", 1)
    with pytest.raises(TokenError):
        verify_token(token, GateCommand, KEY.public_key())
    with pytest.raises(ForgedToken):  # relabelled: the kind is under the signature
        verify_token(as_command, GateCommand, KEY.public_key())


@pytest.mark.parametrize(
    "text",
    ["", "AJ1", "AJ1.pass.x", "AJ1.pass.!!.??", "AJ2.pass.a.b", "x" * (MAX_TOKEN_CHARS + 1)],
)
def test_malformed_tokens_are_clear_errors(text: str) -> None:
    with pytest.raises(TokenError):
        verify_token(text, PassToken, KEY.public_key())


def test_a_command_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        GateCommand(
            command_id=uuid.uuid4(),
            compound_id="c1",
            edge_id="e1",
            gate_id="g1",
            action="open",
            reason="",
            issued_by="guard",
            issued_at=NOW,
        )


@pytest.mark.parametrize(("offset_s", "fresh"), [(0, True), (30, True), (31, False), (-31, False)])
def test_a_hubs_token_to_an_edge_is_taken_for_30_s_either_side_of_the_edges_clock(
    offset_s: float, fresh: bool
) -> None:
    command = GateCommand(
        command_id=uuid.uuid4(),
        compound_id="c1",
        edge_id="e1",
        gate_id="g1",
        action="open",
        reason="resident confirmed",
        issued_by="guard",
        issued_at=NOW,
    )
    stale = off_clock(command, NOW + timedelta(seconds=offset_s))
    assert (stale is None) is fresh
    if not fresh:
        assert stale == "issued 31 s off this edge's clock"


@pytest.mark.parametrize(
    ("window", "moment", "inside"),
    [
        ("07:00-21:00", "2026-11-28 07:00", True),
        ("07:00-21:00", "2026-11-28 21:00", False),  # the end is exclusive
        ("mon-fri 07:00-21:00", "2026-11-28 10:00", False),  # a Saturday
        ("mon-fri 07:00-21:00", "2026-11-27 10:00", True),
        ("sat-sun 08:00-12:00", "2026-11-29 09:00", True),
        ("fri-mon 08:00-12:00", "2026-11-30 09:00", True),  # wraps past Sunday
        ("22:00-06:00", "2026-11-28 23:30", True),
        ("22:00-06:00", "2026-11-28 05:59", True),
        ("22:00-06:00", "2026-11-28 12:00", False),
        ("fri 22:00-06:00", "2026-11-28 03:00", True),  # Friday night, Saturday morning
        ("sat 22:00-06:00", "2026-11-28 03:00", False),
        ("07:00-24:00", "2026-11-28 23:59", True),
    ],
)
def test_schedule_windows(window: str, moment: str, inside: bool) -> None:
    assert Window.parse(window).contains(datetime.fromisoformat(moment)) is inside


@pytest.mark.parametrize("text", ["7-21", "mon-xyz 07:00-21:00", "25:00-26:00", "08:00-08:00"])
def test_bad_schedules_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"schedule|day|time"):
        Window.parse(text)
