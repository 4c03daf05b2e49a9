"""The analytics job: every so often, scan each compound for anomalies and enforce
retention, in its own thread, each round in its own transaction."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from hub import audit, audited
from hub.analytics import casework, retention
from hub.analytics.policy import AnalyticsPolicy
from hub.tables import Compound, utcnow

logger = logging.getLogger(__name__)


def run_once(engine: Engine, policy: AnalyticsPolicy, now: datetime) -> retention.PurgeReport:
    """One round: scan every compound, then purge; returns what was purged."""
    with Session(engine) as session:
        for compound_id in session.exec(select(Compound.id).order_by(col(Compound.id))).all():
            report = casework.scan(session=session, compound_id=compound_id, policy=policy, now=now)
            if report.new or report.reopened:
                logger.info(
                    "compound %s: %d new anomalies, %d reopened",
                    compound_id,
                    report.new,
                    report.reopened,
                )
        purged = retention.purge(session=session, retention=policy.retention, now=now)
        if any(vars(purged).values()):
            actor = audit.Actor("hub", "system", None)
            audited.commit(session, audited.Note(actor, "purge", purged.as_text(), "retention"))
            logger.info("retention purged %s", purged.as_text())
        else:
            session.commit()  # the scans' findings
    return purged


class AnalyticsJob:
    def __init__(self, engine: Engine, policy: AnalyticsPolicy, every_s: float) -> None:
        self._engine = engine
        self._policy = policy
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="analytics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                run_once(self._engine, self._policy, utcnow())
            except (SQLAlchemyError, audit.AuditError):
                # The database is away for now; the next round reads the same log again.
                logger.exception("analytics round failed; retrying in %.0f s", self._every_s)
            except Exception:
                # A bug must not end the job for the hub's lifetime: say so loudly, go on.
                logger.exception("analytics round failed unexpectedly; retrying")
