"""The guard booth's commands, as they reach an edge over MQTT.

Each is a hub-signed `GateCommand` token (see `models.tokens`). The edge acts on a command
only if the signature is the compound hub's, it names this compound, this edge and a gate this
edge drives, it is at most `ADDRESSED_TTL_S` old by the edge's clock, and its id has not been
seen before (its id is kept in the edge's ledger, so a replay is refused after a restart
too). A command for a gate another edge drives is ignored quietly; other refusals raise a
`command_refused` alarm, at most one a minute. `open` and `deny` are decided like any other
evidence (method `remote`, the guard's reason in the event); `emergency_open` holds a lane
open until `emergency_end`, each logged as an alarm event with the guard's reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.admission import Admission, Lane
from edge.alarms import Alarms
from edge.clock import EdgeClock
from edge.decide import RemoteEvidence
from edge.gate import GateController
from models.events import Severity
from models.tokens import GateCommand, TokenError, addressed_to, off_clock

logger = logging.getLogger(__name__)
REFUSAL_ALARM_EVERY_S = 60.0


class CommandRejected(ValueError):
    pass


class NotForUs(CommandRejected):
    """A command for a gate another edge of the compound drives: not an error."""


class GateCommands:
    def __init__(
        self,
        *,
        compound_id: str,
        edge_id: str,
        issuer_key: Ed25519PublicKey,
        clock: EdgeClock,
        admission: Admission,
        alarms: Alarms,
        controllers: Mapping[str, GateController],
        lanes: Mapping[tuple[str, str], Lane],
        seen: Callable[[str], bool],
    ) -> None:
        self._compound_id = compound_id
        self._edge_id = edge_id
        self._key = issuer_key
        self._clock = clock
        self._admission = admission
        self._alarms = alarms
        self._controllers = controllers
        self._lanes = lanes
        self._first_time = seen
        self._last_refusal_alarm = -REFUSAL_ALARM_EVERY_S

    def on_message(self, topic: str, payload: bytes) -> None:
        try:
            command = self._accept(payload)
        except NotForUs as exc:
            logger.debug("%s", exc)
            return
        except CommandRejected as exc:
            logger.warning("gate command refused: %s", exc)
            self._refusal_alarm(str(exc))
            return
        self.execute(command)

    def _refusal_alarm(self, text: str) -> None:
        """At most one alarm a minute: a flood of junk must not fill the outbox."""
        now = time.monotonic()
        if now - self._last_refusal_alarm < REFUSAL_ALARM_EVERY_S:
            return
        self._last_refusal_alarm = now
        self._alarms.alarm(None, "command_refused", Severity.WARNING, text[:500])

    def execute(self, command: GateCommand) -> None:
        said = f"{command.issued_by}: {command.reason}"
        if command.action in ("open", "deny"):
            lane = self._lanes.get((command.gate_id, command.direction.value))
            lane = lane or Lane(command.gate_id, "remote", command.direction)
            self._admission.admit(lane, RemoteEvidence(command))
            return
        active = command.action == "emergency_open"
        controller = self._controllers.get(command.gate_id)
        opened = controller.emergency(active) if controller is not None else False
        what = "held open" if active else "back in service"
        text = f"Emergency override, gate {what} ({said})" + ("" if opened else "; relay failed")
        self._alarms.alarm(command.gate_id, command.action, Severity.CRITICAL, text)

    def _accept(self, payload: bytes) -> GateCommand:
        try:
            command = addressed_to(
                payload, GateCommand, self._key, self._compound_id, self._edge_id
            )
        except TokenError as exc:
            raise CommandRejected(f"not a valid command: {str(exc)[:200]}") from exc
        if command.gate_id not in self._controllers and not any(
            gate == command.gate_id for gate, _ in self._lanes
        ):
            raise NotForUs(f"command {command.command_id}: gate {command.gate_id} is not here")
        stale = off_clock(command, self._clock.read().now)
        if stale is not None:
            raise CommandRejected(f"command {command.command_id} was {stale}")
        if not self._first_time(str(command.command_id)):
            raise CommandRejected(f"command {command.command_id} was already carried out")
        return command
