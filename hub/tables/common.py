"""Column helpers shared by the hub's tables."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_column(*, index: bool = False, nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), index=index, nullable=nullable)


def seq_column() -> Column[int]:
    return Column(BigInteger, nullable=False)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every datetime the hub stores is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
