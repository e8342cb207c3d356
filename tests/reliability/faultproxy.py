"""A loopback HTTP proxy that injects faults between an SDK and an emulator (one request per connection).

Each request is read whole (head + Content-Length body); a request whose path contains ``target`` gets the
current ``fault``: an HTTP status (500, 503, 429), ``reset`` (TCP RST), ``stall`` (no answer until the client
gives up) — or, with no fault, it is forwarded upstream with ``Connection: close`` and the answer relayed.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class FaultState:
    upstream: tuple[str, int]
    fault: str | None = None
    target: str = ""
    seen: list[str] = field(default_factory=list)  # request lines, in order
    faulted: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _read_request(sock: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def _with_close(request: bytes) -> bytes:
    head, _, body = request.partition(b"\r\n\r\n")
    lines = [x for x in head.split(b"\r\n") if not x.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        state = self.server.state
        sock: socket.socket = self.request
        request = _read_request(sock)
        if request is None:
            return
        line = request.split(b"\r\n", 1)[0].decode("latin-1")
        with state.lock:
            state.seen.append(line)
            fault = state.fault if state.target in line else None
            state.faulted += fault is not None
        if fault == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if fault == "stall":
            state.stop.wait(30)
            return
        if fault is not None:
            code = int(fault)
            body = b"<Error><Code>" + str(code).encode() + b"</Code><Message>injected</Message></Error>"
            sock.sendall(
                f"HTTP/1.1 {code} {REASONS[code]}\r\nContent-Type: application/xml\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            return
        with socket.create_connection(state.upstream, timeout=30) as up:
            up.sendall(_with_close(request))
            while chunk := up.recv(65536):
                sock.sendall(chunk)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, state: FaultState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FaultProxy:
    """``with FaultProxy(upstream_url) as proxy:`` … ``proxy.url``, ``proxy.state.fault = "503"``."""

    def __init__(self, upstream_url: str) -> None:
        host, _, port = upstream_url.removeprefix("http://").rstrip("/").rpartition(":")
        self.state = FaultState((host, int(port)))
        self._server = _Server(self.state)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.state.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def set(self, fault: str | None, target: str = "") -> None:
        with self.state.lock:
            self.state.fault, self.state.target = fault, target
            self.state.seen.clear()
            self.state.faulted = 0
