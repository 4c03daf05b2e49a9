"""The hub's /metrics over real HTTP: open by default, behind a bearer token when one is
configured."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
import uvicorn

from harness.processes import free_port, wait_until
from hub.core.config import HubSettings
from hub.main import create_app

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("token", [None, "scrape-secret"])
def test_metrics_want_the_token_only_when_one_is_set(tmp_path: Path, token: str | None) -> None:
    settings = HubSettings(
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite'}",
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}",  # no broker: the HTTP side alone
        metrics_token=token,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 30, "uvicorn")
        url = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(url).status_code == (401 if token else 200)
        if token:
            assert httpx.get(url, headers={"Authorization": "Bearer no"}).status_code == 401
            good = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
            assert good.status_code == 200 and "anju_hub_mqtt_connected 0.0" in good.text
    finally:
        server.should_exit = True
        thread.join(timeout=10)
