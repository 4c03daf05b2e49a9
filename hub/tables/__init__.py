"""The hub's tables, one module per area; import them from here."""

from hub.tables.access import AuditRecord, AuthToken, User
from hub.tables.analytics import Anomaly, AnomalyAction, AnomalyEvidence, Incident, WorkOrder
from hub.tables.common import as_utc, utcnow
from hub.tables.events import (
    Alarm,
    DeadLetter,
    Edge,
    Entry,
    EntryBase,
    Receipt,
    VehicleStay,
)
from hub.tables.registry import (
    Building,
    Card,
    Compound,
    FaceConsent,
    FaceTemplate,
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
    "Anomaly",
    "AnomalyAction",
    "AnomalyEvidence",
    "AuditRecord",
    "AuthToken",
    "Building",
    "Card",
    "Compound",
    "DeadLetter",
    "Edge",
    "Entry",
    "EntryBase",
    "FaceConsent",
    "FaceTemplate",
    "Gate",
    "Incident",
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
    "WorkOrder",
    "as_utc",
    "utcnow",
]
