"""The hub's pages cannot be framed, and its scripts and styles come from itself alone:
headers on every page and API answer, and in Chromium a page of another port of the same
host that frames the guard booth gets nothing (the attack: a gate command submitted inside
a frame came from the hub's own page, past every same-site check)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from harness.processes import free_port, wait_until
from hub.core.config import HubSettings
from tests.integration.conftest import PASSWORD, HubHttp

pytestmark = pytest.mark.integration

PAGES = ["/ui/", "/ui/gates", "/ui/entries", "/ui/anomalies", "/ui/login", "/api/occupancy"]


def test_every_page_and_answer_forbids_framing(hub_http: HubHttp) -> None:
    staff = hub_http.client("staff")
    answers = [staff.get(path) for path in PAGES]
    answers += [hub_http.anonymous().get("/ui/no-such-page"), staff.get("/docs")]
    for answer in answers:
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, answer.url
        assert answer.headers["x-frame-options"] == "DENY", answer.url
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
    page_policy = answers[0].headers["content-security-policy"]
    assert "script-src 'self'" in page_policy and "'unsafe-inline'" not in page_policy


def test_the_session_cookie_is_secure_where_the_hub_is_reached_over_https() -> None:
    behind_a_proxy = HubSettings(public_url="https://hub.example.cn")
    assert behind_a_proxy.served_over_https("http")  # the proxy speaks plain HTTP to the hub
    assert not HubSettings().served_over_https("http")
    assert HubSettings().served_over_https("https")
    with pytest.raises(ValueError, match="public_url"):
        HubSettings(public_url="hub.example.cn")


@pytest.fixture
def other_site(hub_http: HubHttp) -> Iterator[str]:
    """A page on another port of the same host that frames the guard booth."""
    page = f'<html><body><iframe id="booth" src="{hub_http.base_url}/ui/gates"></iframe>'
    body = page.encode()

    class Framing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Framing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _console(chrome: WebDriver) -> list[str]:
    return [entry["message"] for entry in chrome.get_log("browser")]


def test_in_chromium_a_framed_booth_is_refused_and_the_pages_keep_their_policy(
    hub_http: HubHttp, chrome: WebDriver, other_site: str
) -> None:
    chrome.get(hub_http.base_url + "/ui/login?lang=en")
    chrome.find_element(By.ID, "username").send_keys("c1-staff")
    chrome.find_element(By.ID, "password").send_keys(PASSWORD)
    chrome.find_element(By.ID, "login").click()
    wait_until(lambda: "/ui/login" not in chrome.current_url, 30, "the login to go through")
    chrome.get(hub_http.base_url + "/ui/gates")
    assert chrome.find_element(By.ID, "waiting")  # logged in: the booth itself renders
    seen = _console(chrome)
    assert not [m for m in seen if "Content Security Policy" in m], seen  # its own policy

    chrome.get(other_site)
    refused: list[str] = []

    def refused_by_the_hub() -> bool:
        refused.extend(m for m in _console(chrome) if "frame-ancestors" in m)
        return bool(refused)

    wait_until(refused_by_the_hub, 30, "Chromium refusing the frame")
    assert hub_http.base_url in refused[0] and "blocked" in refused[0]
