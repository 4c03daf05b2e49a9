"""The hub's configuration, from `ANJU_HUB_*` environment variables (or a .env file)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.analytics.policy import AnalyticsPolicy
from hub.core.security import PasswordCost, SecretBox, SecretError


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
    tls_cert_file: Path | None = Field(
        None, description="Serve HTTPS with this certificate (chain, PEM); with tls_key_file"
    )
    tls_key_file: Path | None = Field(None, description="The certificate's private key (PEM)")
    secret_keys: str | None = Field(
        None, repr=False, description="Base64 AES keys for secrets at rest, current key first"
    )
    secret_keys_file: Path | None = Field(None, description="A file holding secret_keys instead")
    session_hours: float = Field(8.0, gt=0, le=24 * 30, description="How long a login lasts")
    # Production keeps argon2id's defaults; tests lower them (tests/conftest.py), because
    # a login at full cost takes a fifth of a second on a small machine.
    password_time_cost: int = Field(
        PasswordCost.time_cost, ge=1, description="argon2id passes for new password hashes"
    )
    password_memory_kib: int = Field(
        PasswordCost.memory_kib,
        ge=8 * PasswordCost.parallelism,
        description="argon2id memory (KiB) for new password hashes",
    )
    lockout_failures: int = Field(5, ge=1, description="Failed logins before a lockout")
    lockout_minutes: float = Field(15.0, gt=0, description="How long a lockout lasts")
    analytics: AnalyticsPolicy = Field(
        AnalyticsPolicy(), description="Anomaly thresholds, presence, retention (JSON)"
    )
    metrics_token: str | None = Field(
        None, repr=False, description="When set, /metrics wants `Authorization: Bearer` it"
    )
    event_clock_tolerance_s: float = Field(
        300.0,
        gt=0,
        le=86_400,
        description="An event dated further ahead of the hub's clock is counted at the hub's time"
        " and raises an alarm naming its edge",
    )
    audit_head_every_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How often the audit chain's head goes to the edges (they keep the newest)",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="The address staff open (https://hub.example): with https the session"
        " cookie is Secure whatever a reverse proxy in front tells the hub",
    )
    ui_poll_s: float = Field(
        5.0, gt=0, le=3600, description="How often the web UI's live lists ask the hub again"
    )
    analytics_every_s: float = Field(
        60.0, gt=0, description="How often anomalies are scanned and retention enforced"
    )

    @model_validator(mode="after")
    def _certificate_and_key_together(self) -> HubSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("HTTPS needs both ANJU_HUB_TLS_CERT_FILE and ANJU_HUB_TLS_KEY_FILE")
        return self

    def served_over_https(self, scheme: str) -> bool:
        """Whether browsers reach the hub over HTTPS: as it says it is reached
        (`public_url`), or as this request came."""
        public = self.public_url
        return scheme == "https" or (public is not None and public.startswith("https://"))

    def password_cost(self) -> PasswordCost:
        return PasswordCost(time_cost=self.password_time_cost, memory_kib=self.password_memory_kib)

    def secret_box_or_none(self) -> SecretBox | None:
        """For what can go on without the keys (a registry delta without face templates)."""
        if self.secret_keys_file is None and not self.secret_keys:
            return None
        return self.secret_box()

    def secret_box(self) -> SecretBox:
        if self.secret_keys_file is not None:
            return SecretBox.from_config(self.secret_keys_file.read_text(encoding="ascii"))
        if self.secret_keys:
            return SecretBox.from_config(self.secret_keys)
        raise SecretError(
            "no secret keys: set ANJU_HUB_SECRET_KEYS or ANJU_HUB_SECRET_KEYS_FILE"
            " (python -m hub new-secret-key makes one)"
        )
