"""A whole compound on one machine: hub, edge, barrier controller and reader mocks as separate
processes.

The demo, the end-to-end tests and the benchmarks lay out a compound through this module, the
way an installer would, with the hub's own commands: create the compound, import its residents
from CSV, create an admin, and enrol the edge (`provision-edge`), these four in one process
(`harness.hub_batch`); the edge then pulls its registry from the hub. Every running part (hub,
edge, barrier controller, reader mocks) is a process of its own.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import secrets
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from anju.tls import client_context
from edge.registry import RegistryCache
from harness.hardware import BarrierController, DisplayPanel, start_barrier, start_display
from harness.processes import Child, free_ports, port_open, python_module, wait_until
from hub.core.security import SecretBox
from models.events import SubjectKind


@dataclass(frozen=True)
class Resident:
    person_id: str
    name: str
    kind: SubjectKind
    unit_id: str | None
    card: int
    plate: str = ""


DEFAULT_PEOPLE: tuple[Resident, ...] = (
    Resident("p-wang-fang", "王芳", SubjectKind.RESIDENT, "b1-101", 1001, "京A12345"),
    Resident("p-li-wei", "李伟", SubjectKind.RESIDENT, "b1-102", 1002),
    Resident("p-zhang-min", "张敏", SubjectKind.RESIDENT, "b2-301", 1003),
    Resident("p-chen-guard", "陈师傅", SubjectKind.STAFF, "office", 2001),
    Resident("v-courier-01", "快递员", SubjectKind.VISITOR, "b2-301", 3001),
)


def write_residents_csv(path: Path, people: Sequence[Resident]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["building", "unit", "person_id", "name", "kind", "cards", "plates"])
        for p in people:
            building = (p.unit_id or "office").split("-")[0]
            writer.writerow(
                [building, p.unit_id, p.person_id, p.name, p.kind.value, p.card, p.plate]
            )


class Compound:
    def __init__(
        self,
        workdir: Path,
        mqtt_url: str,
        *,
        compound_id: str = "anju-demo",
        edge_id: str = "gate-east",
        topic_prefix: str = "anju",
        people: Sequence[Resident] = DEFAULT_PEOPLE,
        resend_after_s: float = 10.0,
        outbox_dir: Path | None = None,
        database_url: str | None = None,
        with_gates: bool = False,
        anti_passback: str = "off",
        face_camera: str | None = None,
        face_engine: str = "dlib",
        edge_mqtt_url: str | None = None,
        replay_clock: Path | None = None,
        car_lanes: Sequence[str] = (),
        hub_tls: Path | None = None,
        in_lanes: int = 1,
        in_service_since: datetime | None = None,
    ) -> None:
        """`hub_tls`: a directory with ca.pem, server.pem and server.key; the hub then serves
        HTTPS with them, and the edge and this harness check it against ca.pem. `in_lanes`:
        the east gate's readers on the way in (named "in", "in-2", ...; one on the way out)."""
        self.workdir = workdir
        self.mqtt_url = mqtt_url
        self.compound_id = compound_id
        self.edge_id = edge_id
        self.topic_prefix = topic_prefix
        self.people = people
        self.resend_after_s = resend_after_s
        more_in = [f"in-{n}" for n in range(2, in_lanes + 1)]
        # Every port the compound's processes listen on, all different.
        ports = free_ports(8 + len(more_in))
        self.hub_port = ports[0]
        self.in_service_since = in_service_since
        self.reader_ports = {"in": ports[1], "out": ports[2]} | dict(
            zip(more_in, ports[8:], strict=True)
        )
        self.edge_dir = workdir / "edge"
        self.outbox_dir = outbox_dir or self.edge_dir
        self.database_url = database_url or f"sqlite:///{workdir / 'hub.sqlite'}"
        self.secret_keys = SecretBox.generate_key()
        self.admin_password = secrets.token_urlsafe(16)
        self.hub: Child | None = None
        self.edge: Child | None = None
        self.barrier: BarrierController | None = None
        self.barrier_ports = {"http": ports[3], "modbus": ports[4]}
        self.display: DisplayPanel | None = None
        self.display_port = ports[5]  # the car-in lane's screen, with the gates
        self.anpr_port = ports[6]
        self.metrics_port = ports[7]
        self.anpr_camera = ("cam-car-in", secrets.token_urlsafe(12))
        self.anpr_cameras = {
            d: (f"cam-car-{d}", secrets.token_urlsafe(12)) for d in car_lanes if d != "in"
        } | {"in": self.anpr_camera}
        self.car_lanes = tuple(car_lanes)
        self.edge_mqtt_url = edge_mqtt_url or mqtt_url
        self.replay_clock = replay_clock
        self.with_gates = with_gates
        self.anti_passback = anti_passback
        self.face_camera = face_camera
        self.face_engine = face_engine
        self._token: str | None = None
        self.hub_tls = hub_tls
        self._verify: ssl.SSLContext | bool = True
        if hub_tls is not None:
            self._verify = client_context(hub_tls / "ca.pem")

    @property
    def hub_url(self) -> str:
        scheme = "http" if self.hub_tls is None else "https"
        return f"{scheme}://127.0.0.1:{self.hub_port}"

    @property
    def outbox_path(self) -> Path:
        return self.outbox_dir / "outbox.sqlite"

    def hub_env(self) -> dict[str, str]:
        return {
            "ANJU_HUB_DATABASE_URL": self.database_url,
            "ANJU_HUB_MQTT_URL": self.mqtt_url,
            "ANJU_HUB_TOPIC_PREFIX": self.topic_prefix,
            "ANJU_HUB_CLIENT_ID": f"anju-hub-{self.compound_id}-{self.topic_prefix}",
            "ANJU_HUB_PORT": str(self.hub_port),
            "ANJU_HUB_SECRET_KEYS": self.secret_keys,
        } | (
            {}
            if self.hub_tls is None
            else {
                "ANJU_HUB_TLS_CERT_FILE": str(self.hub_tls / "server.pem"),
                "ANJU_HUB_TLS_KEY_FILE": str(self.hub_tls / "server.key"),
            }
        )

    def prepare(self) -> None:
        """The compound, its residents, an admin, and the edge enrolled with the hub."""
        residents = self.workdir / "residents.csv"
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_residents_csv(residents, self.people)
        readers = [
            f"east-gate:pedestrian-{name}:{name.split('-')[0]}:{port}"
            for name, port in self.reader_ports.items()
        ]
        admin = ["--username", "admin", "--role", "admin", "--compound", self.compound_id]
        since = []
        if self.in_service_since is not None:
            since = ["--in-service-since", self.in_service_since.isoformat()]
        edge = ["--edge-id", self.edge_id, "--out", str(self.edge_dir)]
        links = ["--hub-url", self.hub_url, "--mqtt-url", self.edge_mqtt_url]
        if self.hub_tls is not None:
            links += ["--hub-ca", str(self.hub_tls / "ca.pem")]
        self._hub_commands(
            ["create-compound", "--id", self.compound_id, "--name", "Anju demo", *since],
            ["import-residents", str(residents), "--compound", self.compound_id],
            ["create-user", *admin],
            [
                "provision-edge",
                "--compound",
                self.compound_id,
                *edge,
                *links,
                *[arg for r in readers for arg in ("--reader", r)],
            ],
            *self._face_engine_commands(),
            ANJU_NEW_PASSWORD=self.admin_password,
        )
        if self.with_gates:
            with (self.edge_dir / "edge.toml").open("a", encoding="utf-8") as config:
                config.write(self.gates_toml())
        if self.car_lanes and not self.with_gates:
            with (self.edge_dir / "edge.toml").open("a", encoding="utf-8") as config:
                config.write(self._anpr_toml(repeat_s=0.2))
        if self.face_camera is not None:
            with (self.edge_dir / "edge.toml").open("a", encoding="utf-8") as config:
                config.write(
                    f'\n[[cameras]]\nid = "cam-east-in"\nsource = "{self.face_camera}"\n'
                    'kind = "face"\ngate_id = "east-gate"\nlane = "pedestrian-in"\n'
                    'direction = "in"\n'
                )
                if self.face_engine != "dlib":
                    config.write(
                        f'\n[faces]\ntype = "{self.face_engine}"\naccept_model_terms = true\n'
                    )

    def _face_engine_commands(self) -> list[list[str]]:
        """The compound's face engine, chosen knowingly, and the edge's lanes running it."""
        if self.face_engine == "dlib":
            return []
        return [
            [
                "face-engines",
                "--compound",
                self.compound_id,
                "--engine",
                self.face_engine,
                "--accept-model-terms",
            ]
        ]

    def gates_toml(self) -> str:
        """The compound's two gates on one barrier controller: the east pedestrian door
        (an egress door, fail-secure, over Modbus-TCP) and the car barrier (fail-safe, with a
        vehicle loop, over HTTP)."""
        http, modbus = self.barrier_ports["http"], self.barrier_ports["modbus"]
        return (
            '\n[[gates]]\nid = "east-gate"\nkind = "door"\negress = true\n'
            'fail_mode = "secure"\nopen_s = 1.0\nconfirm_s = 2.0\nheld_open_s = 20.0\n'
            f'anti_passback = "{self.anti_passback}"\n'
            f'[gates.driver]\ntype = "modbus_tcp"\nhost = "127.0.0.1"\nport = {modbus}\n'
            "channel = 0\n"
            '\n[[gates]]\nid = "car-gate"\nkind = "barrier"\nfail_mode = "safe"\n'
            "open_s = 1.0\nconfirm_s = 3.0\n"
            f'[gates.driver]\ntype = "http_relay"\nurl = "http://127.0.0.1:{http}"\n'
            "channel = 1\n"
            + self._anpr_toml()
            + '\n[[displays]]\ngate_id = "car-gate"\nlane = "car-in"\n'
            + f'url = "http://127.0.0.1:{self.display_port}/display"\n'
        )

    def _anpr_toml(self, repeat_s: float = 5.0) -> str:
        """The car barrier's ANPR cameras (entry, and exit if asked for) push to the edge."""
        text = f"\n[anpr]\nlisten_port = {self.anpr_port}\nrepeat_s = {repeat_s}\n"
        for direction, (device, password) in sorted(self.anpr_cameras.items()):
            digest = hashlib.sha256(password.encode()).hexdigest()
            text += (
                f'[[anpr.cameras]]\nid = "{device}"\npassword_sha256 = "{digest}"\n'
                f'gate_id = "car-gate"\nlane = "car-{direction}"\ndirection = "{direction}"\n'
            )
        return text

    @property
    def anpr_url(self) -> str:
        return f"http://127.0.0.1:{self.anpr_port}"

    def start_barrier(self, *, watchdog_s: float = 3.0) -> BarrierController:
        self.barrier = start_barrier(
            self.workdir,
            channels=2,
            egress="0",
            fail_safe="1",
            barrier="1",
            watchdog_s=watchdog_s,
            http_port=self.barrier_ports["http"],
            modbus_port=self.barrier_ports["modbus"],
        )
        return self.barrier

    def _hub_commands(self, *commands: list[str], **env: str) -> None:
        """Hub commands run in one process (`harness.hub_batch`): a start costs seconds."""
        batch = [json.dumps(command) for command in commands]
        child = python_module(
            "hub-cli", "harness.hub_batch", batch, self.workdir, **self.hub_env(), **env
        )
        if child.start().wait(timeout_s=120) != 0:
            names = ", ".join(command[0] for command in commands)
            raise RuntimeError(f"hub commands ({names}) failed:\n{child.log_tail()}")

    def edge_env(self) -> dict[str, str]:
        return {
            "ANJU_EDGE_OUTBOX__PATH": str(self.outbox_path),
            "ANJU_EDGE_OUTBOX__RESEND_AFTER_S": str(self.resend_after_s),
            "ANJU_EDGE_STATUS_INTERVAL_S": "2",
            "ANJU_EDGE_METRICS__LISTEN_PORT": str(self.metrics_port),
        } | ({"ANJU_EDGE_REPLAY_CLOCK": str(self.replay_clock)} if self.replay_clock else {})

    def start_hub(self, *, wait: bool = True) -> Child:
        """The hub's process; `wait=False` returns at once (it may start while the hub
        commands of `prepare` run: both migrate safely), and `wait_hub` waits for it."""
        self.hub = python_module("hub", "hub", ["serve"], self.workdir, **self.hub_env()).start()
        if wait:
            self.wait_hub()
        return self.hub

    def wait_hub(self) -> None:
        wait_until(self._hub_healthy, 60, "the hub to answer /healthz")

    def start_edge(self) -> Child:
        config = self.edge_dir / "edge.toml"
        self.edge = python_module(
            "edge", "edge", ["run", "--config", str(config)], self.workdir, **self.edge_env()
        ).start()
        wait_until(self._edge_listening, 60, "the edge's reader listeners")
        if self.hub is not None and self.hub.running:
            wait_until(self.edge_synced, 60, "the edge's first registry pull")
        return self.edge

    def add_gates_to_hub(self) -> None:
        """The gates the edge drives, known to the hub too (for the guard booth)."""
        for gate, kind in (("east-gate", "pedestrian"), ("car-gate", "vehicle")):
            self.request("POST", "/api/gates", json={"id": gate, "name": gate, "kind": kind})

    def edge_registry(self) -> str:
        """The edge's registry snapshot, decrypted with its key, as JSON ('' before its first
        pull): what an installer with the bundle could read."""
        path = self.edge_dir / "registry.json"
        if not path.exists():
            return ""
        key = base64.b64decode((self.edge_dir / "registry-key").read_bytes())
        cache = RegistryCache.load(path, self.compound_id, key)
        return cache.snapshot().model_dump_json()

    def edge_synced(self) -> bool:
        return (self.edge_dir / "registry.json").exists()

    def __enter__(self) -> Compound:
        return self

    def __exit__(self, *exc: object) -> None:
        """Every process stopped, also when setting the compound up failed half-way."""
        self.stop()

    def start_display(self) -> DisplayPanel:
        self.display = start_display(self.workdir, port=self.display_port)
        return self.display

    def stop(self) -> None:
        """Every process told to stop at once, so that they shut down side by side; the edge
        first, then the hub, then the devices."""
        devices = [d.child for d in (self.barrier, self.display) if d is not None]
        children = [c for c in (self.edge, self.hub) if c is not None] + devices
        for child in children:
            child.terminate()
        for child in children:
            child.stop()

    def token(self) -> str:
        if self._token is None:
            response = httpx.post(
                f"{self.hub_url}/api/auth/login",
                json={"username": "admin", "password": self.admin_password},
                timeout=10,
                verify=self._verify,
            )
            response.raise_for_status()
            self._token = str(response.json()["token"])
        return self._token

    def get(self, path: str, **params: str | int) -> httpx.Response:
        return self.request("GET", path, params=params)

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        """An API call as the compound's admin; raises on an error status."""
        headers = {"Authorization": f"Bearer {self.token()}"}
        response = httpx.request(
            method,
            f"{self.hub_url}{path}",
            headers=headers,
            timeout=10,
            verify=self._verify,
            **kwargs,  # type: ignore[arg-type]
        )
        response.raise_for_status()
        return response

    def all_entries(self) -> list[dict[str, object]]:
        entries: list[dict[str, object]] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = self.get("/api/events", **params).json()
            entries.extend(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                return entries

    def _edge_listening(self) -> bool:
        if self.edge is not None and not self.edge.running:
            raise RuntimeError(f"edge exited:\n{self.edge.log_tail()}")
        return all(port_open("127.0.0.1", port) for port in self.reader_ports.values())

    def _hub_healthy(self) -> bool:
        if self.hub is not None and not self.hub.running:
            raise RuntimeError(f"hub exited:\n{self.hub.log_tail()}")
        try:
            health = httpx.get(f"{self.hub_url}/healthz", timeout=1, verify=self._verify)
            return health.json().get("mqtt") == "connected"
        except (httpx.HTTPError, json.JSONDecodeError):
            return False
