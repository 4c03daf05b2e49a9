"""deploy/ holds configuration that must agree with the code: every metric an alert uses is
one the hub or an edge exports; the compose file, the Prometheus files and the systemd units
parse and run what exists."""

from __future__ import annotations

import configparser
import re
from datetime import UTC, datetime
from pathlib import Path

import yaml
from prometheus_client import generate_latest
from sqlmodel import Session, create_engine

from edge.clock import ClockReading
from edge.metrics import EdgeMetrics, Health, Readings
from edge.registry import RegistryInfo
from hub.core.db import migrate
from hub.metrics import HubMetrics
from hub.tables import Edge
from models.events import OutboxHealth

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def exported_names(tmp_path: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    migrate(engine)
    with Session(engine) as session:
        session.add(
            Edge(
                edge_id="e1",
                compound_id="c1",
                public_key="-",
                online=True,
                status_at=datetime.now(UTC),
                outbox_rows=0,
                registry_age_s=1.0,
                clock_offset_s=0.0,
            )
        )
        session.commit()
    hub = HubMetrics(engine, lambda: True)
    hub.dead_letters.labels("bad_signature").inc()
    hub.stored.labels("entry", "granted").inc()
    edge = EdgeMetrics()
    edge.decided("card", "granted")
    edge.watch(
        Readings(
            outbox=lambda: OutboxHealth(rows=1, capacity=10, oldest_age_s=2.0),
            registry=lambda: RegistryInfo(3, 5.0, False),
            clock=lambda: ClockReading(
                now=__import__("datetime").datetime.now(), trusted=True, offset_s=0.1
            ),
            parts=lambda: [Health("camera", "cam-1", True), Health("gate", "east", True)],
            disk=tmp_path,
        )
    )
    text = (generate_latest(hub.registry) + generate_latest(edge.registry)).decode()
    engine.dispose()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}


def test_every_metric_an_alert_uses_is_exported(tmp_path: Path) -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    used = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in re.findall(r"\banju_[a-z_]+", rule["expr"])
    }
    assert used, "the alerts use Anju's metrics"
    exported = exported_names(tmp_path)
    assert used <= exported, used - exported


def test_prometheus_scrapes_the_alerts_file_it_names() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    assert {job["job_name"] for job in config["scrape_configs"]} >= {"anju-hub", "anju-edge"}


def test_compose_runs_the_hub_and_the_edge_with_their_real_commands() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"mqtt", "db", "hub", "edge"}
    assert services["hub"]["command"][:4] == ["python", "-m", "hub", "serve"]
    assert services["edge"]["command"][:4] == ["python", "-m", "edge", "run"]
    mounted = [v.split(":")[0] for v in services["mqtt"]["volumes"] if v.startswith("./")]
    for path in mounted:
        if not path.startswith("./secrets"):
            assert (DEPLOY / path).exists(), path


def test_systemd_units_start_the_modules_that_exist() -> None:
    root = DEPLOY.parent
    for unit in (DEPLOY / "systemd").glob("*.service"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read(unit, encoding="utf-8")
        command = parser["Service"]["ExecStart"].split()
        module = command[command.index("-m") + 1]
        assert (root / module / "__main__.py").exists(), unit.name
        assert parser["Service"]["Restart"] == "always"
