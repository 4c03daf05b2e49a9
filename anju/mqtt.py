"""One wrapper around paho-mqtt that owns all connection state, for the edge and the hub.

- `connected` is true only once the broker accepted the CONNACK and acknowledged every
  subscription made at that connect; it turns false as soon as the connection is lost.
- Subscriptions may be added at any time: while connected they are made at once (`subscribe`
  waits for the SUBACK), and all of them are made again on every connect.
- `publish` raises `LinkDown` when the message cannot be handed to the broker now; the caller
  decides whether it keeps the message for later (the edge's outbox does) or gives up.
- The link's own network thread reconnects with full-jitter exponential back-off (`Backoff`), so
  that hundreds of edges that lost the same broker do not all knock again at the same instant.
- A CONNACK or SUBACK whose reason code says that trying again cannot help (bad user name or
  password, not authorised, client identifier rejected) stops the link for good (`refused`);
  any other refusal, such as a server unavailable, is retried.
- A retained status is published with a Last Will by the callers that ask for one (`will`).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

logger = logging.getLogger(__name__)

# CONNACK reason codes after which another attempt can only be refused again. paho 2 hands
# MQTT 3.1.1's return codes over as MQTT 5 reason codes (2 becomes 0x85, 4 becomes 0x86 and 5
# becomes 0x87; 3, server unavailable, becomes 0x88 and is retried), so one set covers both.
REFUSED_FOR_GOOD = frozenset(
    {
        0x85,  # client identifier not valid (3.1.1: 2)
        0x86,  # bad user name or password (3.1.1: 4)
        0x87,  # not authorised (3.1.1: 5)
        0x8C,  # bad authentication method (MQTT 5 only)
    }
)
SUBACK_WAIT_S = 10.0


class MqttError(Exception):
    """The link is misconfigured, or the broker refused it for good."""


class LinkDown(MqttError):
    """The message was not handed to the broker: the link is not connected now (or paho
    refused the message). The caller keeps it for later or says that it was not sent."""


def refused_for_good(reason: ReasonCode) -> bool:
    """A CONNACK refusal that retrying cannot cure: credentials, authorisation, client id."""
    return reason.value in REFUSED_FOR_GOOD


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential back-off: after `attempt` failed connects in a row (0 after a
    connection that was accepted, then dropped), wait uniform(0, min(cap_s, base_s * 2**attempt))
    seconds. Every client draws its own delays, so clients that lost the broker together come
    back spread over the whole window, not in lockstep on one shared schedule."""

    base_s: float = 1.0
    cap_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s:
            raise MqttError(f"back-off needs 0 < base_s <= cap_s, got {self}")

    def ceiling(self, attempt: int) -> float:
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt, 64))

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, self.ceiling(attempt))


@dataclass(frozen=True)
class BrokerAddress:
    """`mqtt://[user:password@]host[:1883]`, or with TLS
    `mqtts://[user:password@]host[:8883][?cafile=/path/ca.pem]` (the broker's certificate is
    checked against that CA, or the system's CAs, and its host name always)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    cafile: str | None = None

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise MqttError(f"expected mqtt://host:port or mqtts://host:port, got {url!r}")
        query = parse_qs(parts.query)
        if set(query) - {"cafile"} or (parts.scheme == "mqtt" and query):
            raise MqttError(f"the only option is ?cafile=, for mqtts:// ({url!r})")
        tls = parts.scheme == "mqtts"
        port = parts.port or (8883 if tls else 1883)
        cafile = query.get("cafile", [None])[0]
        return cls(parts.hostname, port, parts.username, parts.password, tls, cafile)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


Handler = Callable[[str, bytes], None]


@dataclass
class _Asked:
    """A SUBSCRIBE waiting for its SUBACK."""

    topics: list[str]
    at_connect: bool  # the connect's own: the link is ready once it is acknowledged
    answered: threading.Event = field(default_factory=threading.Event)
    refused: str | None = None


class MqttLink:
    def __init__(
        self,
        broker: BrokerAddress,
        *,
        client_id: str,
        clean_session: bool = True,
        will: Message | None = None,
        keepalive_s: int = 30,
        max_inflight: int = 200,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._broker = broker
        self._client_id = client_id
        self._keepalive_s = keepalive_s
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()  # seeded apart in every client
        self._client = self._paho_client(client_id, clean_session, max_inflight, will)
        self._lock = threading.Lock()  # subscriptions, SUBACKs awaited, whether a session is up
        self._dialling = threading.Lock()  # a connect attempt, against `stop`
        self._subscriptions: dict[str, tuple[int, Handler]] = {}
        self._asked: dict[int, _Asked] = {}
        self._session_up = False  # CONNACK accepted, connection not yet lost
        self._on_connected: list[Callable[[], None]] = []
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0  # connects failed in a row; only the network thread counts
        self.refused: str | None = None  # why, with the reason code, once refused for good

    def _paho_client(
        self, client_id: str, clean_session: bool, max_inflight: int, will: Message | None
    ) -> paho.Client:
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=paho.MQTTv311,
        )
        client.max_inflight_messages_set(max_inflight)
        client.max_queued_messages_set(0)
        if self._broker.username:
            client.username_pw_set(self._broker.username, self._broker.password)
        if self._broker.tls:
            client.tls_set(ca_certs=self._broker.cafile)
        if will is not None:
            client.will_set(will.topic, will.payload, will.qos, will.retain)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        # Our own thread runs paho's loop. With this (public) hook set, paho never writes from
        # a publishing thread itself: it wakes our loop, as it would its own `loop_start`.
        client.on_socket_register_write = lambda _client, _userdata, _sock: None
        return client

    @property
    def connected(self) -> bool:
        """True once the broker accepted us and acknowledged every subscription."""
        return self._connected.is_set()

    @property
    def running(self) -> bool:
        """The network thread is connecting, connected or waiting to reconnect (false before
        `start`, after `stop`, and once the broker refused this client for good)."""
        return self._thread is not None and self._thread.is_alive()

    def subscribe(self, topic: str, handler: Handler, qos: int = 1) -> None:
        """Hand what arrives on `topic` to `handler` (on the network thread), from now on and
        after every reconnect. Before `start`, or while the link is down, the next connect
        subscribes; while connected, it subscribes at once and returns when the broker has
        acknowledged it (it cannot wait when called on the network thread itself, from a
        handler say). Raises MqttError when the broker refuses it: like a refusal at connect,
        that stops the link for good."""
        with self._lock:
            self._subscriptions[topic] = (qos, handler)
            asked = self._ask([(topic, qos)], at_connect=False) if self._session_up else None
        if asked is not None and threading.current_thread() is not self._thread:
            self._await_suback(asked)

    def unsubscribe(self, topic: str) -> None:
        """Stop handing `topic` to its handler, now and after reconnects."""
        with self._lock:
            if self._subscriptions.pop(topic, None) is not None and self._session_up:
                self._client.unsubscribe(topic)

    def on_connected(self, callback: Callable[[], None]) -> None:
        """Run `callback` (on the network thread) after every accepted connect."""
        self._on_connected.append(callback)

    def start(self) -> None:
        if self._thread is not None:
            raise MqttError("this link was started already")
        self._client.connect_async(self._broker.host, self._broker.port, self._keepalive_s)
        self._thread = threading.Thread(
            target=self._run, name=f"mqtt-{self._client_id}", daemon=True
        )
        self._thread.start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def publish(self, message: Message) -> None:
        """Hand `message` to paho, or raise LinkDown. Handing over is no proof of delivery:
        the caller keeps what matters until the other side confirms it."""
        if not self.connected:
            raise LinkDown(f"not connected to {self._broker}: {message.topic} not sent")
        try:
            info = self._client.publish(message.topic, message.payload, message.qos, message.retain)
        except ValueError as exc:  # a topic or payload the protocol cannot carry
            raise MqttError(f"cannot publish on {message.topic}: {exc}") from exc
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            why = paho.error_string(info.rc)
            raise LinkDown(f"{message.topic} not sent to {self._broker}: {why}")

    def stop(self, last: Message | None = None, timeout_s: float = 2.0) -> None:
        """Publish `last` if connected (waiting briefly for it), then disconnect cleanly (the
        broker keeps the Last Will to itself)."""
        if last is not None and self.connected:
            self._publish_last(last, timeout_s)
        with self._dialling:
            self._stopping.set()
            self._client.disconnect()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s + 5.0)  # paho's connect timeout, were it dialling
        self._session_ended()

    def _publish_last(self, last: Message, timeout_s: float) -> None:
        info = self._client.publish(last.topic, last.payload, last.qos, last.retain)
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError):
            logger.warning("final message on %s not delivered", last.topic)

    # The network thread.

    def _run(self) -> None:
        """Connect, serve the connection until it ends, wait a jittered while, again."""
        while not self._stopping.is_set() and self.refused is None:
            self._serve_one_connection()
            if self._stopping.is_set() or self.refused is not None:
                return
            delay = self._backoff.delay(self._failures, self._rng)
            self._failures += 1
            logger.debug("reconnecting to %s in %.2f s", self._broker, delay)
            self._stopping.wait(delay)

    def _serve_one_connection(self) -> None:
        with self._dialling:
            if self._stopping.is_set():
                return
            try:
                self._client.reconnect()
            except OSError as exc:
                self._unreachable(exc)
                return
        try:
            while self._client.loop(timeout=1.0) == MQTTErrorCode.MQTT_ERR_SUCCESS:
                pass
        except Exception:  # a bug must not end the thread: the link would be dead for good
            logger.exception("MQTT network loop failed; reconnecting")
        finally:
            self._session_ended()

    def _unreachable(self, exc: OSError) -> None:
        if self._failures == 0:  # said once per outage, not at every attempt
            logger.warning("broker %s out of reach (%s); retrying with back-off", self._broker, exc)
        else:
            logger.debug("broker %s still out of reach (%s)", self._broker, exc)

    def _on_connect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        if reason.is_failure:
            self._connect_refused(reason)
            return
        self._failures = 0
        logger.info("connected to %s", self._broker)
        with self._lock:
            self._session_up = True
            wanted = [(topic, qos) for topic, (qos, _) in self._subscriptions.items()]
            if wanted:
                self._ask(wanted, at_connect=True)
        if not wanted:
            self._ready()

    def _connect_refused(self, reason: ReasonCode) -> None:
        if refused_for_good(reason):
            self._refuse_for_good(f"{reason} (CONNACK {reason.value:#04x})")
        else:
            logger.warning(
                "broker refused the connection (%s, CONNACK %#04x); retrying", reason, reason.value
            )

    def _ask(self, wanted: list[tuple[str, int]], *, at_connect: bool) -> _Asked | None:
        """Send one SUBSCRIBE (holding `_lock`); None when the connection is gone already
        (the next connect subscribes again)."""
        rc, mid = self._client.subscribe(wanted)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            return None
        asked = _Asked([topic for topic, _ in wanted], at_connect)
        self._asked[mid] = asked
        return asked

    def _await_suback(self, asked: _Asked) -> None:
        if not asked.answered.wait(SUBACK_WAIT_S):
            logger.warning("no SUBACK for %s within %g s", asked.topics[0], SUBACK_WAIT_S)
        elif asked.refused is not None:
            raise MqttError(f"subscription refused, {asked.refused}")
        # Answered without a SUBACK: the connection was lost, and the next one subscribes.

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: object,
    ) -> None:
        with self._lock:
            asked = self._asked.pop(mid, None)
        if asked is None:
            return
        pairs = zip(asked.topics, reasons, strict=False)
        refused = [f"{t}: {r} (SUBACK {r.value:#04x})" for t, r in pairs if r.is_failure]
        if refused:
            asked.refused = ", ".join(refused)
            # Without its subscriptions this client would miss what it exists to receive.
            self._refuse_for_good(f"subscription refused, {asked.refused}")
        asked.answered.set()
        if asked.at_connect and not refused:
            self._ready()

    def _ready(self) -> None:
        """Connected and subscribed: only now can nothing addressed to us be missed."""
        self._connected.set()
        for callback in self._on_connected:
            try:
                callback()
            except Exception:  # one caller's bug must not keep the others from hearing
                logger.exception("on_connected callback %r failed", callback)

    def _refuse_for_good(self, why: str) -> None:
        self.refused = why
        logger.error("broker refused this client (%s); not retrying", why)
        self._client.disconnect()

    def _on_disconnect(
        self,
        client: paho.Client,
        userdata: object,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        properties: object,
    ) -> None:
        if self._connected.is_set() and not self._stopping.is_set():
            logger.warning("disconnected from broker (%s)", reason)
        self._session_ended()

    def _session_ended(self) -> None:
        """Nothing is connected or subscribed any more; whoever awaits a SUBACK stops."""
        self._connected.clear()
        with self._lock:
            self._session_up = False
            unanswered = list(self._asked.values())
            self._asked.clear()
        for asked in unanswered:
            asked.answered.set()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        with self._lock:
            handlers = [h for t, (_, h) in self._subscriptions.items() if _matches(t, msg.topic)]
        for handler in handlers:
            self._dispatch(handler, msg)

    @staticmethod
    def _dispatch(handler: Handler, msg: paho.MQTTMessage) -> None:
        # The network thread must survive a handler's bug: paho would stop the loop.
        try:
            handler(msg.topic, bytes(msg.payload))  # paho may hand a bytearray
        except Exception:
            logger.exception("handler for %s failed", msg.topic)


def _matches(subscription: str, topic: str) -> bool:
    return bool(paho.topic_matches_sub(subscription, topic))
