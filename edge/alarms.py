"""Alarm events: what the gates, the admission, the guard's commands and the clock raise.

Each is logged and committed to the outbox like an entry event (the hub receives it with the
same guarantee); one that cannot be recorded (a full or failing disk) is logged, never raised:
an alarm must never stop the decision or the gate that raised it.
"""

from __future__ import annotations

import logging
import uuid

from edge.clock import EdgeClock
from edge.delivery import Delivery
from edge.errors import OutboxError
from models.events import AlarmEvent, Position, Severity

logger = logging.getLogger(__name__)


class Alarms:
    def __init__(self, *, compound_id: str, delivery: Delivery, clock: EdgeClock) -> None:
        self._compound_id = compound_id
        self._delivery = delivery
        self._clock = clock

    def alarm(self, gate_id: str | None, code: str, severity: Severity, text: str) -> None:
        logger.warning("alarm %s at gate %s: %s", code, gate_id, text)
        occurred = self._clock.read().now

        def event(position: Position) -> AlarmEvent:
            return AlarmEvent(
                event_id=uuid.uuid4(),
                position=position,
                compound_id=self._compound_id,
                gate_id=gate_id,
                occurred_at=occurred,
                code=code,
                severity=severity,
                text=text,
            )

        try:
            self._delivery.emit(event)
        except OutboxError:
            logger.exception("alarm %s could not be recorded", code)
