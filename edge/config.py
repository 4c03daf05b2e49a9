"""The edge's configuration: a TOML file, overridden by `ANJU_EDGE_*` environment variables.

Built once in the entrypoint; each component receives only its own section.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from edge.errors import ConfigError
from models.events import Direction, Identifier


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


class HubSection(Section):
    """Where the registry comes from. Without it the edge decides from `registry_path` alone."""

    url: str = Field(description="The hub's base URL, e.g. https://hub.compound.example")
    token_file: Path = Field(description="File holding this edge's token for the hub")
    pin_key_file: Path | None = Field(None, description="File holding the compound's PIN key")
    poll_s: float = Field(60.0, gt=0, description="Pull the registry at least this often")
    max_age_s: float = Field(
        3600.0, gt=0, description="A registry not synced for this long is stale"
    )
    fallback: dict[str, Fallback] = Field(
        default_factory=lambda: {
            "card": "allow",
            "pin": "allow",
            "plate": "allow",
            "face": "guard",
        },
        description="What a credential type does while the registry is stale: allow (decide"
        " from the cache), deny, or guard (deny and ask the guard)",
    )


class WiegandReaderSection(Section):
    """A Wiegand-to-network converter that connects to the edge and sends one frame a line."""

    type: Literal["wiegand_tcp"] = "wiegand_tcp"
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(ge=0, le=65535)
    gate_id: Identifier
    lane: Identifier
    direction: Direction


ReaderSection = Annotated[WiegandReaderSection, Field(discriminator="type")]


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
    status_interval_s: float = Field(30.0, gt=0, description="How often the status is refreshed")
    mqtt: MqttSection = MqttSection()
    hub: HubSection | None = None
    outbox: OutboxSection = OutboxSection()
    readers: list[ReaderSection] = Field(default_factory=list)

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
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        settings = EdgeSettings(**raw)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"invalid edge configuration {path}:\n{exc}") from exc
    base = path.parent
    hub = settings.hub
    if hub is not None:
        pin_key = None if hub.pin_key_file is None else base / hub.pin_key_file
        hub = hub.model_copy(update={"token_file": base / hub.token_file, "pin_key_file": pin_key})
    return settings.model_copy(
        update={
            "signing_key": base / settings.signing_key,
            "registry_path": base / settings.registry_path,
            "outbox": settings.outbox.model_copy(update={"path": base / settings.outbox.path}),
            "hub": hub,
        }
    )
