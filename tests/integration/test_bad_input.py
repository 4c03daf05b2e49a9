"""Bad input gets a clear 4xx and nothing breaks: text that is not Unicode, bodies larger
than their route takes (refused before parsing), days outside the calendar the hub keeps,
control and bidi-override characters in free text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.entry_log import _cell
from hub.limits import MAX_BODY_BYTES
from tests.integration.conftest import HubHttp

pytestmark = pytest.mark.integration


def test_a_lone_surrogate_is_refused_not_a_server_error(hub_http: HubHttp) -> None:
    raw = b'{"username": "\\ud800", "password": "x"}'
    anonymous = hub_http.anonymous()
    answer = anonymous.post(
        "/api/auth/login", content=raw, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert anonymous.get("/healthz").status_code == 200


def test_a_body_over_its_routes_limit_is_refused_before_parsing(hub_http: HubHttp) -> None:
    anonymous = hub_http.anonymous()
    big = b'{"username": "' + b"a" * (50 * 1024 * 1024) + b'", "password": "x"}'
    declared = anonymous.post(
        "/api/auth/login", content=big, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.headers["x-frame-options"] == "DENY"

    def chunks() -> Iterator[bytes]:  # no length declared: counted as it comes
        for _ in range(3):
            yield b"x" * MAX_BODY_BYTES

    streamed = anonymous.post("/api/auth/login", content=chunks())
    assert streamed.status_code == 413
    # A face enrolment's photos are larger than that, and are let through to the route.
    staff = hub_http.client("staff")
    photos = {"consent": {"minor": False, "given_by": "self"}, "photos": ["A" * 3_000_000]}
    assert staff.post("/api/people/p-none/face", json=photos).status_code == 404


def test_days_outside_the_calendar_are_a_422(hub_http: HubHttp) -> None:
    staff = hub_http.client("staff")
    for params in ({"last": "0001-01-01"}, {"first": "9999-12-31"}, {"first": "1999-12-31"}):
        assert staff.get("/api/zero-incident", params=params).status_code == 422, params
    assert staff.get("/api/zero-incident", params={"last": "2026-12-01"}).status_code == 200


@pytest.mark.parametrize(
    "name", ["王\x00芳", "王\x85芳", "王\u202e芳", "王\u2066芳", "\x7f王芳"], ids=repr
)
def test_control_and_bidi_override_characters_are_refused_in_text(
    hub_http: HubHttp, name: str
) -> None:
    staff = hub_http.client("staff")
    body = {"id": "p-ctl", "kind": "resident", "unit_id": "c1-101", "display_name": name}
    assert staff.post("/api/people", json=body).status_code == 422


def test_ordinary_text_is_taken(hub_http: HubHttp) -> None:
    staff = hub_http.client("staff")
    body = {"id": "p-ok", "kind": "resident", "unit_id": "c1-101", "display_name": "王芳\u200f"}
    assert staff.post("/api/people", json=body).status_code == 201


@pytest.mark.parametrize("text", ["=1+1", " =1+1", "\t=1+1", "  @SUM(A1)", "\r-2", "+3"])
def test_the_export_defuses_a_formula_behind_spaces_and_tabs(text: str) -> None:
    assert _cell(text) == "'" + text


def test_the_export_leaves_ordinary_text_alone() -> None:
    assert _cell("粤B 12345") == "粤B 12345" and _cell(None) == ""
