"""One wrapper around paho-mqtt that owns all connection state, for the edge and the hub.

It subscribes again on every connect, publishes a retained status with a Last Will, reconnects
with backoff, and reports `connected` only after an accepted CONNACK. A CONNACK or SUBACK whose
reason code says that trying again cannot help (bad user name or password, not authorised,
client identifier rejected) stops the link for good (`refused`); any other refusal, such as a
server unavailable, is retried.
"""

from __future__ import annotations

import logging
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


class MqttError(Exception):
    """The link is misconfigured, or the broker refused it for good."""


def refused_for_good(reason: ReasonCode) -> bool:
    """A CONNACK refusal that retrying cannot cure: credentials, authorisation, client id."""
    return reason.value in REFUSED_FOR_GOOD


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


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


Handler = Callable[[str, bytes], None]


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
    ) -> None:
        self._broker = broker
        self._keepalive_s = keepalive_s
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=paho.MQTTv311,
        )
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self._client.tls_set(ca_certs=broker.cafile)
        if will is not None:
            self._client.will_set(will.topic, will.payload, will.qos, will.retain)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._subscribe_mid: int | None = None
        self._subscriptions: dict[str, tuple[int, Handler]] = {}
        self._on_connected: list[Callable[[], None]] = []
        self._connected = threading.Event()
        self._stopping = False
        self.refused: str | None = None  # why, with the reason code, once refused for good

    @property
    def connected(self) -> bool:
        """True once the broker accepted us and acknowledged every subscription."""
        return self._connected.is_set()

    def subscribe(self, topic: str, handler: Handler, qos: int = 1) -> None:
        """Register before `start`; the link subscribes again after every reconnect."""
        self._subscriptions[topic] = (qos, handler)

    def on_connected(self, callback: Callable[[], None]) -> None:
        """Run `callback` (on the network thread) after every accepted connect."""
        self._on_connected.append(callback)

    def start(self) -> None:
        self._client.connect_async(self._broker.host, self._broker.port, self._keepalive_s)
        self._client.loop_start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def publish(self, message: Message) -> bool:
        """Hand `message` to paho; False when not connected. True is no proof of delivery:
        the caller keeps what matters until the other side confirms it."""
        if not self.connected:
            return False
        info = self._client.publish(message.topic, message.payload, message.qos, message.retain)
        return info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def stop(self, last: Message | None = None, timeout_s: float = 2.0) -> None:
        """Publish `last` if connected (waiting briefly for it), then disconnect cleanly."""
        self._stopping = True
        if last is not None and self.connected:
            info = self._client.publish(last.topic, last.payload, last.qos, last.retain)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):
                logger.warning("final message on %s not delivered", last.topic)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

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
        scheme = "mqtts" if self._broker.tls else "mqtt"
        logger.info("connected to %s://%s:%d", scheme, self._broker.host, self._broker.port)
        if not self._subscriptions:
            self._ready()
            return
        wanted = [(topic, qos) for topic, (qos, _) in self._subscriptions.items()]
        _, self._subscribe_mid = client.subscribe(wanted)

    def _on_subscribe(
        self,
        client: paho.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: object,
    ) -> None:
        if mid != self._subscribe_mid:
            return
        topics = list(self._subscriptions)  # in the order they were asked for
        pairs = zip(topics, reasons, strict=False)
        refused = [f"{t}: {r} (SUBACK {r.value:#04x})" for t, r in pairs if r.is_failure]
        if refused:
            # Without its subscriptions this client would miss what it exists to receive.
            self._refuse_for_good(f"subscription refused, {', '.join(refused)}")
            return
        self._ready()

    def _ready(self) -> None:
        """Connected and subscribed: only now can nothing addressed to us be missed."""
        self._connected.set()
        for callback in self._on_connected:
            callback()

    def _connect_refused(self, reason: ReasonCode) -> None:
        if refused_for_good(reason):
            self._refuse_for_good(f"{reason} (CONNACK {reason.value:#04x})")
        else:
            logger.warning(
                "broker refused the connection (%s, CONNACK %#04x); retrying", reason, reason.value
            )

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
        if self._connected.is_set() and not self._stopping:
            logger.warning("disconnected from broker (%s)", reason)
        self._connected.clear()

    def _on_message(self, client: paho.Client, userdata: object, msg: paho.MQTTMessage) -> None:
        for topic, (_, handler) in self._subscriptions.items():
            if paho.topic_matches_sub(topic, msg.topic):
                self._dispatch(handler, msg)

    @staticmethod
    def _dispatch(handler: Handler, msg: paho.MQTTMessage) -> None:
        # The network thread must survive a handler's bug: paho would stop the loop.
        try:
            handler(msg.topic, bytes(msg.payload))  # paho may hand a bytearray
        except Exception:
            logger.exception("handler for %s failed", msg.topic)
