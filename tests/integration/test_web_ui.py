"""The web UI over real HTTP: pages, sessions, roles, languages; and in headless Chromium
(Debian's chromium and chromium-driver): log in, the dashboard shows real data, an officer
acknowledges an anomaly with a reason."""

from __future__ import annotations

import html
import queue
import re
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait
from sqlmodel import Session, col, select

from anju.mqtt import BrokerAddress, MqttLink
from hub import crud
from hub.tables import Anomaly, AnomalyAction, AuditRecord, VehicleStay, utcnow
from models.events import Direction, EntryEvent, Method, Outcome, SubjectKind
from models.signing import load_public_key
from models.tokens import GateCommand, verify_token
from models.topics import Topics
from tests import factories
from tests.integration.conftest import PASSWORD, HubHttp

pytestmark = pytest.mark.integration


def seed_day(hub_http: HubHttp) -> None:
    """Two residents and a visitor in, one resident out, a car, three denials of one card."""
    now = utcnow()
    rows = [
        ("r-1", SubjectKind.RESIDENT, Direction.IN, Method.CARD, "1001", Outcome.GRANTED, 300),
        ("r-2", SubjectKind.RESIDENT, Direction.IN, Method.FACE, "r-2", Outcome.GRANTED, 200),
        ("r-1", SubjectKind.RESIDENT, Direction.OUT, Method.CARD, "1001", Outcome.GRANTED, 100),
        ("v-1", SubjectKind.VISITOR, Direction.IN, Method.QR, "pass-1", Outcome.GRANTED, 90),
        (None, SubjectKind.UNKNOWN, Direction.IN, Method.PLATE, "粤B12345", Outcome.GRANTED, 80),
        *[
            (None, SubjectKind.UNKNOWN, Direction.IN, Method.CARD, "777", Outcome.DENIED, m)
            for m in (12, 11, 10)
        ],
    ]
    events = [
        factories.entry(
            factories.position(seq=i + 1),
            subject_id=who,
            kind=kind,
            direction=direction,
            method=method,
            reference=ref,
            outcome=outcome,
            gate_id="north-gate",
            at=now - timedelta(minutes=minutes),
        )
        for i, (who, kind, direction, method, ref, outcome, minutes) in enumerate(rows)
    ]
    with Session(hub_http.engine) as session:
        crud.store_events(session=session, events=events)
        session.commit()


def browser_login(hub_http: HubHttp, role: str, purpose: str = "") -> httpx.Client:
    client = hub_http.anonymous()
    form = {"username": f"c1-{role}", "password": PASSWORD, "purpose": purpose}
    response = client.post("/ui/login", data=form)
    assert response.status_code == 303, response.text
    client.cookies = response.cookies
    return client


def test_pages_need_a_session_and_the_right_role(hub_http: HubHttp) -> None:
    seed_day(hub_http)
    anonymous = hub_http.anonymous()
    assert anonymous.get("/ui/").headers["location"] == "/ui/login"
    staff = browser_login(hub_http, "staff")
    for page in (
        "/ui/",
        "/ui/live",
        "/ui/entries",
        "/ui/anomalies",
        "/ui/incidents",
        "/ui/residents",
    ):
        assert staff.get(page).status_code == 200, page
    resident = browser_login(hub_http, "resident")
    assert resident.get("/ui/anomalies").status_code == 403
    assert resident.get("/ui/entries").status_code == 200
    refused = hub_http.anonymous().post(
        "/ui/login", data={"username": "c1-officer", "password": PASSWORD}
    )
    assert refused.headers["location"] == "/ui/login?error=purpose_needed"
    wrong = hub_http.anonymous().post("/ui/login", data={"username": "c1-staff", "password": "x"})
    assert wrong.headers["location"] == "/ui/login?error=login_refused"
    officer = browser_login(hub_http, "officer", purpose="走访调查：核实访客")
    assert officer.get("/ui/residents").status_code == 200
    officer.cookies.delete("anju_purpose")
    assert officer.get("/ui/entries").headers["location"] == "/ui/login?error=purpose_needed"


def test_the_entry_log_page_filters_explains_and_exports(hub_http: HubHttp) -> None:
    seed_day(hub_http)
    staff = browser_login(hub_http, "staff")
    page = staff.get("/ui/entries", params={"decision": "denied", "lang": "en"}).text
    assert page.count('<tr class="denied">') == 3 and "card_valid" in page
    assert "Entry log" in page
    assert "通行记录" in staff.get("/ui/entries", params={"lang": "zh"}).text
    for bad_params in ({"plate": "NOT-A-PLATE"}, {"since": "garbage"}):
        bad = staff.get("/ui/entries", params=bad_params)
        assert bad.status_code == 200 and 'id="error"' in bad.text
    assert staff.get("/ui/entries.csv", params={"since": "garbage"}).status_code == 422
    csv_text = staff.get("/ui/entries.csv", params={"plate_prefix": "粤B"}).text
    assert csv_text.count("\n") == 2 and "粤B12345" in csv_text


def _a_new_page(driver: WebDriver) -> bool:
    """The page that set `window.anjuOldPage` has been replaced and the new one has loaded.
    (Selenium's staleness_of fails instead of waiting when ChromeDriver, asked about an old
    element mid-navigation, answers "Node with given id does not belong to the document".)"""
    try:
        script = "return window.anjuOldPage === undefined && document.readyState === 'complete'"
        return bool(driver.execute_script(script))
    except WebDriverException:  # between the two documents
        return False


def test_in_chromium_staff_see_real_data_and_an_officer_acknowledges_with_a_reason(
    hub_http: HubHttp, chrome: WebDriver
) -> None:
    seed_day(hub_http)
    api = hub_http.client("staff")
    assert api.post("/api/anomalies/scan").json()["new"] >= 1  # a night entry too, by night
    inside = api.get("/api/occupancy").json()

    def log_in(role: str, purpose: str = "") -> None:
        chrome.get(hub_http.base_url + "/ui/login?lang=en")
        chrome.find_element(By.ID, "username").send_keys(f"c1-{role}")
        chrome.find_element(By.ID, "password").send_keys(PASSWORD)
        chrome.find_element(By.ID, "purpose").send_keys(purpose)
        chrome.find_element(By.ID, "login").click()

    log_in("staff")
    counts = {
        e.get_attribute("data-kind"): int(e.text)
        for e in chrome.find_elements(By.CSS_SELECTOR, "#inside-now .n")
    }
    assert counts == inside["inside"] | {"vehicles": 1}
    assert counts["resident"] == 1 and counts["visitor"] == 1
    assert "north-gate" in chrome.find_element(By.ID, "live").text
    assert chrome.find_elements(By.CSS_SELECTOR, "svg.chart polyline")
    assert "repeated_denials" in chrome.find_element(By.ID, "open-anomalies").text
    chrome.find_element(By.CSS_SELECTOR, "header form button").click()  # log out

    log_in("officer", purpose="monthly visitor review")
    chrome.find_element(By.ID, "nav-anomalies").click()
    case = "//table[@id='anomaly-list']//tr[td[text()='repeated_denials']]//a"
    chrome.find_element(By.XPATH, case).click()
    chrome.find_element(By.ID, "reason").send_keys("called the card holder: lost card")
    chrome.execute_script("window.anjuOldPage = true")
    chrome.find_element(By.ID, "do-acknowledge").click()
    WebDriverWait(chrome, 10).until(_a_new_page)  # the form posts, then the case reloads
    status = chrome.find_element(By.ID, "status")
    assert status.get_attribute("data-status") == "acknowledged"
    assert "called the card holder" in chrome.find_element(By.ID, "history").text

    with Session(hub_http.engine) as session:
        [anomaly] = session.exec(
            select(Anomaly).where(col(Anomaly.rule) == "repeated_denials")
        ).all()
        steps = session.exec(
            select(AnomalyAction).where(col(AnomalyAction.action) == "acknowledge")
        ).all()
        audited = session.exec(
            select(AuditRecord).where(col(AuditRecord.action) == "acknowledge")
        ).all()
    assert anomaly.status == "acknowledged"
    assert [(s.actor, s.reason) for s in steps] == [
        ("c1-officer", "called the card holder: lost card")
    ]
    assert [(a.actor, a.reason) for a in audited] == [("c1-officer", "monthly visitor review")]
    assert re.search(r"\bc1-officer\b", chrome.find_element(By.TAG_NAME, "header").text)


def _refused_at_north(
    hub_http: HubHttp,
    plate: str,
    seq: int,
    direction: Direction = Direction.IN,
    flags: tuple[str, ...] = (),
) -> EntryEvent:
    event = factories.entry(
        factories.position(seq=seq),
        gate_id="north",
        direction=direction,
        subject_id=None,
        kind=SubjectKind.UNKNOWN,
        method=Method.PLATE,
        reference=plate,
        outcome=Outcome.DENIED,
        reason_code="plate_unknown",
        at=utcnow() - timedelta(seconds=20),
        flags=flags,
    )
    with Session(hub_http.engine) as session:
        crud.store_events(session=session, events=[event])
        session.commit()
    return event


def _booth_compound(hub_http: HubHttp, *holders: tuple[str, str]) -> None:
    """Gate "north" in c1, and each (person, plate) a resident of c1-101 with that plate."""
    admin, staff = hub_http.client("admin"), hub_http.client("staff")
    gate = {"id": "north", "name": "北门车道", "kind": "vehicle"}
    assert admin.post("/api/gates", json=gate).status_code == 201
    for person, plate in holders:
        body = {"id": person, "kind": "resident", "unit_id": "c1-101", "display_name": person}
        assert staff.post("/api/people", json=body).status_code == 201
        number = {"id": f"pl-{person}", "number": plate}
        assert staff.post(f"/api/people/{person}/plates", json=number).status_code == 201


def _commands(broker_url: str, topic_prefix: str) -> tuple[MqttLink, queue.Queue[bytes]]:
    received: queue.Queue[bytes] = queue.Queue()
    listener = MqttLink(BrokerAddress.from_url(broker_url), client_id=f"t-{uuid.uuid4().hex[:6]}")
    listener.subscribe(Topics(topic_prefix).command("c1", "edge-1"), lambda t, p: received.put(p))
    listener.start()
    assert listener.wait_connected(10)
    return listener, received


def _reads(hub_http: HubHttp) -> list[str]:
    with Session(hub_http.engine) as session:
        rows = session.exec(
            select(AuditRecord).where(col(AuditRecord.target).startswith("ui:gates"))
        ).all()
    return [r.target for r in rows if r.action == "read"]


def _audits(hub_http: HubHttp) -> list[tuple[str, str]]:
    with Session(hub_http.engine) as session:
        return [(r.action, r.target) for r in session.exec(select(AuditRecord)).all()]


def _stays(hub_http: HubHttp) -> None:
    """Temporary vehicles: 苏E00001 inside for 13 h, 苏E00002 for 1 h, 苏E00003 gone, and
    苏E00004 inside another compound."""
    stays = [
        ("苏E00001", 13, None),
        ("苏E00002", 1, None),
        ("苏E00003", 2, 1),
        ("苏E00004", 1, None),
    ]
    with Session(hub_http.engine) as session:
        for plate, ago, left in stays:
            entered = utcnow() - timedelta(hours=ago)
            session.add(
                VehicleStay(
                    compound_id="c2" if plate == "苏E00004" else "c1",
                    plate=plate,
                    subject_kind="visitor",
                    entry_event_id=uuid.uuid4(),
                    entered_at=entered,
                    entry_gate="north",
                    exit_event_id=None if left is None else uuid.uuid4(),
                    exited_at=None if left is None else entered + timedelta(hours=left),
                )
            )
        session.commit()


def test_the_booth_page_shows_who_waits_and_audits_each_one_shown(hub_http: HubHttp) -> None:
    _booth_compound(hub_http, ("p-gui", "粤ATK071"), ("p-su", "苏E12345"))
    _refused_at_north(hub_http, "皖ATK071", seq=1)  # the reader's 皖 for a 粤 it could not see
    staff = browser_login(hub_http, "staff")
    page = staff.get("/ui/gates", params={"lang": "en"})
    assert page.status_code == 200 and 'id="nav-gates"' in page.text
    assert re.search(r'<a class="may-be" data-holder="p-gui" href="[^"]+">粤ATK071', page.text)
    for _ in range(2):  # the page's refreshes show nothing new: no more records
        assert "皖ATK071" in staff.get("/ui/gates/waiting").text
    assert _reads(hub_http) == ["ui:gates (p-gui, plate:皖ATK071)"]
    pictured = _refused_at_north(hub_http, "苏E12346", seq=2, flags=("snapshot",))
    shown = staff.get("/ui/gates/waiting").text
    assert "苏E12345 · p-su" in shown
    assert shown.count('class="snapshot"') == 1  # the one its edge kept a picture of
    assert f'href="/ui/entries/{pictured.event_id}/snapshot"' in shown
    card = factories.entry(  # someone known, refused at the door: named in the audit too
        factories.position(seq=3),
        gate_id="north",
        subject_id="p-secret",
        reference="card-77",
        outcome=Outcome.DENIED,
        reason_code="outside_schedule",
    )
    with Session(hub_http.engine) as session:
        crud.store_events(session=session, events=[card])
        session.commit()
    assert "p-secret" in staff.get("/ui/gates/waiting").text
    assert _reads(hub_http)[1:] == [
        "ui:gates (p-su, plate:苏E12346)",
        "ui:gates (card:card-77, p-secret)",
    ]
    _stays(hub_http)
    inside = re.findall(r'<tr class="(\w*)"><td>(苏E\d+)</td>', staff.get("/ui/gates").text)
    assert inside == [("", "苏E00002"), ("overdue", "苏E00001")]  # newest first, c1 only
    with Session(hub_http.engine) as session:  # 苏E00002 leaves: its refresh shows it gone
        stay = session.exec(select(VehicleStay).where(VehicleStay.plate == "苏E00002")).one()
        stay.exited_at, stay.exit_event_id = utcnow(), uuid.uuid4()
        session.commit()
    refreshed = staff.get("/ui/gates/inside").text
    assert re.findall(r"<td>(苏E\d+)</td>", refreshed) == ["苏E00001"]
    stays_read = [t for a, t in _audits(hub_http) if t.startswith("ui:vehicles:stays")]
    assert stays_read == ["ui:vehicles:stays", "ui:vehicles:stays (plate:苏E00001, plate:苏E00002)"]
    none = staff.get(f"/ui/entries/{card.event_id}/snapshot", params={"lang": "en"})
    assert none.status_code == 404 and "No snapshot to show" in none.text
    assert ("read", f"snapshot:{card.event_id} (p-secret, card:card-77)") in _audits(hub_http)
    face = factories.entry(  # nobody named, no credential: the record says no more than that
        factories.position(seq=4),
        subject_id=None,
        kind=SubjectKind.UNKNOWN,
        method=Method.FACE,
        reference=None,
        outcome=Outcome.DENIED,
        reason_code="face_unusable",
    )
    with Session(hub_http.engine) as session:
        crud.store_events(session=session, events=[face])
        session.commit()
    assert staff.get(f"/ui/entries/{face.event_id}/snapshot").status_code == 404
    assert ("read", f"snapshot:{face.event_id} (unknown)") in _audits(hub_http)
    officer = browser_login(hub_http, "officer", purpose="走访调查")
    assert officer.get("/ui/gates").status_code == 403
    assert officer.get("/ui/gates/waiting").status_code == 403
    assert 'id="nav-gates"' not in officer.get("/ui/entries").text


def test_the_booth_sends_a_command_for_the_lane_and_holder_chosen(
    hub_http: HubHttp, edge_bundle: Path, broker_url: str, topic_prefix: str
) -> None:
    _booth_compound(hub_http, ("p-gui", "粤ATK071"))
    _refused_at_north(hub_http, "皖ATK071", seq=1, direction=Direction.OUT)  # on its way out
    staff = browser_login(hub_http, "staff")
    page = staff.get("/ui/gates").text
    link = re.search(r'<a class="may-be" data-holder="p-gui" href="([^"]+)">', page)
    assert link, page
    chosen = staff.get(html.unescape(link.group(1)).split("#")[0]).text
    assert '<option value="north" selected>' in chosen and '<option value="out" selected>' in chosen
    assert 'id="subject_id" value="p-gui"' in chosen and "<strong>皖ATK071</strong>" in chosen
    form = {"gate_id": "north", "direction": "out", "subject_id": "p-gui", "plate": "皖ATK071"}
    reason = "called 101: their car, the camera misread 粤"
    listener, received = _commands(broker_url, topic_prefix)
    try:
        for bad, says in (
            ({"action": "open", "reason": "ok"}, "reason (3 characters"),
            ({"reason": reason}, "choose: open or refuse"),  # no action chosen
            ({"action": "emergency_open", "reason": reason}, "choose: open or refuse"),
            ({"action": "open", "reason": reason, "gate_id": "west"}, "no gate west"),
            ({"action": "open", "reason": reason, "subject_id": "p gui"}, "an id holds"),
        ):
            refused = staff.post("/ui/gates/commands", data=form | bad, params={"lang": "en"})
            assert refused.status_code == 303, bad
            assert "direction=out" in refused.headers["location"]  # the form as it was
            assert says in _message(staff, refused), bad
        for header in ({"Sec-Fetch-Site": "same-site"}, {"Origin": "http://127.0.0.1:1"}):
            other = staff.post(
                "/ui/gates/commands",
                data=form | {"action": "open", "reason": reason},
                headers=header,
            )
            assert other.status_code == 403, header
        assert received.empty()
        sent = staff.post("/ui/gates/commands", data=form | {"action": "open", "reason": reason})
        assert sent.status_code == 303 and "edge-1" in _message(staff, sent)
        key = load_public_key((edge_bundle / "issuer-key.pub").read_text())
        command = verify_token(received.get(timeout=10).decode(), GateCommand, key)
    finally:
        listener.stop()
    assert (command.gate_id, command.direction, command.action) == ("north", "out", "open")
    assert (command.subject_id, command.issued_by, command.reason) == ("p-gui", "c1-staff", reason)
    with Session(hub_http.engine) as session:
        opened = session.exec(select(AuditRecord).where(col(AuditRecord.action) == "open")).all()
    assert [(a.target, a.reason) for a in opened] == [("gate:north (for p-gui)", reason)]
    assert staff.post("/ui/gates/commands", data=form).status_code == 303  # still serving
    assert (
        browser_login(hub_http, "officer", purpose="x")
        .post("/ui/gates/commands", data=form | {"action": "open", "reason": reason})
        .status_code
        == 403
    )


def _message(client: httpx.Client, answer: httpx.Response) -> str:
    """The message a form's answer left, as the page it leads to shows it."""
    page = client.get(answer.headers["location"]).text
    found = re.search(r'<p class="message" id="message">(.*?)</p>', page, re.DOTALL)
    return html.unescape(found.group(1)) if found else ""


def test_a_message_is_the_hubs_own_and_is_shown_once(hub_http: HubHttp) -> None:
    _booth_compound(hub_http, ("p-gui", "粤ATK071"))
    staff = browser_login(hub_http, "staff")
    said = "Command sent: open north"
    crafted = staff.get("/ui/gates", params={"msg": said, "lang": "en"})  # a link's words
    assert 'id="message"' not in crafted.text and "Command sent" not in crafted.text
    form = {"gate_id": "north", "direction": "in", "action": "open", "reason": "ok"}
    refused = staff.post("/ui/gates/commands", data=form, params={"lang": "en"})
    assert "msg" not in refused.headers["location"]
    assert staff.get("/ui/gates/waiting").status_code == 200  # a refresh does not take it
    assert 'id="message"' not in staff.get("/ui/").text  # nor another page (another tab)
    assert _message(staff, refused).startswith("Command not sent: give a reason")
    assert 'id="message"' not in staff.get("/ui/gates").text  # once


def test_a_booth_with_no_gate_says_so(hub_http: HubHttp) -> None:
    staff = browser_login(hub_http, "staff")
    page = staff.get("/ui/gates", params={"lang": "en"}).text
    assert 'id="no-gates"' in page and 'id="command-form"' not in page


def test_the_live_lists_refresh_as_often_as_the_hub_is_configured_to(hub_http: HubHttp) -> None:
    staff = browser_login(hub_http, "staff")
    assert hub_http.settings.ui_poll_s == 0.5  # production's default is 5 s
    for page in ("/ui/", "/ui/gates"):
        assert 'src="/ui/static/live.js" data-poll-ms="500"' in staff.get(page).text


def test_in_chromium_a_guard_sees_a_refused_plate_arrive_and_opens_for_its_holder(
    hub_http: HubHttp, chrome: WebDriver, edge_bundle: Path, broker_url: str, topic_prefix: str
) -> None:
    _booth_compound(hub_http, ("p-lin", "桂ATK071"))
    chrome.get(hub_http.base_url + "/ui/login?lang=zh")
    chrome.find_element(By.ID, "username").send_keys("c1-staff")
    chrome.find_element(By.ID, "password").send_keys(PASSWORD)
    chrome.find_element(By.ID, "login").click()
    chrome.find_element(By.ID, "nav-gates").click()
    assert "皖ATK071" not in chrome.find_element(By.ID, "waiting").text
    _refused_at_north(hub_http, "皖ATK071", seq=1)
    # The list refreshes itself: the guard does not reload the page.
    suggestion = WebDriverWait(chrome, 12).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#waiting a.may-be[data-holder='p-lin']")
    )[0]
    assert "桂ATK071" in suggestion.text and "p-lin" in suggestion.text
    suggestion.click()
    assert chrome.find_element(By.ID, "subject_id").get_attribute("value") == "p-lin"
    assert chrome.find_element(By.ID, "plate-read").text.endswith("皖ATK071")
    listener, received = _commands(broker_url, topic_prefix)
    try:
        reason = chrome.find_element(By.ID, "command-reason")
        reason.send_keys("已电话核实101住户，是其车辆\n")  # Enter, before choosing to open
        assert (
            chrome.execute_script("return document.getElementById('command-form').checkValidity()")
            is False
        )
        chrome.find_element(By.ID, "action-open").click()
        chrome.execute_script("window.anjuOldPage = true")
        reason.send_keys("\n")
        WebDriverWait(chrome, 10).until(_a_new_page)
        key = load_public_key((edge_bundle / "issuer-key.pub").read_text())
        command = verify_token(received.get(timeout=10).decode(), GateCommand, key)
        assert received.empty()  # one command: the first Enter sent nothing
    finally:
        listener.stop()
    assert "指令已发送" in chrome.find_element(By.ID, "message").text
    assert (command.gate_id, command.subject_id, command.action) == ("north", "p-lin", "open")
    assert command.reason == "已电话核实101住户，是其车辆"
    # The session ends mid-shift: the page goes to the login form, not into the list.
    chrome.delete_cookie("anju_session")
    WebDriverWait(chrome, 12).until(lambda d: "/ui/login" in d.current_url)
