"""Cross-gate limits, checked at the hub while it answers.

A pass's entries are counted at the hub (`POST /api/edge/passes/{id}/entries`), so the limit
holds across every gate and edge of the compound; at gates with anti-passback, the hub says
which way a person last passed any gate (`GET /api/edge/presence/{id}`). When the hub does not
answer within `claim_timeout_s` (per connect, send and receive), the edge decides on its own
counts, flags the decision (`offline_limit`, `offline_passback`) and does not ask again for
`REST_S`. The hub counts the pass entries it has not counted yet when their events arrive and
raises `pass_overused` if a pass went over its limit across gates.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from edge.config import HubSection
from edge.ledger import Passage
from models.events import Direction

logger = logging.getLogger(__name__)
REST_S = 10.0


class _Answer(BaseModel):
    granted: bool
    entries: int
    max_entries: int


class _Presence(BaseModel):
    direction: Direction | None
    at: datetime | None


@dataclass(frozen=True)
class HubPresence:
    """The hub's answer: the person's last passage anywhere in the compound, or None."""

    last: Passage | None


@dataclass(frozen=True)
class HubCount:
    granted: bool
    entries: int


class HubClaims:
    def __init__(self, section: HubSection) -> None:
        token = section.token_file.read_text(encoding="ascii").strip()
        self._client = httpx.Client(
            base_url=section.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=section.claim_timeout_s,
            verify=section.tls_verify(),
        )
        self._rest_until = 0.0

    def count_entry(self, pass_id: str, event_id: UUID) -> HubCount | None:
        """The hub's verdict on one more entry (asked again with the same `event_id`, the
        hub counts it once); None when the hub cannot be asked."""
        if self._resting():
            return None
        try:
            response = self._client.post(
                f"/api/edge/passes/{pass_id}/entries", params={"entry": str(event_id)}
            )
            response.raise_for_status()
            answer = _Answer.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            self._failed(f"pass {pass_id} counted on this edge only: {exc}")
            return None
        return HubCount(answer.granted, answer.entries)

    def _resting(self) -> bool:
        """After a failure, the hub is not asked for `REST_S`: every read would wait."""
        return time.monotonic() < self._rest_until

    def _failed(self, text: str) -> None:
        logger.info("%s; not asking the hub for %.0f s", text, REST_S)
        self._rest_until = time.monotonic() + REST_S

    def presence(self, subject_id: str) -> HubPresence | None:
        """None when the hub cannot be asked."""
        if self._resting():
            return None
        try:
            response = self._client.get(f"/api/edge/presence/{subject_id}")
            response.raise_for_status()
            answer = _Presence.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            self._failed(f"passback for {subject_id} checked on this edge only: {exc}")
            return None
        if answer.direction is None or answer.at is None:
            return HubPresence(None)
        return HubPresence(Passage(answer.direction, answer.at))

    def close(self) -> None:
        self._client.close()
