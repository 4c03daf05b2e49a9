"""Cross-gate limits, checked at the hub while it answers.

A pass's entries are counted at the hub (`POST /api/edge/passes/{id}/entries`), so the limit
holds across every gate and edge of the compound; at gates with anti-passback, the hub says
which way a person last passed any gate (`GET /api/edge/presence/{id}`). When the hub does not
answer within `claim_timeout_s`, the edge decides on its own counts and flags the decision
`offline_limit`; the hub counts offline pass entries when their events arrive and raises
`pass_overused` if a pass went over its limit across gates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import httpx
from pydantic import BaseModel, ValidationError

from edge.config import HubSection
from edge.ledger import Passage
from models.events import Direction

logger = logging.getLogger(__name__)


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
        )

    def count_entry(self, pass_id: str) -> HubCount | None:
        """The hub's verdict on one more entry; None when the hub cannot be asked."""
        try:
            response = self._client.post(f"/api/edge/passes/{pass_id}/entries")
            if response.status_code >= 500:
                return None
            response.raise_for_status()
            answer = _Answer.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            logger.info("pass %s counted on this edge only: %s", pass_id, exc)
            return None
        return HubCount(answer.granted, answer.entries)

    def presence(self, subject_id: str) -> HubPresence | None:
        """None when the hub cannot be asked."""
        try:
            response = self._client.get(f"/api/edge/presence/{subject_id}")
            response.raise_for_status()
            answer = _Presence.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            logger.info("passback for %s checked on this edge only: %s", subject_id, exc)
            return None
        if answer.direction is None or answer.at is None:
            return HubPresence(None)
        return HubPresence(Passage(answer.direction, answer.at))

    def close(self) -> None:
        self._client.close()
