"""A network link that can be cut: a TCP relay on loopback between a device and what it talks
to (an edge and its broker, say). Cut, it drops every connection and refuses new ones, as a
pulled cable or a dead switch would; restored, traffic flows again."""

from __future__ import annotations

import socket
import threading
from contextlib import suppress


class Link:
    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1", port: int = 0) -> None:
        self._target = target
        self._server = socket.create_server((host, port))
        self.port = self._server.getsockname()[1]
        self._up = True
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = threading.Event()

    def start(self) -> Link:
        threading.Thread(target=self._accept, name="link-accept", daemon=True).start()
        return self

    def cut(self) -> None:
        with self._lock:
            self._up = False
            doomed, self._open = self._open, set()
        for sock in doomed:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    @property
    def up(self) -> bool:
        with self._lock:
            return self._up

    def close(self) -> None:
        self._closed.set()
        self.cut()
        self._server.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)  # the timeout was for connecting; idle is fine
            except OSError:
                client.close()
                continue
            with self._lock:  # checked under the lock: a cut cannot miss this pair
                if not self._up:
                    _close(client)
                    _close(upstream)
                    continue
                self._open.update((client, upstream))
            self._relay(client, upstream)

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        done = threading.Barrier(2, action=lambda: self._forget(client, upstream))
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink, done), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, done: threading.Barrier) -> None:
        with suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)  # pass the end on; the other way may still flow
        with suppress(threading.BrokenBarrierError):
            done.wait()

    def _forget(self, *pair: socket.socket) -> None:
        with self._lock:
            self._open.difference_update(pair)
        for sock in pair:
            _close(sock)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
