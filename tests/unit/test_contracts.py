from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from models.errors import (
    BadSignature,
    ContractError,
    InvalidBody,
    MalformedPayload,
    PayloadTooLarge,
    UnknownVersion,
)
from models.events import EntryEvent
from models.signing import (
    MAX_PAYLOAD_BYTES,
    generate_key,
    load_public_key,
    open_envelope,
    public_key_pem,
    seal,
    verify,
)
from models.topics import Topics
from tests import factories


def test_sealed_event_round_trips_and_verifies() -> None:
    key = generate_key()
    event = factories.entry()
    received = verify(open_envelope(seal(event, key)), key.public_key())
    assert received == event


def test_alarm_round_trips() -> None:
    key = generate_key()
    event = factories.alarm()
    assert verify(open_envelope(seal(event, key)), key.public_key()) == event


def test_public_key_pem_round_trips() -> None:
    key = generate_key()
    public = load_public_key(public_key_pem(key))
    verify(open_envelope(seal(factories.entry(), key)), public)


def _tampered(payload: bytes, **changes: object) -> bytes:
    envelope = json.loads(payload)
    envelope.update(changes)
    return json.dumps(envelope).encode()


def test_edited_body_fails_verification() -> None:
    key = generate_key()
    payload = seal(factories.entry(), key)
    body = json.loads(json.loads(payload)["body"])
    body["decision"]["outcome"] = "denied"
    forged = _tampered(payload, body=json.dumps(body))
    with pytest.raises(BadSignature):
        verify(open_envelope(forged), key.public_key())


def test_other_edges_key_fails_verification() -> None:
    payload = seal(factories.entry(), generate_key())
    with pytest.raises(BadSignature):
        verify(open_envelope(payload), generate_key().public_key())


def test_garbage_signature_fails_verification() -> None:
    key = generate_key()
    forged = _tampered(seal(factories.entry(), key), sig="not base64!")
    with pytest.raises(BadSignature):
        verify(open_envelope(forged), key.public_key())


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"{not json", MalformedPayload),
        (b"\xff\xfe", MalformedPayload),
        (b"[1, 2]", MalformedPayload),
        (b'{"v": 1, "edge_id": "e"}', MalformedPayload),
        (b'{"v": 99, "edge_id": "e", "body": "{}", "sig": ""}', UnknownVersion),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), PayloadTooLarge),
    ],
)
def test_bad_envelopes_are_rejected_with_their_reason(payload: bytes, error: type) -> None:
    with pytest.raises(error):
        open_envelope(payload)


def test_signed_body_of_wrong_shape_is_invalid_body() -> None:
    key = generate_key()
    body = '{"kind": "entry", "event_id": "nope"}'
    sig = base64.b64encode(key.sign(body.encode())).decode()
    payload = json.dumps({"v": 1, "edge_id": "edge-1", "body": body, "sig": sig}).encode()
    with pytest.raises(InvalidBody):
        verify(open_envelope(payload), key.public_key())


def test_body_must_name_the_envelopes_edge() -> None:
    key = generate_key()
    forged = _tampered(seal(factories.entry(), key), edge_id="edge-2")
    with pytest.raises(InvalidBody):
        verify(open_envelope(forged), key.public_key())


def test_occurred_at_must_carry_a_timezone_and_is_stored_as_utc() -> None:
    event = factories.entry()
    data = event.model_dump()
    data["occurred_at"] = datetime(2026, 1, 1, 8, 0)
    with pytest.raises(ValidationError):
        EntryEvent.model_validate(data)
    data["occurred_at"] = datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    assert EntryEvent.model_validate(data).occurred_at.utcoffset() == timedelta(0)
    assert EntryEvent.model_validate(data).occurred_at.hour == 0


def test_seq_starts_at_one() -> None:
    with pytest.raises(ValidationError):
        factories.position(seq=0)


def test_topics_are_built_and_parsed_from_one_prefix() -> None:
    topics = Topics("anju")
    topic = topics.events("c1", "edge-1")
    assert topic == "anju/c1/edge/edge-1/events"
    parsed = topics.parse(topic)
    assert (parsed.compound_id, parsed.edge_id, parsed.channel) == ("c1", "edge-1", "events")
    assert topics.confirm("c1", "edge-1").endswith("/confirm")
    assert topics.all_events() == "anju/+/edge/+/events"


@pytest.mark.parametrize("segment", ["", "a/b", "+", "#"])
def test_topic_segments_cannot_smuggle_wildcards(segment: str) -> None:
    with pytest.raises(ContractError):
        Topics().events(segment, "edge-1")


@pytest.mark.parametrize(
    "topic", ["other/c1/edge/e/events", "anju/c1/edge/e", "anju/c1/x/e/events"]
)
def test_non_edge_topics_do_not_parse(topic: str) -> None:
    with pytest.raises(ContractError):
        Topics("anju").parse(topic)


def test_event_ids_are_uuids() -> None:
    data = factories.entry().model_dump()
    data["event_id"] = "123"
    with pytest.raises(ValidationError):
        EntryEvent.model_validate(data)
    data["event_id"] = str(uuid.uuid4())
    EntryEvent.model_validate(data)


def test_text_fields_refuse_control_characters() -> None:
    data = factories.entry().model_dump()
    data["decision"]["reason"] = "ok\x00then"
    with pytest.raises(ValidationError, match="control characters"):
        EntryEvent.model_validate(data)


def test_a_time_that_overflows_utc_is_a_validation_error() -> None:
    data = factories.entry().model_dump()
    data["occurred_at"] = "0001-01-01T00:00:00+01:00"
    with pytest.raises(ValidationError, match="out of range"):
        EntryEvent.model_validate(data)
