"""A real HTTP receiver on a loopback port, for the events' tests: it records every request and
answers as the path says.

    /ok        200 with a short JSON body          /500       500
    /410       410                                 /redirect  302 to /ok on the same receiver
    /hang      reads the request, never answers (until the receiver closes)
    /close     reads the request, closes the connection without a word
    /big       200 with a 10 KiB body              /script    the next of ``script``, else 200

Example::

    with Receiver() as receiver:
        receiver.script += ["500", "500"]     # /script fails twice, then answers 200
        ...
        receiver.wait_for(3)
        receiver.requests[0].headers["oms-signature"]
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BIG_BODY = b"x" * 10_240


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the request was read


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's 5 would drop connections of concurrent senders


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: list[str] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.released.set()  # hanging handlers return
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """The requests, once at least ``count`` have arrived."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} requests came, not {count}")
                self._arrived.wait(left)
            return list(self.requests)

    def _record(self, received: Received) -> str:
        with self._arrived:
            self.requests.append(received)
            self._arrived.notify_all()
            if received.path == "/script":
                return self.script.pop(0) if self.script else "ok"
            return received.path.lstrip("/").split("?")[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                how = receiver._record(
                    Received(self.command, self.path, headers, body, time.time())
                )
                if how == "hang":
                    receiver.released.wait(60)
                    self.close_connection = True
                    return
                if how == "close":
                    self.close_connection = True
                    return
                if how == "redirect":
                    self._send(302, b"", location="/ok")
                elif how == "big":
                    self._send(200, BIG_BODY)
                elif how.isdigit():
                    self._send(int(how), b'{"error":"as asked"}')
                else:
                    self._send(200, b'{"ok":true}')

            def _send(self, status: int, body: bytes, location: str | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if location is not None:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(body)

        return Handler
