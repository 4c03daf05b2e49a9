"""Cross-gate limits, counted at the hub while it answers.

A pass's entries are counted at the hub (`POST /api/edge/passes/{id}/entries`), so the limit
holds across every gate and edge of the compound. When the hub does not answer within
`claim_timeout_s`, the edge decides on its own count and flags the decision `offline_limit`;
the hub counts those entries when their events arrive and raises `pass_overused` if the pass
went over its limit across gates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, ValidationError

from edge.config import HubSection

logger = logging.getLogger(__name__)


class _Answer(BaseModel):
    granted: bool
    entries: int
    max_entries: int


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

    def close(self) -> None:
        self._client.close()
