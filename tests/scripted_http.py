"""A scripted HTTP server for the transport tests: it answers each request with the bytes
the test gives."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Protocol

Answers = Callable[[int, bytes], bytes | None]


class Serve(Protocol):
    def __call__(self, answer: Answers, close: bool = False) -> ScriptedServer: ...


class ScriptedServer:
    """Reads each request whole (head and ``Content-Length`` body) and writes what
    ``answer(number, request)`` returns on the same connection; ``None`` closes it, and so
    does every answer when ``close``."""

    def __init__(self, answer: Answers, close: bool) -> None:
        self.answer = answer
        self.close_after = close
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(data) < length:
                    data += conn.recv(65536)
                body, data = data[:length], data[length:]
                self.requests.append(head + b"\r\n\r\n" + body)
                reply = self.answer(len(self.requests), head)
                if reply is None:
                    return
                conn.sendall(reply)
                if self.close_after:
                    return

    def close(self) -> None:
        self.sock.close()
