"""Registry sync: pull deltas from the hub when nudged over MQTT and every `poll_s` seconds.

The cache is saved to disk after every change, so the edge keeps deciding offline from what it
last knew; its age is reported in the edge's status, and a registry older than `max_age_s` is
stale (each credential type then follows its configured fallback).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
from pydantic import BaseModel, ValidationError

from edge.clock import EdgeClock
from edge.config import HubSection
from edge.registry import RegistryCache, StaleDelta
from models.registry import RegistryDelta, RegistryNudge


class _HubTime(BaseModel):
    now: datetime


logger = logging.getLogger(__name__)


class RegistrySync:
    def __init__(
        self,
        section: HubSection,
        cache: RegistryCache,
        path: Path,
        *,
        client: httpx.Client,
        clock: EdgeClock | None = None,
        on_clock_off: Callable[[float], None] | None = None,
    ) -> None:
        self._section = section
        self._client = client
        self._clock = clock
        self._on_clock_off = on_clock_off
        self._clock_off = False
        self._cache = cache
        self._path = path
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="registry-sync", daemon=True)

    @classmethod
    def from_settings(
        cls,
        section: HubSection,
        cache: RegistryCache,
        path: Path,
        *,
        clock: EdgeClock | None = None,
        on_clock_off: Callable[[float], None] | None = None,
    ) -> RegistrySync:
        """With a client that speaks to the hub with the edge's token (read now)."""
        token = section.token_file.read_text(encoding="ascii").strip()
        client = httpx.Client(
            base_url=section.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            verify=section.tls_verify(),
        )
        return cls(section, cache, path, client=client, clock=clock, on_clock_off=on_clock_off)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        self.close()

    def close(self) -> None:
        self._client.close()

    def on_nudge(self, topic: str, payload: bytes) -> None:
        try:
            nudge = RegistryNudge.model_validate_json(payload)
        except ValidationError:
            logger.warning("ignoring a malformed registry nudge")
            return
        if nudge.version != self._cache.version:
            self._wake.set()

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()  # a nudge from now on is not lost: it wakes the next wait
            ok = self.pull_once()
            failures = 0 if ok else failures + 1
            wait = self._section.poll_s if ok else min(self._section.poll_s, 2.0**failures)
            self._wake.wait(wait)

    def pull_once(self) -> bool:
        """One pull; True when the cache is now as new as the hub's registry."""
        try:
            self._measure_clock()
            delta = self._fetch(self._cache.version)
            try:
                self._cache.apply(delta)
            except StaleDelta:
                self._cache.apply(self._fetch(0))
            self._cache.save(self._path)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 401:
                logger.error("the hub refuses this edge's token: re-enrol the edge")
            else:
                logger.warning("registry sync failed: %s", exc)
            return False
        except (httpx.HTTPError, ValidationError, StaleDelta, OSError) as exc:
            logger.warning("registry sync failed: %s", exc)
            return False
        if delta.changes:
            logger.info("registry now at version %d", self._cache.version)
        return True

    def _measure_clock(self) -> None:
        """Best effort: a hub that cannot tell the time still serves the registry."""
        if self._clock is None:
            return
        try:
            sent = time.time()
            response = self._client.get("/api/edge/clock")
            received = time.time()
            response.raise_for_status()
            hub_time = _HubTime.model_validate_json(response.content).now
        except (httpx.HTTPError, ValidationError) as exc:
            logger.warning("could not read the hub's clock: %s", exc)
            return
        off = self._clock.record(sent, hub_time, received)
        if off and not self._clock_off and self._on_clock_off is not None:
            self._on_clock_off(hub_time.timestamp() - (sent + received) / 2)
        self._clock_off = off

    def _fetch(self, since: int) -> RegistryDelta:
        response = self._client.get("/api/edge/registry", params={"since": since})
        response.raise_for_status()
        return RegistryDelta.model_validate_json(response.content)
