from __future__ import annotations

import functools
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from selenium import webdriver
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import Engine
from sqlmodel import Session

from anju.mqtt import BrokerAddress, Message, MqttLink
from harness.processes import free_port, wait_until
from hub import crud, registry
from hub.core.config import HubSettings
from hub.core.security import SecretBox, hash_password
from hub.main import create_app
from hub.provision import provision_edge
from hub.services import HubServices
from hub.tables import Building, Unit, User
from models.events import Confirmation, EdgeEvent
from models.signing import generate_key, public_key_pem, seal
from models.topics import Topics
from tests.conftest import _missing

pytestmark = pytest.mark.integration


@pytest.fixture
def chrome() -> Iterator[WebDriver]:
    """Debian's headless Chromium (never a browser a test tool downloads), keeping the
    browser's console (CSP violations and refused frames are reported there)."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        _missing("Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium must never fetch a browser
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_path))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


class FakeEdgeLink:
    """Plays an edge on the wire: publishes payloads, collects the hub's confirmations.

    Not a mock of our edge: the edge's own delivery is tested elsewhere. This lets a test put
    exactly the bytes it wants on the events topic.
    """

    def __init__(self, broker_url: str, topics: Topics, compound_id: str, edge_id: str) -> None:
        self.key: Ed25519PrivateKey = generate_key()
        self.topics = topics
        self.compound_id = compound_id
        self.edge_id = edge_id
        self.confirmed: queue.Queue[Confirmation] = queue.Queue()
        self.link = MqttLink(
            BrokerAddress.from_url(broker_url), client_id=f"test-edge-{uuid.uuid4().hex[:8]}"
        )
        self.link.subscribe(topics.confirm(compound_id, edge_id), self._on_confirm)

    def _on_confirm(self, topic: str, payload: bytes) -> None:
        self.confirmed.put(Confirmation.model_validate_json(payload))

    def start(self) -> None:
        self.link.start()
        assert self.link.wait_connected(10)

    def send(self, event: EdgeEvent) -> None:
        self.send_raw(seal(event, self.key))

    def send_raw(self, payload: bytes, topic: str | None = None) -> None:
        topic = topic or self.topics.events(self.compound_id, self.edge_id)
        self.link.publish(Message(topic, payload))  # LinkDown fails the test

    def confirmed_ids(self, expected: int, timeout_s: float = 10.0) -> set[uuid.UUID]:
        seen: set[uuid.UUID] = set()
        while len(seen) < expected:
            seen.update(self.confirmed.get(timeout=timeout_s).event_ids)
        return seen


@pytest.fixture
def hub(engine, database_url: str, broker_url: str, topic_prefix: str) -> Iterator[HubServices]:
    settings = HubSettings(
        database_url=database_url,
        mqtt_url=broker_url,
        topic_prefix=topic_prefix,
        client_id=f"hub-{topic_prefix}",
    )
    services = HubServices.build(settings)
    services.start()
    assert services.link.wait_connected(10)
    yield services
    services.stop()


@pytest.fixture
def edge_link(hub: HubServices, broker_url: str, topic_prefix: str) -> Iterator[FakeEdgeLink]:
    edge = FakeEdgeLink(broker_url, Topics(topic_prefix), "c1", "edge-1")
    with Session(hub.engine) as session:
        crud.register_edge(
            session=session, edge_id="edge-1", compound_id="c1", public_key=public_key_pem(edge.key)
        )
        session.commit()
    edge.start()
    yield edge
    edge.link.stop()


PASSWORD = "correct horse battery"
ROLES = ("admin", "staff", "officer", "resident")


@functools.cache
def _password_hash() -> str:
    """The seeded users share one password, hashed once at the tests' argon2 cost (see
    tests/conftest.py). Logging in verifies it for real."""
    return hash_password(PASSWORD, HubSettings().password_cost())


class HubHttp:
    """The hub app served by uvicorn on a free port, with two compounds (c1, c2), each with a
    building, two units and one user of every role; requests go over real HTTP."""

    def __init__(self, settings: HubSettings, port: int, engine: Engine, app: FastAPI) -> None:
        self.settings = settings
        self.app = app  # its route table, for the tests that must cover every route
        self.base_url = f"http://127.0.0.1:{port}"
        self.engine = engine
        self._clients: list[httpx.Client] = []

    def seed(self) -> None:
        box = self.settings.secret_box()
        with Session(self.engine) as session:
            for compound in ("c1", "c2"):
                registry.create_compound(
                    session=session, compound_id=compound, name=compound, box=box
                )
                session.flush()
                session.add(Building(id=f"{compound}-b1", compound_id=compound, name="1"))
                session.flush()
                for unit in ("101", "102"):
                    session.add(
                        Unit(
                            id=f"{compound}-{unit}",
                            compound_id=compound,
                            building_id=f"{compound}-b1",
                            label=unit,
                        )
                    )
                session.flush()
                for role in ROLES:
                    session.add(
                        User(
                            username=f"{compound}-{role}",
                            password_hash=_password_hash(),
                            role=role,
                            compound_id=compound,
                            unit_id=f"{compound}-101" if role == "resident" else None,
                        )
                    )
            session.commit()

    def client(self, role: str = "admin", compound: str = "c1") -> httpx.Client:
        """Logged in as the seeded user of `role` in `compound`."""
        return self.login(f"{compound}-{role}")

    def login(self, username: str, password: str = PASSWORD) -> httpx.Client:
        client = httpx.Client(base_url=self.base_url, timeout=10)
        response = client.post("/api/auth/login", json={"username": username, "password": password})
        response.raise_for_status()
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        self._clients.append(client)
        return client

    def anonymous(self) -> httpx.Client:
        client = httpx.Client(base_url=self.base_url, timeout=10)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def hub_http(
    database_url: str, broker_url: str, topic_prefix: str, engine: Engine
) -> Iterator[HubHttp]:
    settings = HubSettings(
        database_url=database_url,
        mqtt_url=broker_url,
        topic_prefix=topic_prefix,
        client_id=f"hub-{topic_prefix}",
        secret_keys=SecretBox.generate_key(),
        session_hours=1,
        # The tests scan when they choose, at the instant they choose: a background scan at
        # the real hour could find a case first.
        analytics_every_s=3600.0,
        # The browser tests wait for the live lists to refresh: not 5 s at a time.
        ui_poll_s=0.5,
    )
    port = free_port()
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 30, "uvicorn to start")
    http = HubHttp(settings, port, app.state.services.engine, app)
    http.seed()
    yield http
    http.close()
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def edge_bundle(hub_http: HubHttp, tmp_path: Path) -> Path:
    """An edge of compound c1 enrolled with the hub (`provision-edge`): its bundle."""
    with Session(hub_http.engine) as session:
        bundle = provision_edge(
            session=session,
            box=hub_http.settings.secret_box(),
            compound_id="c1",
            edge_id="edge-1",
            out=tmp_path / "edge",
            hub_url=hub_http.base_url,
            mqtt_url="mqtt://127.0.0.1:1883",
            readers=[],
        )
    return bundle.directory


@pytest.fixture
def edge_http(hub_http: HubHttp, edge_bundle: Path) -> httpx.Client:
    """A client holding that edge's token."""
    client = hub_http.anonymous()
    client.headers["Authorization"] = f"Bearer {(edge_bundle / 'hub-token').read_text()}"
    return client
