"""A lane's screen over real HTTP: the edge's `LaneDisplay` against the panel controller of
`firmware_mocks.display`. What a lane decided or asks reaches the panel, never who someone
is; a slow or absent panel holds up no lane (the newest message wins); bad messages are
refused by the panel and change nothing. (A whole edge showing its ANPR decisions on the
panel is in tests/e2e/test_gates.py.)"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from edge.config import DisplaySection, EdgeSettings
from edge.decide import Verdict
from edge.display import LaneDisplay, Shown, for_face, for_verdict
from edge.faces.pipeline import FaceOutcome
from firmware_mocks.display import Panel, http_server
from harness.processes import free_port, wait_until
from models.events import Credential, Decision, Method, Outcome, Subject, SubjectKind


class RunningPanel:
    def __init__(self, delay_s: float = 0.0, port: int = 0) -> None:
        self.panel = Panel(delay_s)
        self.server = http_server(self.panel, "127.0.0.1", port)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/display"

    def shown(self) -> list[dict[str, str | None]]:
        return list(self.panel.state()["shown"])  # type: ignore[call-overload]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def panel() -> Iterator[RunningPanel]:
    running = RunningPanel()
    yield running
    running.stop()


def _verdict(
    method: Method, kind: SubjectKind, subject: str | None, ref: str | None = None, code: str = ""
) -> Verdict:
    outcome = Outcome.DENIED if code else Outcome.GRANTED
    return Verdict(
        Subject(kind=kind, id=subject),
        Credential(method=method, reference=ref),
        Decision(outcome=outcome, reason_code=code or "registered", reason="as decided"),
    )


def _plate(number: str, granted: bool = True) -> Shown:
    kind = SubjectKind.RESIDENT if granted else SubjectKind.UNKNOWN
    code = "" if granted else "plate_unknown"
    return for_verdict(_verdict(Method.PLATE, kind, None, number, code), opened=granted)


def _display(url: str) -> LaneDisplay:
    display = LaneDisplay(DisplaySection(gate_id="north", lane="car-in", url=url, timeout_s=1))
    display.start()
    return display


def test_a_plate_decision_reaches_the_panel(panel: RunningPanel) -> None:
    display = _display(panel.url)
    try:
        display.show(_plate("粤B12345", granted=False), now=0.0)
        wait_until(lambda: len(panel.shown()) == 1, 5, "the panel")
    finally:
        display.stop()
    [shown] = panel.shown()
    assert shown == {
        "kind": "denied",
        "zh": "禁止通行，请联系岗亭",
        "en": "No entry: please ask the guard",
        "plate": "粤B12345",
    }


def test_the_same_message_is_not_repeated_but_a_new_one_is(panel: RunningPanel) -> None:
    display = _display(panel.url)
    closer = for_face(FaceOutcome(1, "come_closer"))
    assert closer is not None
    try:
        for now in (0.0, 0.1, 0.2):  # a prompt on every frame
            display.show(closer, now)
            wait_until(lambda: len(panel.shown()) == 1, 5, "the first prompt")
        display.show(closer, 3.0)  # still there seconds later: said again
        wait_until(lambda: len(panel.shown()) == 2, 5, "the prompt again")
        verdict = _verdict(Method.FACE, SubjectKind.RESIDENT, "p-17")
        display.show(for_verdict(verdict, opened=True), 3.1)
        wait_until(lambda: len(panel.shown()) == 3, 5, "the verdict")
    finally:
        display.stop()
    kinds = [s["kind"] for s in panel.shown()]
    assert kinds == ["come_closer", "come_closer", "granted"]
    assert all("p-17" not in str(s) for s in panel.shown())  # a screen shows no one's identity


def test_a_slow_panel_gets_the_newest_message_and_holds_up_no_lane() -> None:
    slow = RunningPanel(delay_s=0.5)
    display = _display(slow.url)
    try:
        for number in ("京A00001", "京A00002", "京A00003", "京A00004"):
            display.show(_plate(number), now=0.0)
        assert slow.shown() == []  # each show() returned before the panel answered once
        wait_until(lambda: any(s["plate"] == "京A00004" for s in slow.shown()), 5, "the panel")
        time.sleep(0.6)  # nothing more is on its way
    finally:
        display.stop()
        slow.stop()
    plates = [s["plate"] for s in slow.shown()]
    assert plates[-1] == "京A00004" and len(plates) <= 2  # the first, perhaps, then the newest


def test_a_panel_that_goes_away_and_comes_back_shows_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    display = _display(f"http://127.0.0.1:{port}/display")  # nothing listens there yet

    def failures() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "edge.display"]

    try:
        display.show(_plate("京A12345"), now=0.0)  # fails, logged with its traceback
        wait_until(lambda: bool(failures()), 10, "the failed send logged")
        assert failures()[0].levelno == logging.WARNING and failures()[0].exc_info is not None
        panel = RunningPanel(port=port)
        try:
            display.show(_plate("京A12346"), now=0.1)
            wait_until(lambda: len(panel.shown()) == 1, 5, "the panel back")
            assert panel.shown()[0]["plate"] == "京A12346"
        finally:
            panel.stop()
    finally:
        display.stop()


def test_a_verdict_is_not_replaced_by_a_prompt(panel: RunningPanel) -> None:
    closer = for_face(FaceOutcome(2, "come_closer"))
    assert closer is not None
    display = _display(panel.url)
    try:
        display.show(_plate("京A12345"), now=10.0)
        display.show(closer, now=10.0)  # another face, the same frame: the verdict stays
        wait_until(lambda: len(panel.shown()) == 1, 5, "the verdict")
        display.show(closer, now=11.0)  # still held
        display.show(closer, now=13.5)  # past the hold
        wait_until(lambda: len(panel.shown()) == 2, 5, "the prompt")
    finally:
        display.stop()
    assert [s["kind"] for s in panel.shown()] == ["granted", "come_closer"]


def test_the_panel_refuses_what_it_cannot_show(panel: RunningPanel) -> None:
    for body in (
        b"not json",
        b'{"kind": "granted", "zh": "", "en": "x"}',
        b'{"kind": "granted", "zh": "a", "en": "b", "name": "x"}',
        b'{"zh": "a", "en": "b"}',
    ):
        assert httpx.post(panel.url, content=body).status_code == 400
    assert panel.shown() == []


def test_what_each_verdict_and_prompt_shows() -> None:
    visitor = for_verdict(_verdict(Method.QR, SubjectKind.VISITOR, "pass-1"), opened=True)
    assert (visitor.kind, visitor.zh, visitor.plate) == ("granted", "访客，请通行", None)
    resident = _verdict(Method.PLATE, SubjectKind.RESIDENT, "p-1", "京A12345")
    stuck = for_verdict(resident, opened=False)  # granted, but the barrier did not open
    assert (stuck.kind, stuck.plate) == ("denied", "京A12345")
    unknown_face = for_verdict(
        _verdict(Method.FACE, SubjectKind.UNKNOWN, "pseudonym-9", code="face_unknown"), False
    )
    assert unknown_face.kind == "unknown" and "card" in unknown_face.en
    unclear = _verdict(Method.FACE, SubjectKind.UNKNOWN, None, code="face_unusable")
    assert for_verdict(unclear, False) == unknown_face  # the other ways in, as for a stranger
    card = _verdict(Method.CARD, SubjectKind.UNKNOWN, None, "4242", "card_unknown")
    refused = for_verdict(card, opened=False)
    assert (refused.kind, refused.plate) == ("denied", None)  # a card number is not shown
    closer = for_face(FaceOutcome(1, "come_closer"))
    assert closer is not None and closer.zh == "请靠近"
    assert for_face(FaceOutcome(1, "admitted", person_id="p-17", granted=True)) is None


def _settings(**fields: object) -> EdgeSettings:
    base = {"edge_id": "e1", "compound_id": "c1", "signing_key": "k.pem", "registry_path": "r.db"}
    return EdgeSettings.model_validate(base | fields)


def test_one_screen_for_a_lane_that_exists_at_a_url_that_parses() -> None:
    reader = {
        "type": "wiegand_tcp",
        "listen_port": 0,
        "gate_id": "g",
        "lane": "l",
        "direction": "in",
    }
    screen = {"gate_id": "g", "lane": "l", "url": "http://127.0.0.1:1/display"}
    assert len(_settings(readers=[reader], displays=[screen]).displays) == 1
    with pytest.raises(ValidationError, match="one display for each"):
        _settings(readers=[reader], displays=[screen, screen])
    with pytest.raises(ValidationError, match="no reader or camera serves"):
        _settings(readers=[reader], displays=[screen | {"lane": "other"}])
    with pytest.raises(ValidationError, match="not a URL"):
        _settings(readers=[reader], displays=[screen | {"url": "http://panel:abc/display"}])
