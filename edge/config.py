"""The edge's configuration: a TOML file, overridden by `ANJU_EDGE_*` environment variables.

Built once in the entrypoint; each component receives only its own section.
"""

from __future__ import annotations

import ssl
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from anju.faces.engines import EngineSettings
from anju.tls import TlsError, client_context, server_context
from edge.errors import ConfigError
from edge.schedules import Window
from models.events import Direction, Identifier, Method, SubjectKind, ZoneName


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSection(Section):
    url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://[user:password@]host:port")
    topic_prefix: str = Field("anju", description="First segment of every topic")
    keepalive_s: int = Field(30, ge=5, le=600)


class OutboxSection(Section):
    path: Path = Field(Path("outbox.sqlite"), description="SQLite file; keep it on durable storage")
    capacity: int = Field(1_000_000, ge=10, description="Most unconfirmed events kept")
    alarm_thresholds: tuple[float, ...] = Field((0.8, 0.9), description="Fill fractions that alarm")
    resend_after_s: float = Field(10.0, gt=0, description="Re-send when unconfirmed this long")
    window: int = Field(1000, ge=1, description="Most events sent and not yet confirmed")


Fallback = Literal["allow", "deny", "guard"]
# What reads plates at a plate camera (edge/plates/engines.py): the plate-trained models, or
# PP-OCR's general models (slower and weaker on provinces, but they read coach plates' 学).
PlateEngineName = Literal["plate_models", "general_ocr"]


class TlsSection(Section):
    """A push endpoint served over HTTPS: its certificate (chain) and private key, PEM
    (checked by `load_settings`, before any gate is taken)."""

    cert_file: Path
    key_file: Path


class HubSection(Section):
    """Where the registry comes from. Without it the edge decides from `registry_path` alone."""

    url: str = Field(description="The hub's base URL, e.g. https://hub.compound.example")
    token_file: Path = Field(description="File holding this edge's token for the hub")
    ca_file: Path | None = Field(
        None, description="The CA that signed the hub's certificate (default: the system's)"
    )
    pin_key_file: Path | None = Field(None, description="File holding the compound's PIN key")
    poll_s: float = Field(60.0, gt=0, description="Pull the registry at least this often")
    max_age_s: float = Field(
        3600.0, gt=0, description="A registry not synced for this long is stale"
    )
    issuer_key_file: Path | None = Field(
        None, description="The hub's public issuer key: verifies QR passes and gate commands"
    )
    claim_timeout_s: float = Field(
        0.3, gt=0, le=5, description="How long a gate waits for the hub to count a pass entry"
    )
    max_clock_offset_s: float = Field(
        5.0,
        gt=0,
        description="A clock further than this from the hub's raises an alarm"
        " (decisions still use the hub's time)",
    )
    clock_max_age_s: float = Field(
        86_400.0, gt=0, description="An offset measured longer ago than this is not trusted"
    )
    fallback: dict[str, Fallback] = Field(
        default_factory=lambda: dict[str, Fallback](
            card="allow", pin="allow", qr="allow", plate="allow", face="guard"
        ),
        description="What a credential type does while the registry is stale: allow (decide"
        " from the cache), deny, or guard (deny and ask the guard)",
    )

    def tls_verify(self) -> ssl.SSLContext | bool:
        """How the edge checks the hub's certificate: against `ca_file`, or (True) the
        system's roots."""
        if self.ca_file is None:
            return True
        try:
            return client_context(self.ca_file)
        except TlsError as exc:
            raise ConfigError(f"[hub] ca_file: {exc}") from exc

    @field_validator("fallback")
    @classmethod
    def _known_methods(cls, value: dict[str, Fallback]) -> dict[str, Fallback]:
        unknown = set(value) - {m.value for m in Method}
        if unknown:
            raise ValueError(f"fallback for unknown methods {sorted(unknown)}")
        return value


class WiegandReaderSection(Section):
    """A Wiegand-to-network converter that connects to the edge and sends one frame a line."""

    type: Literal["wiegand_tcp"] = "wiegand_tcp"
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(ge=0, le=65535)
    gate_id: Identifier
    lane: Identifier
    direction: Direction


ReaderSection = Annotated[WiegandReaderSection, Field(discriminator="type")]


class HttpRelaySection(Section):
    """A relay board on the network answering HTTP (see `edge.drivers`)."""

    type: Literal["http_relay"] = "http_relay"
    url: str = Field(description="e.g. http://192.168.1.50")
    channel: int = Field(0, ge=0, le=63)
    timeout_s: float = Field(0.5, gt=0, le=10)


class ModbusSection(Section):
    """A Modbus-TCP I/O module: a coil per relay, discrete inputs and counters per channel."""

    type: Literal["modbus_tcp"] = "modbus_tcp"
    host: str
    port: int = Field(502, ge=1, le=65535)
    unit: int = Field(1, ge=0, le=247)
    channel: int = Field(0, ge=0, le=15, description="Inputs 16.. are the loops, 32 the fire")
    timeout_s: float = Field(0.5, gt=0, le=10)


class CameraSection(Section):
    """A camera at a lane, read by the edge: faces at a pedestrian lane, plates at a vehicle
    lane. `source`: rtsp://…, http(s)://… (MJPEG), usb:N, a video file or a folder."""

    id: Identifier
    source: str = Field(
        min_length=1, max_length=500, description='A URL, a path, or "push" (see [snapshots])'
    )
    kind: Literal["face", "plate"]
    gate_id: Identifier
    lane: Identifier
    direction: Direction
    password_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="For a pushing camera: its password's hash"
    )
    plate_engine: PlateEngineName = Field(
        "plate_models",
        description='For a plate camera: "plate_models" (the plate models, with PP-OCR\'s '
        'second opinion on each plate), or "general_ocr" (PP-OCR alone)',
    )

    @model_validator(mode="after")
    def _push_needs_a_password(self) -> CameraSection:
        if self.source == "push" and self.password_sha256 is None:
            raise ValueError(f"camera {self.id} pushes snapshots: give its password_sha256")
        return self

    @model_validator(mode="after")
    def _plate_engine_only_for_plates(self) -> CameraSection:
        if self.kind != "plate" and "plate_engine" in self.model_fields_set:
            raise ValueError(f"camera {self.id} reads faces: plate_engine is for plate cameras")
        return self


class DisplaySection(Section):
    """A lane's screen (an LED or LCD panel's controller on the gate's network): what the
    lane's camera asks of people and what it decided are POSTed to `url` as JSON."""

    gate_id: Identifier
    lane: Identifier
    url: str = Field(pattern=r"^https?://", max_length=500, description="https: system roots")
    timeout_s: float = Field(1.0, gt=0, le=10)

    @field_validator("url")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a URL: {exc}") from exc
        return value


class MetricsSection(Section):
    """Prometheus metrics at http://listen_host:listen_port/metrics (no personal data)."""

    listen_host: str = "127.0.0.1"
    listen_port: int = Field(9108, ge=0, le=65535)


class SnapshotSection(Section):
    """Where cameras that push JPEG snapshots send them: POST /cameras/<id>/snapshot."""

    listen_host: str = "127.0.0.1"
    listen_port: int = Field(8089, ge=0, le=65535)
    tls: TlsSection | None = Field(
        None, description="Serve HTTPS (cameras send passwords and pictures): cert and key"
    )


class AnprCameraSection(Section):
    """A barrier camera that recognises plates itself and pushes each result to the edge."""

    id: Identifier
    password_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 (hex) of the camera's push password"
    )
    gate_id: Identifier
    lane: Identifier
    direction: Direction


class AnprSection(Section):
    """Where ANPR cameras push their results (HTTP multipart, HTTP Basic per camera)."""

    listen_host: str = "127.0.0.1"
    listen_port: int = Field(8088, ge=0, le=65535)
    tls: TlsSection | None = Field(
        None, description="Serve HTTPS (cameras send passwords and pictures): cert and key"
    )
    repeat_s: float = Field(
        5.0, ge=0, description="The same plate again from a camera within this is not re-decided"
    )
    cameras: list[AnprCameraSection] = Field(default_factory=list)


DriverSection = Annotated[HttpRelaySection | ModbusSection, Field(discriminator="type")]
PassbackMode = Literal["off", "soft", "hard"]
FaceMode = Literal["risk_gate", "second_factor"]


class GateSection(Section):
    """One gate: its relay, how it fails, and its rules. A reader names its gate by `id`; a
    reader without a `[[gates]]` entry decides and logs but drives nothing."""

    id: Identifier
    kind: Literal["door", "barrier"] = "door"
    egress: bool = Field(False, description="An exit the fire alarm releases")
    fail_mode: Literal["safe", "secure"] = Field(
        "secure",
        description="What the controller's safe state is set to (on the device): safe,"
        " released when control is lost; secure, stays locked. The edge names what it finds"
        " at start accordingly (relay_left_on or released_while_away)",
    )
    open_s: float = Field(5.0, gt=0, le=120, description="How long a grant holds the relay")
    confirm_s: float = Field(2.0, gt=0, le=30, description="The gate must report open by then")
    held_open_s: float = Field(30.0, gt=0, description="Open longer than this after release")
    poll_s: float = Field(0.05, gt=0, le=1, description="How often the gate's inputs are read")
    anti_passback: PassbackMode = "off"
    face: FaceMode = Field(
        "risk_gate",
        description="risk_gate: a face alone opens where the hub's risk gate allows it;"
        " second_factor: a face never opens alone here, a card, PIN or QR code goes with it",
    )
    schedules: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Who may pass when, by subject kind: {staff = ["mon-sat 07:00-21:00"]};'
        " kinds not named may pass at any time",
    )
    driver: DriverSection | None = None

    @field_validator("schedules")
    @classmethod
    def _schedules_parse(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for kind, windows in value.items():
            if kind not in SubjectKind.__members__.values():
                raise ValueError(f"schedules: {kind!r} is not a kind of person")
            for window in windows:
                Window.parse(window)
        return value


class EvidenceSection(Section):
    """Decision snapshots of vehicle lanes (docs/evidence.md): kept sealed with the registry
    key, so not at all on an edge without one."""

    directory: Path = Field(Path("evidence"), description="Where they are kept")
    retention_days: float = Field(7.0, gt=0, le=90, description="Deleted after this long")
    max_mb: int = Field(1024, ge=1, description="The oldest go first beyond this size")
    plates: bool = Field(True, description="Keep the plate crop of our own reader's decisions")
    anpr: bool = Field(True, description="Keep the snapshot an ANPR camera pushes")


class EdgeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANJU_EDGE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    edge_id: Identifier
    compound_id: Identifier
    signing_key: Path = Field(description="Ed25519 private key (PEM) that signs this edge's events")
    registry_path: Path = Field(
        description="Registry snapshot (JSON registry delta) to decide with"
    )
    registry_key_file: Path | None = Field(
        None,
        description="Key (base64, 32 bytes) that encrypts what the edge keeps on disk: the"
        " registry snapshot and decision snapshots",
    )
    status_interval_s: float = Field(30.0, gt=0, description="How often the status is refreshed")
    timezone: ZoneName = Field(
        "Asia/Shanghai", description="The compound's time zone, for schedules"
    )
    ledger_path: Path = Field(
        Path("ledger.sqlite"), description="Pass entries and who is inside, counted at this edge"
    )
    replay_clock: Path | None = Field(
        None,
        description="Simulations and replays only: decisions take their time from this file"
        " (an ISO 8601 time with its offset, rewritten by the simulator) instead of the system"
        " clock, and trust it without measuring it against the hub",
    )
    mqtt: MqttSection = MqttSection()
    hub: HubSection | None = None
    outbox: OutboxSection = OutboxSection()
    readers: list[ReaderSection] = Field(default_factory=list)
    gates: list[GateSection] = Field(default_factory=list)
    anpr: AnprSection | None = None
    cameras: list[CameraSection] = Field(default_factory=list)
    faces: EngineSettings = Field(
        default_factory=EngineSettings,
        description="The template engine of the face lanes (docs/faces.md): the dlib default,"
        " the opt-in mobilefacenet (accept_model_terms = true) or an operator's onnx model",
    )
    snapshots: SnapshotSection = SnapshotSection()
    evidence: EvidenceSection = EvidenceSection()
    displays: list[DisplaySection] = Field(default_factory=list)
    metrics: MetricsSection | None = Field(None, description="Serve /metrics when set")

    @model_validator(mode="after")
    def _gates_unique(self) -> EdgeSettings:
        ids = [gate.id for gate in self.gates]
        if len(ids) != len(set(ids)):
            raise ValueError(f"gate ids must be unique: {ids}")
        return self

    @model_validator(mode="after")
    def _one_display_a_known_lane(self) -> EdgeSettings:
        shown = [(d.gate_id, d.lane) for d in self.displays]
        if len(shown) != len(set(shown)):
            raise ValueError(f"one display for each gate's lane: {shown}")
        anpr = self.anpr.cameras if self.anpr is not None else []
        lanes: list[WiegandReaderSection | CameraSection | AnprCameraSection]
        lanes = [*self.readers, *self.cameras, *anpr]
        known = {(s.gate_id, s.lane) for s in lanes}
        unknown = sorted(set(shown) - known)
        if unknown:
            raise ValueError(f"displays for lanes no reader or camera serves: {unknown}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (which arrives as init arguments).
        return env_settings, init_settings, file_secret_settings


def load_settings(path: Path) -> EdgeSettings:
    """Read `path`; relative paths inside it are taken relative to the file."""
    base = path.parent
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        settings = EdgeSettings(**raw)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"invalid edge configuration {path}:\n{exc}") from exc
    hub = settings.hub
    if hub is not None:
        hub = hub.model_copy(
            update={
                "token_file": base / hub.token_file,
                "pin_key_file": _beside(base, hub.pin_key_file),
                "issuer_key_file": _beside(base, hub.issuer_key_file),
                "ca_file": _beside(base, hub.ca_file),
            }
        )
    anpr = settings.anpr
    if anpr is not None:
        anpr = anpr.model_copy(update={"tls": _tls_beside(base, anpr.tls, "[anpr.tls]")})
    snapshots = settings.snapshots.model_copy(
        update={"tls": _tls_beside(base, settings.snapshots.tls, "[snapshots.tls]")}
    )
    return settings.model_copy(
        update={
            "anpr": anpr,
            "snapshots": snapshots,
            "signing_key": base / settings.signing_key,
            "registry_path": base / settings.registry_path,
            "registry_key_file": _beside(base, settings.registry_key_file),
            "ledger_path": base / settings.ledger_path,
            "outbox": settings.outbox.model_copy(update={"path": base / settings.outbox.path}),
            "evidence": settings.evidence.model_copy(
                update={"directory": base / settings.evidence.directory}
            ),
            "hub": hub,
        }
    )


def _beside(base: Path, path: Path | None) -> Path | None:
    return None if path is None else base / path


def _tls_beside(base: Path, tls: TlsSection | None, name: str) -> TlsSection | None:
    """A push endpoint's certificate and key, beside the file and loaded once now: an
    unusable one stops the edge before it takes any gate."""
    if tls is None:
        return None
    tls = TlsSection(cert_file=base / tls.cert_file, key_file=base / tls.key_file)
    try:
        server_context(tls.cert_file, tls.key_file)
    except TlsError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    return tls
