"""HTTPS on Anju's own servers, over real sockets with a compound's own PKI: the edge's push
endpoints (camera snapshots, ANPR results: device passwords and pictures) and the hub's API.
A client that trusts the compound's CA gets through; plain HTTP, an untrusting client and a
device that connects and stalls get nowhere and hold up no one."""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from anju.tls import client_context
from edge.config import (
    AnprCameraSection,
    AnprSection,
    HubSection,
    SnapshotSection,
    TlsSection,
    load_settings,
)
from edge.errors import ConfigError, ListenError
from edge.plates.anpr import AnprListener, Answer, Pushed
from edge.snapshots import SnapshotListener
from firmware_mocks.anpr_camera import AnprCamera
from harness.processes import free_port, python_module, wait_until
from models.events import Direction
from tests import factories
from tests.pki import make_pki

PASSWORD = "lens-cap-42"
DIGEST = hashlib.sha256(PASSWORD.encode()).hexdigest()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    make_pki(directory)
    return directory


def _tls(pki: Path) -> TlsSection:
    return TlsSection(cert_file=pki / "server.pem", key_file=pki / "server.key")


@pytest.fixture
def snapshots(pki: Path) -> Iterator[SnapshotListener]:
    camera = factories.pushing_camera(PASSWORD)
    listener = SnapshotListener(SnapshotSection(listen_port=0, tls=_tls(pki)), [camera])
    listener.start()
    yield listener
    listener.stop()


def _jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


def _push(listener: SnapshotListener, pki: Path, timeout: float = 5.0) -> int:
    url = f"https://localhost:{listener.port}/cameras/cam-door/snapshot"
    verify = client_context(pki / "ca.pem")
    response = httpx.post(
        url, content=_jpeg(), auth=("cam-door", PASSWORD), verify=verify, timeout=timeout
    )
    return response.status_code


def test_a_camera_that_trusts_the_compound_ca_pushes_over_https(
    snapshots: SnapshotListener, pki: Path
) -> None:
    assert _push(snapshots, pki) == 202
    frame = snapshots.sources["cam-door"].next_frame(after=0, timeout_s=5)
    assert frame is not None and frame.image.shape == (120, 160, 3)


def test_plain_http_and_untrusting_clients_are_refused_and_the_endpoint_goes_on(
    snapshots: SnapshotListener, pki: Path
) -> None:
    plain = f"http://localhost:{snapshots.port}/cameras/cam-door/snapshot"
    with pytest.raises(httpx.TransportError):
        httpx.post(plain, content=_jpeg(), auth=("cam-door", PASSWORD), timeout=5)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.post(plain.replace("http:", "https:"), content=_jpeg(), timeout=5)
    assert _push(snapshots, pki) == 202


def test_a_device_that_connects_and_stalls_holds_up_no_one(
    snapshots: SnapshotListener, pki: Path
) -> None:
    with socket.create_connection(("127.0.0.1", snapshots.port)):  # no handshake, ever
        started = time.monotonic()
        assert _push(snapshots, pki, timeout=3.0) == 202
        assert time.monotonic() - started < 3.0


def test_an_unusable_certificate_is_refused_with_the_configuration(
    pki: Path, tmp_path: Path
) -> None:
    config = tmp_path / "edge.toml"

    def load(key: Path) -> None:
        config.write_text(
            'edge_id = "e1"\ncompound_id = "c1"\nsigning_key = "k.pem"\nregistry_path = "r.json"\n'
            f'[anpr.tls]\ncert_file = "{pki / "server.pem"}"\nkey_file = "{key}"\n',
            encoding="utf-8",
        )
        load_settings(config)

    with pytest.raises(ConfigError, match=r"\[anpr\.tls\]: cannot use the certificate"):
        load(pki / "ca.pem")  # a certificate where the key should be
    with pytest.raises(ConfigError, match=r"missing\.key") as refused:
        load(tmp_path / "missing.key")
    assert "validation error" not in str(refused.value)  # the certificate, and nothing else


def test_a_certificate_gone_by_the_time_the_endpoint_starts_is_a_clear_error(
    pki: Path, tmp_path: Path
) -> None:
    for name in ("server.pem", "server.key"):
        (tmp_path / name).write_bytes((pki / name).read_bytes())
    tls = TlsSection(cert_file=tmp_path / "server.pem", key_file=tmp_path / "server.key")
    listener = SnapshotListener(SnapshotSection(listen_port=0, tls=tls), [])
    (tmp_path / "server.key").unlink()
    with pytest.raises(ConfigError, match="camera snapshots: cannot use the certificate"):
        listener.start()


def test_the_anpr_camera_mock_pushes_over_https_with_the_compound_ca(pki: Path) -> None:
    camera = AnprCameraSection(
        id="anpr-1", password_sha256=DIGEST, gate_id="north", lane="car-in", direction=Direction.IN
    )
    pushed: list[Pushed] = []

    def decide(push: Pushed) -> Answer:  # the lane's decision is not this test's business
        pushed.append(push)
        return Answer("denied", "unknown_plate")

    section = AnprSection(listen_port=0, tls=_tls(pki), cameras=[camera])
    listener = AnprListener(section, decide)
    listener.start()
    try:
        url = f"https://localhost:{listener.port}"
        result = AnprCamera(url, "anpr-1", PASSWORD, pki / "ca.pem").push("粤B12345")
    finally:
        listener.stop()
    assert result.status == 200 and result.body["result"] == "denied"
    assert [p.number for p in pushed] == ["粤B12345"]


def test_the_hub_serves_https_and_says_so(pki: Path, tmp_path: Path) -> None:
    port = free_port()
    hub = python_module(
        "hub",
        "hub",
        ["serve"],
        tmp_path,
        ANJU_HUB_DATABASE_URL=f"sqlite:///{tmp_path / 'hub.sqlite'}",
        ANJU_HUB_PORT=str(port),
        ANJU_HUB_MQTT_URL=f"mqtt://127.0.0.1:{free_port()}",  # no broker: the API serves on
        ANJU_HUB_TLS_CERT_FILE=str(pki / "server.pem"),
        ANJU_HUB_TLS_KEY_FILE=str(pki / "server.key"),
    ).start()
    try:
        verify = client_context(pki / "ca.pem")
        url = f"https://localhost:{port}/healthz"

        def answers() -> bool:
            assert hub.running, hub.log_tail()
            try:
                return httpx.get(url, verify=verify, timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(answers, 30, "the hub over HTTPS")
        with pytest.raises(httpx.TransportError):
            httpx.get(url.replace("https:", "http:"), timeout=2)
    finally:
        hub.stop()
    assert f"hub ready at https://127.0.0.1:{port}" in hub.log_tail()


def test_a_hub_given_a_certificate_without_its_key_says_so(pki: Path) -> None:
    env = {**os.environ, "ANJU_HUB_TLS_CERT_FILE": str(pki / "server.pem")}
    env.pop("ANJU_HUB_TLS_KEY_FILE", None)
    done = subprocess.run(
        [sys.executable, "-m", "hub", "serve"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "HTTPS needs both" in done.stderr and "Traceback" not in done.stderr


def test_the_edge_checks_the_hubs_certificate_against_its_ca(pki: Path) -> None:
    section = HubSection(url="https://hub.compound.example", token_file=pki / "ca.pem")
    assert section.tls_verify() is True  # no CA file: the system's roots
    with_ca = section.model_copy(update={"ca_file": pki / "ca.pem"})
    assert isinstance(with_ca.tls_verify(), ssl.SSLContext)
    broken = section.model_copy(update={"ca_file": pki / "server.key"})
    with pytest.raises(ConfigError, match="ca_file"):
        broken.tls_verify()


def test_certificate_files_named_in_edge_toml_are_beside_it(
    pki: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As every path in edge.toml: relative to the file, wherever the edge is started."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name in ("ca.pem", "server.pem", "server.key"):
        (bundle / name).write_bytes((pki / name).read_bytes())
    (bundle / "edge.toml").write_text(
        'edge_id = "e1"\ncompound_id = "c1"\nsigning_key = "k.pem"\nregistry_path = "r.json"\n'
        '[hub]\nurl = "https://hub.compound.example"\ntoken_file = "hub-token"\n'
        'ca_file = "ca.pem"\n'
        '[anpr.tls]\ncert_file = "server.pem"\nkey_file = "server.key"\n'
        '[snapshots.tls]\ncert_file = "server.pem"\nkey_file = "server.key"\n',
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(bundle / "edge.toml")
    assert settings.anpr is not None and settings.anpr.tls is not None
    assert settings.anpr.tls.cert_file == bundle / "server.pem"
    assert settings.snapshots.tls is not None
    assert settings.snapshots.tls.key_file == bundle / "server.key"
    assert settings.hub is not None and settings.hub.ca_file == bundle / "ca.pem"
    assert isinstance(settings.hub.tls_verify(), ssl.SSLContext)


def test_an_endpoint_whose_port_is_taken_says_which(pki: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        listener = SnapshotListener(SnapshotSection(listen_port=port, tls=_tls(pki)), [])
        with pytest.raises(ListenError, match=f"camera snapshots: cannot listen on .*:{port}"):
            listener.start()
