"""uvicorn's HTTP protocol with bounds on the request head: how big, and how slow.

uvicorn bounds neither: a client may send a header of a gigabyte, which the server keeps in
memory, or trickle a request line a byte every few seconds and hold its connection for ever.
Both are ways for one client to take memory or sockets from everyone. Here a head (request line
and headers) over ``MAX_HEAD_BYTES`` is answered 400 and the connection closed; a connection
whose head has not fully arrived ``HEAD_SECONDS`` after it opened (or after the previous
response, for a kept-alive connection) is closed. Bodies need no bound here: each route that
reads one bounds what it reads (``/token`` 16 KiB, the orders API 1 MiB), and uvicorn stops
reading from a client whose body the app does not take.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _ends_head(data: bytes) -> bool:
    return b"\r\n\r\n" in data or b"\n\n" in data


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    MAX_HEAD_BYTES = 64 * 1024
    """Bytes received before the head's end (request line, headers, and whatever came with
    them); the export's query string alone is bounded at 8 KiB."""
    HEAD_SECONDS = 10.0
    """Time a client has to send a whole request head once it connected or was last answered."""

    _head_bytes = 0
    _head_tail = b""
    _reading_head = True
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Counted as it arrives: the parser keeps a header it has not seen the end of in a
        # buffer of its own, and reports it only once complete.
        if self._reading_head:
            room = self.MAX_HEAD_BYTES - self._head_bytes
            # A read may carry the head's end and the start of a body: only a head that has not
            # ended within the bound is refused (its end may straddle two reads, hence the tail).
            if len(data) > room and not _ends_head(self._head_tail + data[: max(room, 0)]):
                self._stop_head_clock()
                self.logger.warning("request head over %s bytes; refused", self.MAX_HEAD_BYTES)
                self.send_400_response("Request head too large.")
                return
            self._head_bytes += len(data)
            self._head_tail = data[-3:]
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_head_clock()  # a kept-alive connection's next request: a new clock

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._stop_head_clock()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._reading_head = True
        self._head_bytes = 0
        self._head_tail = b""
        super().on_response_complete()

    def _start_head_clock(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.HEAD_SECONDS, self._head_too_slow)

    def _stop_head_clock(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.logger.warning("request head not received within %s s; closed", self.HEAD_SECONDS)
            self.transport.close()
