"""The edge daemon: its parts built in one step from the settings
(`EdgeDaemon.from_settings`, where keys, the registry, the ledger, the outbox and the models
are read), then started and stopped in order. Nothing is assigned after construction: each
part gets what it needs when it is made, and an optional part (the hub's sync, the ANPR
listener, metrics) is there or not from then on.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from anju.faces.engines import EngineError, EngineSettings, TemplateEngine, build_engine
from anju.mqtt import BrokerAddress, Message, MqttLink
from anju.plate_models import ModelsMissing
from edge.admission import Admission, Lane, nobody
from edge.alarms import Alarms
from edge.camera_lanes import CameraParts, FaceEngines, camera_workers
from edge.cameras import CameraWorker
from edge.claims import HubClaims
from edge.clock import EdgeClock, ReplayTime, system_time
from edge.commands import GateCommands
from edge.config import EdgeSettings, Fallback
from edge.delivery import Delivery, last_will
from edge.display import LaneDisplays
from edge.drivers import make_driver
from edge.errors import ConfigError
from edge.evidence import SNAPSHOT_DETECT_PIXELS, EvidenceDesk, EvidenceStore
from edge.faces.unknown import SAME_PERSON, UnknownFaces
from edge.gate import GateController
from edge.inputs import CredentialInputs
from edge.ledger import Ledger
from edge.metrics import EdgeMetrics, Health, Readings
from edge.outbox import Outbox
from edge.plates.anpr import AnprListener
from edge.plates.clpr import ClprEngine
from edge.readers import make_reader
from edge.registry import RegistryCache, RegistryInfo
from edge.snapshots import SnapshotListener
from edge.sync import RegistrySync
from models.errors import ContractError
from models.events import Severity
from models.signing import load_private_key, load_public_key
from models.topics import Topics

logger = logging.getLogger(__name__)


class Service(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class EdgeKeys:
    """What the edge's bundle gives it, read once, before anything is built."""

    signing: Ed25519PrivateKey
    issuer: Ed25519PublicKey | None  # without it, QR passes and guard commands are refused
    pin: bytes | None  # without it, PINs are refused
    sealing: bytes | None  # seals what the edge keeps on disk

    @classmethod
    def read(cls, settings: EdgeSettings) -> EdgeKeys:
        return cls(
            signing=load_private_key(settings.signing_key),
            issuer=_read_issuer_key(settings),
            pin=_read_pin_key(settings),
            sealing=_read_key(settings.registry_key_file),
        )


class RegistryStatus:
    """The registry as the edge's status and metrics report it: version, age, staleness,
    the face lanes' engine and the face records it cannot use."""

    def __init__(
        self, registry: RegistryCache, max_age_s: float | None, engine: TemplateEngine | None
    ) -> None:
        self._registry = registry
        self._max_age_s = max_age_s  # None: no hub, never stale
        self._engine = engine.info.key if engine is not None else None

    def stale(self, now: float) -> bool:
        return self._max_age_s is not None and self._registry.stale(now, self._max_age_s)

    def info(self) -> RegistryInfo:
        now = time.time()
        skipped = None
        if self._engine is not None:  # dlib's serve as the older engine's (`FaceEngines`)
            used = {self._engine, "dlib"}
            faces = self._registry.faces()
            skipped = dict(Counter(f.engine for f in faces if f.engine not in used))
        registry = self._registry
        return RegistryInfo(
            registry.version, registry.age_s(now), self.stale(now), self._engine, skipped or None
        )


@dataclass(frozen=True)
class EdgeParts:
    """Everything the daemon runs. `inputs` (readers, cameras, listeners) start last and stop
    first; the gates stop after the link has said goodbye, locked."""

    settings: EdgeSettings
    registry: RegistryCache
    status: RegistryStatus
    outbox: Outbox
    ledger: Ledger
    link: MqttLink
    delivery: Delivery
    admission: Admission
    controllers: dict[str, GateController]
    displays: LaneDisplays
    evidence: EvidenceStore
    inputs: list[Service]
    sync: RegistrySync | None
    claims: HubClaims | None
    metrics: EdgeMetrics | None
    clock: EdgeClock
    health: Callable[[], list[Health]]  # the cameras and gates, at each scrape


@dataclass(frozen=True)
class _Core:
    """The parts the others are built around."""

    settings: EdgeSettings
    keys: EdgeKeys
    topics: Topics
    link: MqttLink
    clock: EdgeClock
    registry: RegistryCache
    alarms: Alarms
    ledger: Ledger
    evidence: EvidenceStore
    controllers: dict[str, GateController]
    admission: Admission


class EdgeDaemon:
    def __init__(self, parts: EdgeParts) -> None:
        self._parts = parts
        self.outbox = parts.outbox
        self.registry = parts.registry

    @classmethod
    def from_settings(cls, settings: EdgeSettings) -> EdgeDaemon:
        """Reads the keys first (a bad key fails before anything is touched), then the
        registry, the ledger, the outbox and the models; opens nothing on the network."""
        return cls(build_parts(settings, EdgeKeys.read(settings)))

    @property
    def refused(self) -> str | None:
        """Why the broker refused this edge for good (bad credentials, ACL), if it did."""
        return self._parts.link.refused

    def start(self) -> None:
        parts = self._parts
        parts.evidence.start()  # the sweep runs even where nothing new is kept
        parts.displays.start()
        for controller in parts.controllers.values():
            controller.start()
        if parts.sync is not None:
            parts.sync.start()
        parts.delivery.start()
        parts.link.start()
        for service in parts.inputs:
            service.start()
        self._serve_metrics()
        logger.info(
            "edge %s up: registry v%d, %d inputs, %d gates",
            parts.settings.edge_id,
            parts.registry.version,
            len(parts.inputs),
            len(parts.controllers),
        )

    def stop(self) -> None:
        """Inputs first (readers, cameras, listeners), then the gates, locked, then the
        stores. Safe on a daemon that started only in part."""
        parts = self._parts
        if parts.metrics is not None:
            parts.metrics.stop()
        for service in reversed(parts.inputs):
            service.stop()
        parts.admission.close()
        if parts.sync is not None:
            parts.sync.stop()
        if parts.claims is not None:
            parts.claims.close()
        parts.delivery.stop()
        parts.link.stop(last=parts.delivery.offline_message())
        for controller in parts.controllers.values():
            controller.stop()
        parts.displays.stop()  # after the gates: a hung screen delays nothing that matters
        parts.outbox.close()
        parts.ledger.close()
        parts.evidence.stop()

    def _serve_metrics(self) -> None:
        parts = self._parts
        section = parts.settings.metrics
        if parts.metrics is None or section is None:
            return
        readings = Readings(
            outbox=lambda: parts.outbox.health(time.time()),
            registry=parts.status.info,
            clock=parts.clock.read,
            parts=parts.health,
            disk=parts.settings.outbox.path.resolve().parent,
        )
        parts.metrics.watch(readings)
        try:
            parts.metrics.serve(section.listen_host, section.listen_port)
        except OSError as exc:  # monitoring must never keep the gates from working
            logger.error(
                "metrics not served on %s:%d: %s", section.listen_host, section.listen_port, exc
            )


def build_parts(settings: EdgeSettings, keys: EdgeKeys) -> EdgeParts:
    """Every part, each made with what it needs, in the order they depend on each other."""
    registry = RegistryCache.load(settings.registry_path, settings.compound_id, keys.sealing)
    clock = _clock(settings)
    faces = _face_engines(settings)
    hub = settings.hub
    status = RegistryStatus(registry, hub.max_age_s if hub is not None else None, faces.engine)
    topics = Topics(settings.mqtt.topic_prefix)
    link = _link(settings, topics)
    ledger = Ledger(settings.ledger_path)
    outbox, delivery = _delivery(
        settings, keys, topics=topics, link=link, status=status, clock=clock, ledger=ledger
    )
    alarms = Alarms(compound_id=settings.compound_id, delivery=delivery, clock=clock)
    controllers = {
        g.id: GateController(g, make_driver(g.driver), alarms.alarm)
        for g in settings.gates
        if g.driver is not None
    }
    claims = HubClaims(hub) if hub is not None else None
    metrics = EdgeMetrics() if settings.metrics is not None else None
    displays = LaneDisplays(settings.displays)
    evidence = _evidence_store(settings, keys)

    def fallbacks() -> dict[str, Fallback] | None:
        """Each method's fallback while the registry is stale; None while it is fresh."""
        if hub is None or not status.stale(time.time()):
            return None
        return dict(hub.fallback)

    admission = Admission(
        compound_id=settings.compound_id,
        registry=lambda: registry,
        ledger=ledger,
        clock=clock,
        gates={g.id: g for g in settings.gates},
        timezone=ZoneInfo(settings.timezone),  # checked with the configuration
        fallbacks=fallbacks,
        delivery=delivery,
        alarms=alarms,
        controllers=controllers,
        evidence=evidence,
        issuer_key=keys.issuer,
        claims=claims,
        on_decision=metrics.decided if metrics is not None else nobody,
        on_verdict=displays.on_verdict,
    )
    core = _Core(
        settings,
        keys,
        topics,
        link,
        clock,
        registry,
        alarms,
        ledger,
        evidence,
        controllers,
        admission,
    )
    sync = _registry_sync(core)
    if keys.issuer is not None:
        _answer_the_hub(core, keys.issuer)
    camera_parts = CameraParts(
        admission=admission,
        registry=lambda: registry,
        faces=faces,
        unknown=_unknown_faces(settings, keys, faces),
        displays=displays,
        metrics=metrics,
        snapshots=_snapshot_listener(settings),
        keep_plates=settings.evidence.plates,
    )
    inputs = _inputs(core, camera_parts)
    cameras = [s for s in inputs if isinstance(s, CameraWorker)]

    def health() -> list[Health]:
        seen = [Health("camera", c.source.name, c.up) for c in cameras]
        return seen + [Health("gate", g, c.healthy) for g, c in controllers.items()]

    return EdgeParts(
        settings=settings,
        registry=registry,
        status=status,
        outbox=outbox,
        ledger=ledger,
        link=link,
        delivery=delivery,
        admission=admission,
        controllers=controllers,
        displays=displays,
        evidence=evidence,
        inputs=inputs,
        sync=sync,
        claims=claims,
        metrics=metrics,
        clock=clock,
        health=health,
    )


def _link(settings: EdgeSettings, topics: Topics) -> MqttLink:
    return MqttLink(
        BrokerAddress.from_url(settings.mqtt.url),
        client_id=f"anju-edge-{settings.edge_id}",
        will=last_will(topics, settings.compound_id, settings.edge_id),
        keepalive_s=settings.mqtt.keepalive_s,
    )


def _delivery(
    settings: EdgeSettings,
    keys: EdgeKeys,
    *,
    topics: Topics,
    link: MqttLink,
    status: RegistryStatus,
    clock: EdgeClock,
    ledger: Ledger,
) -> tuple[Outbox, Delivery]:
    """The outbox (opened now: its epoch and backlog are read) and what sends it, with the
    edge's status."""
    outbox = Outbox.open(
        settings.outbox.path,
        edge_id=settings.edge_id,
        capacity=settings.outbox.capacity,
        alarm_thresholds=settings.outbox.alarm_thresholds,
    )
    delivery = Delivery(
        compound_id=settings.compound_id,
        edge_id=settings.edge_id,
        outbox=outbox,
        link=link,
        key=keys.signing,
        topics=topics,
        settings=settings.outbox,
        status_interval_s=settings.status_interval_s,
        registry_info=status.info,
        clock_info=clock.read,
        audit_heads=ledger,
    )
    return outbox, delivery


def _clock(settings: EdgeSettings) -> EdgeClock:
    hub = settings.hub
    return EdgeClock(
        reference=hub is not None and settings.replay_clock is None,
        max_offset_s=hub.max_clock_offset_s if hub is not None else 5.0,
        max_age_s=hub.clock_max_age_s if hub is not None else 86_400.0,
        source=ReplayTime(settings.replay_clock) if settings.replay_clock else system_time,
    )


def _registry_sync(core: _Core) -> RegistrySync | None:
    """Pulls from the hub when nudged over MQTT and every `poll_s`; none without a hub."""
    settings = core.settings
    if settings.hub is None:
        return None

    def clock_off(offset_s: float) -> None:
        text = f"This edge's clock is {offset_s:+.1f} s off the hub's; decisions use the hub's."
        core.alarms.alarm(None, "clock_offset", Severity.WARNING, text)

    sync = RegistrySync.from_settings(
        settings.hub,
        core.registry,
        settings.registry_path,
        clock=core.clock,
        on_clock_off=clock_off,
    )
    topic = core.topics.registry(settings.compound_id, settings.edge_id)
    core.link.subscribe(topic, sync.on_nudge)
    return sync


def _answer_the_hub(core: _Core, issuer: Ed25519PublicKey) -> None:
    """The guard's commands, and the hub's requests for a decision's snapshot (the answer
    goes on a topic of its own), each verified with the hub's issuer key."""
    settings, link, topics = core.settings, core.link, core.topics
    lanes = {
        (r.gate_id, r.direction.value): Lane(r.gate_id, r.lane, r.direction)
        for r in settings.readers
    }
    commands = GateCommands(
        compound_id=settings.compound_id,
        edge_id=settings.edge_id,
        issuer_key=issuer,
        clock=core.clock,
        admission=core.admission,
        alarms=core.alarms,
        controllers=core.controllers,
        lanes=lanes,
        seen=core.ledger.first_time,
    )
    link.subscribe(topics.command(settings.compound_id, settings.edge_id), commands.on_message)
    reply_topic = topics.evidence(settings.compound_id, settings.edge_id)
    desk = EvidenceDesk(
        compound_id=settings.compound_id,
        edge_id=settings.edge_id,
        issuer_key=issuer,
        signing_key=core.keys.signing,
        clock=core.clock,
        store=core.evidence,
        # QoS 0, both ways: a picture must never wait in a broker's queue or its files
        # for a hub that has given up (it asks again, and audits that too).
        reply=lambda payload: link.publish(Message(reply_topic, payload, qos=0)),
        seen=core.ledger.first_time,
    )
    request_topic = topics.evidence_request(settings.compound_id, settings.edge_id)
    link.subscribe(request_topic, desk.on_message, qos=0)


def _inputs(core: _Core, cameras: CameraParts) -> list[Service]:
    """The readers, the ANPR cameras' listener, the cameras' snapshot listener and the
    camera workers, in the order they start."""
    settings = core.settings
    keeps_anpr = settings.anpr is not None and settings.evidence.anpr and core.evidence.enabled
    handlers = CredentialInputs(
        core.admission,
        core.alarms,
        pin_key=core.keys.pin,
        anpr_snapshots=settings.evidence.anpr,
        plate_detector=_snapshot_detector(keeps_anpr),
    )
    inputs: list[Service] = [make_reader(r, handlers) for r in settings.readers]
    if settings.anpr is not None:
        inputs.append(AnprListener(settings.anpr, handlers.anpr))
    if cameras.snapshots is not None:
        inputs.append(cameras.snapshots)
    inputs.extend(camera_workers(settings.cameras, cameras))
    return inputs


def _snapshot_listener(settings: EdgeSettings) -> SnapshotListener | None:
    """Where cameras push their snapshots rather than stream."""
    if not any(c.source == "push" for c in settings.cameras):
        return None
    return SnapshotListener(settings.snapshots, settings.cameras)


def _unknown_faces(settings: EdgeSettings, keys: EdgeKeys, faces: FaceEngines) -> UnknownFaces:
    engine = faces.engine
    return UnknownFaces(
        settings.ledger_path.with_name("unknown.bin"),
        keys.sealing,
        same_person=engine.calibration.threshold if engine else SAME_PERSON,
    )


def _evidence_store(settings: EdgeSettings, keys: EdgeKeys) -> EvidenceStore:
    """Snapshots are kept only where they are sealed and staff can ask for them (the hub's
    requests are verified with the issuer key): nothing is collected for nobody."""
    section = settings.evidence
    answerable = keys.issuer is not None
    if keys.sealing is None or not answerable:
        why = "no registry key to seal them" if keys.sealing is None else "no issuer key to ask"
        logger.warning("decision snapshots are not kept on this edge: %s", why)
    return EvidenceStore(
        section.directory,
        keys.sealing if answerable else None,
        retention_s=section.retention_days * 86_400,
        max_bytes=section.max_mb * 1024 * 1024,
    )


def _face_engines(settings: EdgeSettings) -> FaceEngines:
    """Loaded only where a face camera runs; dlib beside another engine, for the people
    not yet enrolled again with it."""
    if not any(c.kind == "face" for c in settings.cameras):
        return FaceEngines(None)
    engine = _face_engine(settings.faces)
    if engine is None or engine.info.key == "dlib":
        return FaceEngines(engine)
    role = "the dlib engine for people not yet enrolled again"
    return FaceEngines(engine, _face_engine(EngineSettings(), role))


def _snapshot_detector(keeps_snapshots: bool) -> ClprEngine | None:
    """The plate detector that finds white and black plates (no plate colour to look for)
    in ANPR cameras' pictures, loaded now so that no car waits for it; without the plate
    models such pictures keep nothing, and the cameras' pushes are decided as ever."""
    if not keeps_snapshots:
        return None
    detector = ClprEngine(detect_pixels=SNAPSHOT_DETECT_PIXELS)
    try:
        detector.load_detector()
    except ModelsMissing as exc:
        logger.error("ANPR snapshots of white and black plates are not kept: %s", exc)
        return None
    except Exception:  # a damaged model file: the snapshot is lost, never the gates
        logger.exception("ANPR snapshots of white and black plates are not kept")
        return None
    return detector


def _read_key(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        key = base64.b64decode(path.read_bytes(), validate=True)
    except (OSError, binascii.Error) as exc:
        raise ConfigError(f"cannot read the key {path}: {exc}") from exc
    if len(key) != 32:
        raise ConfigError(f"{path} does not hold a 32-byte key")
    return key


def _read_pin_key(settings: EdgeSettings) -> bytes | None:
    """The compound's PIN key from the edge's bundle; without one, PINs are refused."""
    if settings.hub is None or settings.hub.pin_key_file is None:
        return None
    try:
        return base64.b64decode(settings.hub.pin_key_file.read_bytes(), validate=True)
    except (OSError, binascii.Error) as exc:
        raise ConfigError(f"cannot read the PIN key {settings.hub.pin_key_file}: {exc}") from exc


def _read_issuer_key(settings: EdgeSettings) -> Ed25519PublicKey | None:
    """The hub's public issuer key; without one, QR passes and guard commands are refused."""
    if settings.hub is None or settings.hub.issuer_key_file is None:
        return None
    path = settings.hub.issuer_key_file
    try:
        return load_public_key(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError, ContractError) as exc:
        raise ConfigError(f"cannot read the issuer key {path}: {exc}") from exc


def _face_engine(settings: EngineSettings, role: str = "face lanes") -> TemplateEngine | None:
    """The engine; None, with the fix logged, when its model is missing, damaged or its
    terms not accepted (the lanes' cards, PINs and QR codes go on)."""
    try:
        return build_engine(settings)
    except EngineError as exc:
        logger.error("%s not started: %s", role, exc)
        return None
