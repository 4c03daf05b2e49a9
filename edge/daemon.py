"""Wiring of the edge daemon: registry, outbox, MQTT link, delivery, readers, gates, commands."""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from anju.faces.engines import EngineError, EngineSettings, TemplateEngine, build_engine
from anju.mqtt import BrokerAddress, Message, MqttLink
from anju.plate_models import ModelsMissing
from edge.admission import Admission, Lane
from edge.cameras import CameraWorker, FrameLane, Source
from edge.capture import FrameSource
from edge.claims import HubClaims
from edge.clock import EdgeClock, ReplayTime, system_time
from edge.commands import GateCommands
from edge.config import CameraSection, EdgeSettings, Fallback, WiegandReaderSection
from edge.decide import (
    CardEvidence,
    Evidence,
    FaceEvidence,
    PinEvidence,
    PlateEvidence,
    QrEvidence,
)
from edge.delivery import Delivery, last_will
from edge.display import DisplayedLane, LaneDisplays, for_face
from edge.drivers import make_driver
from edge.errors import ConfigError
from edge.evidence import SNAPSHOT_DETECT_PIXELS, EvidenceDesk, EvidenceStore, scene_plate
from edge.faces.gallery import RegistryGallery
from edge.faces.pipeline import FaceLane, Matcher
from edge.faces.unknown import SAME_PERSON, UnknownFaces
from edge.gate import GateController
from edge.ledger import Ledger
from edge.metrics import EdgeMetrics, Health, Readings
from edge.outbox import Outbox
from edge.pin_guard import PinGuard
from edge.plates.anpr import AnprListener, Answer, Pushed
from edge.plates.clpr import ClprEngine
from edge.plates.engines import text_engine
from edge.plates.lane import PlateLane, Snapshot
from edge.plates.reader import PlateReader
from edge.plates.vote import PlateVoter
from edge.readers import WiegandListener
from edge.registry import RegistryCache, RegistryInfo
from edge.snapshots import SnapshotListener
from edge.sync import RegistrySync
from models.errors import ContractError
from models.events import Method, Severity
from models.pins import pin_digest
from models.signing import load_private_key, load_public_key
from models.topics import Topics
from models.wiegand import WiegandRead

logger = logging.getLogger(__name__)


class EdgeDaemon:
    def __init__(self, settings: EdgeSettings) -> None:
        self._settings = settings
        self.registry = RegistryCache(settings.compound_id)
        self.outbox = Outbox(
            settings.outbox.path,
            edge_id=settings.edge_id,
            capacity=settings.outbox.capacity,
            alarm_thresholds=settings.outbox.alarm_thresholds,
        )
        hub = settings.hub
        self.clock = EdgeClock(
            reference=hub is not None and settings.replay_clock is None,
            max_offset_s=hub.max_clock_offset_s if hub is not None else 5.0,
            max_age_s=hub.clock_max_age_s if hub is not None else 86_400.0,
            source=ReplayTime(settings.replay_clock) if settings.replay_clock else system_time,
        )
        self.listeners = [
            WiegandListener(r, self._on_card, self._on_pin, self._on_qr) for r in settings.readers
        ]
        self.anpr = None if settings.anpr is None else AnprListener(settings.anpr, self._on_anpr)
        self._plate_detector: ClprEngine | None = None  # white and black plates in ANPR pictures
        self.cameras: list[CameraWorker] = []
        self.displays = LaneDisplays(settings.displays)
        self.snapshots: SnapshotListener | None = None
        self._unknown_faces = UnknownFaces()
        self._face_engine: TemplateEngine | None = None
        self._older_engine: TemplateEngine | None = None  # dlib, while people re-enrol
        self.lanes = {
            (r.gate_id, r.direction.value): Lane(r.gate_id, r.lane, r.direction)
            for r in settings.readers
        }
        self.admission: Admission | None = None
        self._ledger: Ledger | None = None
        self._link: MqttLink | None = None
        self._delivery: Delivery | None = None
        self._sync: RegistrySync | None = None
        self._claims: HubClaims | None = None
        self._pin_key: bytes | None = None
        self._sealing_key: bytes | None = None  # seals what the edge keeps on disk
        self._pin_guard = PinGuard()
        self.metrics = EdgeMetrics() if settings.metrics is not None else None
        self.evidence: EvidenceStore | None = None

    def registry_info(self) -> RegistryInfo:
        now = time.time()
        stale = self._sync is not None and self._sync.stale(now)
        engine = None if self._face_engine is None else self._face_engine.info.key
        skipped = None
        if engine is not None:  # dlib's serve as the older engine's (`_older_matcher`)
            used = {engine, "dlib"}
            skipped = dict(Counter(f.engine for f in self.registry.faces() if f.engine not in used))
        return RegistryInfo(
            self.registry.version, self.registry.age_s(now), stale, engine, skipped or None
        )

    def start(self) -> None:
        settings = self._settings
        key = load_private_key(settings.signing_key)  # fail before touching anything
        self._pin_key = _read_pin_key(settings)
        issuer_key = _read_issuer_key(settings)
        timezone = ZoneInfo(settings.timezone)  # checked with the configuration
        self._sealing_key = _read_key(settings.registry_key_file)
        self.registry = RegistryCache.load(
            settings.registry_path, settings.compound_id, self._sealing_key
        )
        self._ledger = Ledger(settings.ledger_path)
        self.outbox.open()
        topics = Topics(settings.mqtt.topic_prefix)
        self._link = MqttLink(
            BrokerAddress.from_url(settings.mqtt.url),
            client_id=f"anju-edge-{settings.edge_id}",
            will=last_will(topics, settings.compound_id, settings.edge_id),
            keepalive_s=settings.mqtt.keepalive_s,
        )
        self._delivery = Delivery(
            compound_id=settings.compound_id,
            edge_id=settings.edge_id,
            outbox=self.outbox,
            link=self._link,
            key=key,
            topics=topics,
            settings=settings.outbox,
            status_interval_s=settings.status_interval_s,
            registry_info=self.registry_info,
            clock_info=self.clock.read,
        )
        if settings.hub is not None:
            self._claims = HubClaims(settings.hub)
        admission = Admission(
            compound_id=settings.compound_id,
            registry=lambda: self.registry,
            ledger=self._ledger,
            clock=self.clock,
            gates={g.id: g for g in settings.gates},
            timezone=timezone,
            fallbacks=self._fallbacks,
            issuer_key=issuer_key,
            claims=self._claims,
        )
        admission.delivery = self._delivery
        admission.evidence = self._evidence_store(answerable=issuer_key is not None)
        if self.metrics is not None:
            admission.on_decision = self.metrics.decided
        self.displays.start()
        admission.on_verdict = self.displays.on_verdict
        self.admission = admission
        self._start_gates(admission)
        self._start_cameras(admission)
        if settings.hub is not None:
            self._sync = RegistrySync(
                settings.hub,
                self.registry,
                settings.registry_path,
                clock=self.clock,
                on_clock_off=self._clock_off,
            )
            self._link.subscribe(
                topics.registry(settings.compound_id, settings.edge_id), self._sync.on_nudge
            )
            self._sync.start()
        if issuer_key is not None:
            commands = GateCommands(
                compound_id=settings.compound_id,
                edge_id=settings.edge_id,
                issuer_key=issuer_key,
                clock=self.clock,
                admission=admission,
                controllers=lambda: admission.controllers,
                lanes=self.lanes,
                seen=self._ledger.first_time,
            )
            command_topic = topics.command(settings.compound_id, settings.edge_id)
            self._link.subscribe(command_topic, commands.on_message)
            self._answer_evidence_requests(issuer_key, key, topics)
        self._delivery.start()
        self._link.start()
        for listener in self.listeners:
            listener.start()
        if self.anpr is not None:
            store = self.evidence
            keeps = self._settings.evidence.anpr and store is not None and store.enabled
            self._plate_detector = _snapshot_detector(keeps)
            self.anpr.start()
        self._serve_metrics()
        logger.info(
            "edge %s up: registry v%d, %d readers, %d gates",
            settings.edge_id,
            self.registry.version,
            len(self.listeners),
            len(admission.controllers),
        )

    def _evidence_store(self, *, answerable: bool) -> EvidenceStore:
        """Snapshots are kept only where they are sealed and staff can ask for them (the
        hub's requests are verified with the issuer key): nothing is collected for nobody."""
        section = self._settings.evidence
        key = self._sealing_key
        if key is None or not answerable:
            why = "no registry key to seal them" if key is None else "no issuer key to ask"
            logger.warning("decision snapshots are not kept on this edge: %s", why)
        store = EvidenceStore(
            section.directory,
            key if answerable else None,
            retention_s=section.retention_days * 86_400,
            max_bytes=section.max_mb * 1024 * 1024,
        )
        store.start()  # the sweep runs even where nothing new is kept: old ones still go
        self.evidence = store
        return store

    def _answer_evidence_requests(
        self, issuer_key: Ed25519PublicKey, signing_key: Ed25519PrivateKey, topics: Topics
    ) -> None:
        """The hub asks for a decision's snapshot on one topic; the answer goes on another."""
        settings = self._settings
        if self._link is None or self._ledger is None or self.evidence is None:
            raise RuntimeError("evidence requests before the link, ledger and store")
        link = self._link
        reply_topic = topics.evidence(settings.compound_id, settings.edge_id)
        desk = EvidenceDesk(
            compound_id=settings.compound_id,
            edge_id=settings.edge_id,
            issuer_key=issuer_key,
            signing_key=signing_key,
            clock=self.clock,
            store=self.evidence,
            # QoS 0, both ways: a picture must never wait in a broker's queue or its files
            # for a hub that has given up (it asks again, and audits that too).
            reply=lambda payload: link.publish(Message(reply_topic, payload, qos=0)),
            seen=self._ledger.first_time,
        )
        request_topic = topics.evidence_request(settings.compound_id, settings.edge_id)
        link.subscribe(request_topic, desk.on_message, qos=0)

    def _stop_inputs(self) -> None:
        if self.metrics is not None:
            self.metrics.stop()
        for listener in self.listeners:
            listener.stop()
        if self.anpr is not None:
            self.anpr.stop()
        if self.snapshots is not None:
            self.snapshots.stop()
        for camera in self.cameras:
            camera.stop()

    def _serve_metrics(self) -> None:
        section = self._settings.metrics
        if self.metrics is None or section is None:
            return
        readings = Readings(
            outbox=lambda: self.outbox.health(time.time()),
            registry=self.registry_info,
            clock=self.clock.read,
            parts=self._parts,
            disk=self._settings.outbox.path.resolve().parent,
        )
        self.metrics.watch(readings)
        try:
            self.metrics.serve(section.listen_host, section.listen_port)
        except OSError as exc:  # monitoring must never keep the gates from working
            logger.error(
                "metrics not served on %s:%d: %s", section.listen_host, section.listen_port, exc
            )

    def _parts(self) -> list[Health]:
        cameras = [Health("camera", c.source.name, c.up) for c in self.cameras]
        controllers = self.admission.controllers if self.admission is not None else {}
        gates = [Health("gate", gate_id, c.healthy) for gate_id, c in controllers.items()]
        return cameras + gates

    def _start_cameras(self, admission: Admission) -> None:
        settings = self._settings
        if any(c.kind == "face" for c in settings.cameras):
            self._face_engine = _face_engine(settings.faces)
        if self._face_engine is not None and self._face_engine.info.key != "dlib":
            role = "the dlib engine for people not yet enrolled again"
            self._older_engine = _face_engine(EngineSettings(), role)
        engine = self._face_engine
        self._unknown_faces = UnknownFaces(
            settings.ledger_path.with_name("unknown.bin"),
            self._sealing_key,
            same_person=engine.calibration.threshold if engine else SAME_PERSON,
        )
        if any(c.source == "push" for c in settings.cameras):
            self.snapshots = SnapshotListener(settings.snapshots, settings.cameras)
            self.snapshots.start()
        for section in settings.cameras:
            if section.kind == "face" and self._face_engine is None:
                continue  # no usable face model: cards, PINs and QR codes go on
            lane = Lane(section.gate_id, section.lane, section.direction)
            source: Source = FrameSource(section.source, section.id)
            if section.source == "push" and self.snapshots is not None:
                source = self.snapshots.sources[section.id]
            observe = self.metrics.frame if self.metrics is not None else None
            worker = CameraWorker(source, self._displayed(section, lane), observe)
            self.cameras.append(worker)
            worker.start()

    def _displayed(self, section: CameraSection, lane: Lane) -> FrameLane:
        """The camera's lane; a face camera's prompts also go to the lane's screen (every
        lane's decisions reach it through the admission)."""
        camera_lane = self._camera_lane(section, lane)
        display = self.displays.at(lane.gate_id, lane.lane)
        if display is None or not isinstance(camera_lane, FaceLane):
            return camera_lane
        return DisplayedLane(camera_lane, display, for_face)

    def _camera_lane(self, section: CameraSection, lane: Lane) -> FaceLane | PlateLane:
        if self.admission is None:
            raise RuntimeError("cameras before the admission")
        admission = self.admission

        keep_plates = self._settings.evidence.plates

        def admit(evidence: FaceEvidence | PlateEvidence, snapshot: Snapshot | None = None) -> bool:
            admitted = admission.admit(lane, evidence, snapshot if keep_plates else None)
            return admitted.verdict.granted and admitted.opened

        if section.kind == "face":
            unknown = self._unknown_faces

            def unknown_face(template: np.ndarray) -> None:
                admission.unknown_face(lane, unknown.pseudonym(template))

            def unusable_face(why: str) -> None:
                admission.unusable_face(lane, why)

            engine = self._face_engine
            assert engine is not None  # face cameras start only with an engine
            gallery = RegistryGallery(
                lambda: self.registry,
                engine.info.key,
                engine.calibration,
                length=engine.info.length,
            )
            return FaceLane(
                section.id,
                engine,
                gallery,
                admit,
                unknown=unknown_face,
                unusable=unusable_face,
                older=self._older_matcher(engine),
            )
        reader = PlateReader(text_engine(section.plate_engine))
        return PlateLane(section.id, reader, PlateVoter(), admit)

    def _older_matcher(self, engine: TemplateEngine) -> Matcher | None:
        """Where the lanes run another engine than dlib's: dlib, for the people enrolled
        before the change and not yet again (sent to the second factor, told to re-enrol)."""
        older = self._older_engine
        if older is None:
            return None
        gallery = RegistryGallery(
            lambda: self.registry,
            "dlib",
            older.calibration,
            length=older.info.length,
            only_without=engine.info.key,
        )
        return Matcher(older, gallery)

    def _start_gates(self, admission: Admission) -> None:
        """Take control of every gate with a driver; each is put back in its normal state."""
        for section in self._settings.gates:
            if section.driver is None:
                continue
            controller = GateController(section, make_driver(section.driver), admission.alarm)
            admission.controllers[section.id] = controller
            controller.start()

    @property
    def refused(self) -> str | None:
        """Why the broker refused this edge for good (bad credentials, ACL), if it did."""
        return None if self._link is None else self._link.refused

    def stop(self) -> None:
        """Inputs first (readers, cameras, commands), then the gates, locked, then the stores."""
        self._stop_inputs()
        if self.admission is not None:
            self.admission.close()
        if self._sync is not None:
            self._sync.stop()
        if self._claims is not None:
            self._claims.close()
        if self._delivery is not None:
            self._delivery.stop()
        if self._link is not None and self._delivery is not None:
            self._link.stop(last=self._delivery.offline_message())
        if self.admission is not None:
            for controller in self.admission.controllers.values():
                controller.stop()
        self.displays.stop()  # after the gates: a hung screen delays nothing that matters
        self.outbox.close()
        if self._ledger is not None:
            self._ledger.close()
        if self.evidence is not None:
            self.evidence.stop()

    def _fallbacks(self) -> dict[str, Fallback] | None:
        """Each method's fallback while the registry is stale; None while it is fresh."""
        hub = self._settings.hub
        if hub is None or not self.registry_info().stale:
            return None
        return dict(hub.fallback)

    def _clock_off(self, offset_s: float) -> None:
        text = f"This edge's clock is {offset_s:+.1f} s off the hub's; decisions use the hub's."
        self._alarm(None, "clock_offset", Severity.WARNING, text)

    def _alarm(self, gate_id: str | None, code: str, severity: Severity, text: str) -> None:
        if self.admission is not None:
            self.admission.alarm(gate_id, code, severity, text)

    def _admit(self, reader: WiegandReaderSection, evidence: Evidence) -> bool:
        if self.admission is None:
            raise RuntimeError("a read before the daemon started")
        lane = Lane(reader.gate_id, reader.lane, reader.direction)
        admitted = self.admission.admit(lane, evidence)
        return admitted.verdict.granted and admitted.opened

    def _on_card(self, reader: WiegandReaderSection, read: WiegandRead) -> bool:
        return self._admit(reader, CardEvidence(read.card_number))

    def _on_qr(self, reader: WiegandReaderSection, token: str) -> bool:
        return self._admit(reader, QrEvidence(token))

    def _on_anpr(self, pushed: Pushed) -> Answer:
        if self.admission is None:
            raise RuntimeError("a push before the daemon started")
        camera = pushed.camera
        lane = Lane(camera.gate_id, camera.lane, camera.direction)
        evidence = PlateEvidence(pushed.number, pushed.confidence, tolerant=False)
        admitted = self.admission.admit(lane, evidence, self._anpr_snapshot(pushed))
        result = "granted" if admitted.verdict.granted and admitted.opened else "denied"
        return Answer(result, admitted.verdict.decision.reason_code)

    def _anpr_snapshot(self, pushed: Pushed) -> Snapshot | None:
        """The plate in the camera's snapshot as the decision's picture (when kept)."""
        picture = pushed.snapshot
        if picture is None or not self._settings.evidence.anpr:
            return None
        detector = self._plate_detector
        return lambda: scene_plate(picture, detector)

    def _on_pin(self, reader: WiegandReaderSection, pin: str) -> bool:
        lane = f"{reader.gate_id}/{reader.lane}"
        if self._pin_guard.locked(lane, time.monotonic()):
            return self._refuse_pin(reader, "pin_locked", "Too many wrong PINs here; use a card.")
        if self._pin_key is None:
            return self._refuse_pin(reader, "pin_unavailable", "This gate cannot check PINs.")
        granted = self._admit(reader, PinEvidence(pin_digest(self._pin_key, pin)))
        if self._pin_guard.record(lane, granted, time.monotonic()):
            text = f"Repeated wrong PINs at {lane}; PINs paused."
            self._alarm(reader.gate_id, "pin_guessing", Severity.WARNING, text)
        return granted

    def _refuse_pin(self, reader: WiegandReaderSection, code: str, reason: str) -> bool:
        """A PIN refused before any decision: still an entry event, with the reason."""
        if self.admission is not None:
            lane = Lane(reader.gate_id, reader.lane, reader.direction)
            self.admission.refuse(lane, Method.PIN, code, reason)
        return False


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
