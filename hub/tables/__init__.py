"""The hub's tables, one module per area; import them from here."""

from hub.tables.access import AuditRecord, AuthToken, User
from hub.tables.common import as_utc, utcnow
from hub.tables.events import (
    Alarm,
    DeadLetter,
    Edge,
    Entry,
    EntryBase,
    EntryPublic,
    Receipt,
    VehicleStay,
)
from hub.tables.registry import (
    Building,
    Card,
    Compound,
    Gate,
    PassEntry,
    Person,
    Pin,
    Plate,
    RegistryChange,
    Unit,
    VisitorPass,
    WatchlistEntry,
)

__all__ = [
    "Alarm",
    "AuditRecord",
    "AuthToken",
    "Building",
    "Card",
    "Compound",
    "DeadLetter",
    "Edge",
    "Entry",
    "EntryBase",
    "EntryPublic",
    "Gate",
    "PassEntry",
    "Person",
    "Pin",
    "Plate",
    "Receipt",
    "RegistryChange",
    "Unit",
    "User",
    "VehicleStay",
    "VisitorPass",
    "WatchlistEntry",
    "as_utc",
    "utcnow",
]
