"""MQTT topic builders: every topic Anju uses is spelled here and nowhere else.

{prefix}/{compound}/edge/{edge}/events    edge → hub, signed events, QoS 1
{prefix}/{compound}/edge/{edge}/confirm   hub → edge, confirmations, QoS 1
{prefix}/{compound}/edge/{edge}/status    edge → hub, retained, with a Last Will
{prefix}/{compound}/edge/{edge}/registry  hub → edge, "a new registry version exists"
{prefix}/{compound}/edge/{edge}/command   hub → edge, signed guard-booth gate commands, QoS 1
{prefix}/{compound}/edge/{edge}/evidence-request  hub → edge, signed requests for snapshots, QoS 0
{prefix}/{compound}/edge/{edge}/evidence  edge → hub, signed snapshots (or why none), QoS 0
{prefix}/{compound}/officers/alerts       hub → officers, watchlist hits and duress, QoS 1
{prefix}/hub/status                       hub → edges, retained, with a Last Will
"""

from __future__ import annotations

from dataclasses import dataclass

from models.errors import ContractError

_WILDCARDS = frozenset("+#/")


@dataclass(frozen=True)
class EdgeTopic:
    compound_id: str
    edge_id: str
    channel: str


@dataclass(frozen=True)
class Topics:
    prefix: str = "anju"

    def __post_init__(self) -> None:
        if not self.prefix or "+" in self.prefix or "#" in self.prefix:
            raise ContractError(f"invalid topic prefix {self.prefix!r}")

    def _edge(self, compound_id: str, edge_id: str, channel: str) -> str:
        for part in (compound_id, edge_id):
            if not part or _WILDCARDS & set(part):
                raise ContractError(f"invalid topic segment {part!r}")
        return f"{self.prefix}/{compound_id}/edge/{edge_id}/{channel}"

    def events(self, compound_id: str, edge_id: str) -> str:
        return self._edge(compound_id, edge_id, "events")

    def confirm(self, compound_id: str, edge_id: str) -> str:
        return self._edge(compound_id, edge_id, "confirm")

    def status(self, compound_id: str, edge_id: str) -> str:
        return self._edge(compound_id, edge_id, "status")

    def registry(self, compound_id: str, edge_id: str) -> str:
        return self._edge(compound_id, edge_id, "registry")

    def command(self, compound_id: str, edge_id: str) -> str:
        return self._edge(compound_id, edge_id, "command")

    def evidence_request(self, compound_id: str, edge_id: str) -> str:
        return self._edge(compound_id, edge_id, "evidence-request")

    def evidence(self, compound_id: str, edge_id: str) -> str:
        return self._edge(compound_id, edge_id, "evidence")

    def officers(self, compound_id: str) -> str:
        if not compound_id or _WILDCARDS & set(compound_id):
            raise ContractError(f"invalid topic segment {compound_id!r}")
        return f"{self.prefix}/{compound_id}/officers/alerts"

    def hub_status(self) -> str:
        return f"{self.prefix}/hub/status"

    def all_events(self) -> str:
        return f"{self.prefix}/+/edge/+/events"

    def all_status(self) -> str:
        return f"{self.prefix}/+/edge/+/status"

    def all_evidence(self) -> str:
        return f"{self.prefix}/+/edge/+/evidence"

    def parse(self, topic: str) -> EdgeTopic:
        """Split an edge topic; anything else is a ContractError."""
        head = self.prefix + "/"
        parts = topic[len(head) :].split("/") if topic.startswith(head) else []
        if len(parts) != 4 or parts[1] != "edge":
            raise ContractError(f"not an edge topic: {topic!r}")
        return EdgeTopic(compound_id=parts[0], edge_id=parts[2], channel=parts[3])
