"""A whole compound on one machine: hub, edge and card-reader mock as separate processes.

The demo, the end-to-end tests and the benchmarks lay out a compound through this module: it
writes the edge's key, configuration and registry snapshot, registers the edge with the hub
through the hub's own command line, and starts each part as its own process.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from anju.processes import Child, free_port, port_open, python_module, wait_until
from models.events import SubjectKind
from models.registry import CardRecord, Change, Op, PersonRecord, RegistryDelta
from models.signing import generate_key, private_key_pem, public_key_pem


@dataclass(frozen=True)
class Resident:
    person_id: str
    name: str
    kind: SubjectKind
    unit_id: str | None
    card: int


DEFAULT_PEOPLE: tuple[Resident, ...] = (
    Resident("p-wang-fang", "王芳", SubjectKind.RESIDENT, "b1-101", 1001),
    Resident("p-li-wei", "李伟", SubjectKind.RESIDENT, "b1-102", 1002),
    Resident("p-zhang-min", "张敏", SubjectKind.RESIDENT, "b2-301", 1003),
    Resident("p-chen-guard", "陈师傅", SubjectKind.STAFF, None, 2001),
    Resident("v-courier-01", "快递员", SubjectKind.VISITOR, "b2-301", 3001),
)


def registry_snapshot(compound_id: str, people: Sequence[Resident]) -> RegistryDelta:
    changes: list[Change] = []
    for person in people:
        record = PersonRecord(
            id=person.person_id,
            subject_kind=person.kind,
            unit_id=person.unit_id,
            display_name=person.name,
        )
        card = CardRecord(
            id=f"card-{person.card}", person_id=person.person_id, number=str(person.card)
        )
        changes.append(Change(op=Op.UPSERT, record_kind="person", id=record.id, record=record))
        changes.append(Change(op=Op.UPSERT, record_kind="card", id=card.id, record=card))
    return RegistryDelta(compound_id=compound_id, from_version=0, to_version=1, changes=changes)


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
    ) -> None:
        self.workdir = workdir
        self.mqtt_url = mqtt_url
        self.compound_id = compound_id
        self.edge_id = edge_id
        self.topic_prefix = topic_prefix
        self.people = people
        self.resend_after_s = resend_after_s
        self.hub_port = free_port()
        self.reader_ports = {"in": free_port(), "out": free_port()}
        self.outbox_dir = outbox_dir or workdir / "edge"
        self.database_url = database_url or f"sqlite:///{workdir / 'hub.sqlite'}"
        self.hub: Child | None = None
        self.edge: Child | None = None

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"

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
        }

    def prepare(self) -> None:
        """Key, configuration and registry for the edge; the edge registered with the hub."""
        edge_dir = self.workdir / "edge"
        edge_dir.mkdir(parents=True, exist_ok=True)
        key = generate_key()
        (edge_dir / "signing-key.pem").write_bytes(private_key_pem(key))
        (edge_dir / "signing-key.pem").chmod(0o600)
        (edge_dir / "signing-key.pub").write_text(public_key_pem(key), encoding="ascii")
        snapshot = registry_snapshot(self.compound_id, self.people)
        (edge_dir / "registry.json").write_text(
            snapshot.model_dump_json(indent=1), encoding="utf-8"
        )
        (edge_dir / "edge.toml").write_text(self._edge_toml(), encoding="utf-8")
        register = python_module(
            "hub-add-edge",
            "hub",
            [
                "add-edge",
                "--edge-id",
                self.edge_id,
                "--compound-id",
                self.compound_id,
                "--public-key",
                str(edge_dir / "signing-key.pub"),
            ],
            self.workdir,
            **self.hub_env(),
        ).start()
        if register.wait(timeout_s=60) != 0:
            raise RuntimeError(f"hub add-edge failed:\n{register.log_tail()}")

    def _edge_toml(self) -> str:
        readers = "".join(
            f'\n[[readers]]\ntype = "wiegand_tcp"\nlisten_port = {port}\n'
            f'gate_id = "east-gate"\nlane = "pedestrian-{direction}"\ndirection = "{direction}"\n'
            for direction, port in self.reader_ports.items()
        )
        return (
            f'edge_id = "{self.edge_id}"\ncompound_id = "{self.compound_id}"\n'
            'signing_key = "signing-key.pem"\nregistry_path = "registry.json"\n'
            "status_interval_s = 5\n"
            f'\n[mqtt]\nurl = "{self.mqtt_url}"\ntopic_prefix = "{self.topic_prefix}"\n'
            f'\n[outbox]\npath = "{self.outbox_path}"\nresend_after_s = {self.resend_after_s}\n'
            + readers
        )

    def start_hub(self) -> Child:
        self.hub = python_module("hub", "hub", ["serve"], self.workdir, **self.hub_env()).start()
        wait_until(self._hub_healthy, 60, "the hub to answer /healthz")
        return self.hub

    def start_edge(self) -> Child:
        config = self.workdir / "edge" / "edge.toml"
        self.edge = python_module(
            "edge", "edge", ["run", "--config", str(config)], self.workdir
        ).start()
        wait_until(self._edge_listening, 60, "the edge's reader listeners")
        return self.edge

    def stop(self) -> None:
        for child in (self.edge, self.hub):
            if child is not None:
                child.stop()

    def get(self, path: str, **params: str | int) -> httpx.Response:
        response = httpx.get(f"{self.hub_url}{path}", params=params, timeout=10)
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
            return httpx.get(f"{self.hub_url}/healthz", timeout=1).json().get("mqtt") == "connected"
        except (httpx.HTTPError, json.JSONDecodeError):
            return False
