"""The entry log as staff search it: the search (`EventQuery`), the filter it becomes for the
caller (a resident sees only their unit's people), the CSV export, and a decision's snapshot
fetched from its edge; shared by the API and the web UI."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterable, Iterator

from sqlmodel import Session

from hub import crud, issuer, registry
from hub.auth import Role
from hub.callers import Caller
from hub.errors import InvalidInput, NotFound
from hub.records import owned
from hub.schemas.events import EntryPublic, EventQuery
from hub.services import HubServices
from hub.tables import Entry, utcnow
from models import plates
from models.evidence import EvidenceRequest
from models.signing import load_public_key

SNAPSHOT_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
EXPORT_LIMIT = 200_000
CSV_FIELDS = (
    "occurred_at",
    "gate_id",
    "lane",
    "direction",
    "subject_kind",
    "subject_id",
    "method",
    "credential_ref",
    "outcome",
    "reason_code",
    "reason",
    "flags",
    "score",
    "margin",
    "live",
    "event_id",
)


def entry_csv(rows: Iterable[Entry]) -> Iterator[str]:
    yield "\ufeff" + ",".join(CSV_FIELDS) + "\r\n"
    for row in rows:
        buffer = io.StringIO()
        record = EntryPublic.of(row).model_dump(mode="json")
        csv.writer(buffer).writerow([_cell(record[name]) for name in CSV_FIELDS])
        yield buffer.getvalue()


def _cell(value: object) -> str:
    """Text a spreadsheet will not run as a formula (a plate or reason typed as =cmd|...,
    spaces or tabs before it included)."""
    text = "" if value is None else str(value)
    leading = text[:1] in ("\t", "\r") or text.lstrip(" \t\r\n")[:1] in ("=", "+", "-", "@")
    return "'" + text if leading else text


def entry_filter(caller: Caller, session: Session, query: EventQuery) -> crud.EntryFilter:
    subject_ids = None
    if caller.role is Role.RESIDENT:  # fails closed: a resident without a unit sees nothing
        unit_id = caller.user.unit_id or ""
        subject_ids = tuple(p.id for p in registry.people_of_unit(session=session, unit_id=unit_id))
    return crud.EntryFilter(
        compound_id=caller.compound_id,
        subject_ids=subject_ids,
        since=query.since,
        until=query.until,
        gate_id=query.gate_id,
        method=query.method.value if query.method else None,
        outcome=query.decision.value if query.decision else None,
        subject_id=query.person_id,
        plate=_plate(query.plate),
        plate_prefix=_plate_prefix(query.plate_prefix),
    )


PREFIX = re.compile(r"^[0-9A-Z\u3400-\u9fff]+$")


def _plate_prefix(text: str | None) -> str | None:
    if text is None:
        return None
    prefix = plates.normalise(text)
    if not PREFIX.match(prefix):
        raise InvalidInput("plate_prefix: letters, digits and Chinese characters only")
    return prefix


def _plate(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return plates.parse(text).number
    except plates.PlateError as exc:
        raise InvalidInput(f"plate: {exc}") from exc


def snapshot_of(
    event_id: uuid.UUID, caller: Caller, session: Session, services: HubServices
) -> bytes:
    """The picture the edge kept of entry `event_id` of the caller's compound, asked of that
    edge now (a signed request) and kept nowhere here. Audited whether answered or not;
    `NotFound` when none was kept or it is past the edge's retention, `Unavailable` when the
    broker or the edge does not answer."""
    entry = owned(session, Entry, event_id, caller.compound_id, "entry")
    whom = entry.subject_id or entry.subject_kind
    if entry.credential_ref:
        whom += f", {entry.method}:{entry.credential_ref}"
    caller.audit("read", f"snapshot:{event_id} ({whom})")  # asked for: audited, whatever comes
    if not entry.snapshot:
        raise NotFound(f"no snapshot was kept of entry {event_id}")
    edge = crud.get_edge(session=session, edge_id=entry.edge_id)
    if edge is None:
        raise NotFound(f"edge {entry.edge_id}, which kept it, is no longer enrolled")
    request = EvidenceRequest(
        request_id=uuid.uuid4(),
        compound_id=entry.compound_id,
        edge_id=edge.edge_id,
        event_id=event_id,
        issued_by=caller.user.username,
        issued_at=utcnow(),
    )
    token = issuer.sign_for_edge(
        session=session, box=services.settings.secret_box(), claims=request
    )
    key = load_public_key(edge.public_key)
    session.commit()  # a new issuer key, if this was its first use
    session.close()  # no database connection is held while the edge is waited for
    return services.snapshots.fetch(request, token, key)
