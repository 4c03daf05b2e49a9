"""The hub's configuration, from `ANJU_HUB_*` environment variables (or a .env file)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANJU_HUB_", env_file=".env", extra="forbid", frozen=True
    )

    database_url: str = Field(
        "sqlite:///anju-hub.sqlite",
        description="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://…",
    )
    mqtt_url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://[user:password@]host:port")
    topic_prefix: str = Field("anju", description="First segment of every topic")
    client_id: str = Field("anju-hub", description="MQTT client id; the broker keeps its session")
    ingest_batch: int = Field(500, ge=1, le=10_000, description="Most events committed at once")
    host: str = Field("127.0.0.1", description="Address the HTTP API binds to")
    port: int = Field(8000, ge=0, le=65535)
