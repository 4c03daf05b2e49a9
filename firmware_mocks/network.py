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
        self._up = threading.Event()
        self._up.set()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = threading.Event()

    def start(self) -> Link:
        threading.Thread(target=self._accept, name="link-accept", daemon=True).start()
        return self

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            for sock in self._open:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def restore(self) -> None:
        self._up.set()

    @property
    def up(self) -> bool:
        return self._up.is_set()

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
            if not self._up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
