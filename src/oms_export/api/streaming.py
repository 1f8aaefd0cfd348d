"""The export's streamed response: it holds its admission exactly while it is sent, and ends a
stream whose client has stopped reading.

A client that stops reading fills the socket's buffers, and then each send waits for room. A
send that waits longer than ``OMS_EXPORT_EXPORT_IDLE_SECONDS`` ends the response: the body is
closed (its statement interrupted, its connection handed back), the admission released, and the
connection aborted, so the client sees a cut body, never a complete-looking one. Aborted, not
closed: a close waits to flush what the server still buffers for a client that reads nothing,
which would keep the socket, and that buffer, for as long as the client likes.

Chunks go out in slices of ``SEND_SLICE`` bytes, so one send waits only until the client has
taken about a slice and the server's write buffer (64 KiB each): a slow but steady reader is
never cut off, only one that takes less than that in the whole idle time (under 2 KB/s at the
default 60 s). Smaller slices would cut off even slower readers but cost a send each: 16 KiB
slices made a 108 MB export about 10 % slower than unsliced, 64 KiB ones a few per cent.

The admission is released before the last, empty body message goes out, so a client that reads
one export to its end and at once asks for the next never finds its own slot still taken.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from oms_export.api.admission import Admission, holding, release_export
from oms_export.api.state import ServiceState

log = logging.getLogger("oms_export.export")

SEND_SLICE = 64 * 1024
ABORT_KEY = "abort_connection"
"""Key in the ASGI scope's ``state`` of a callable that drops the request's connection."""


def connection_aborter(send: Send) -> Callable[[], None] | None:
    """A way to drop the connection ``send`` writes to, when the server offers one.

    ASGI has no message for "abort the connection". uvicorn's ``send`` is a method of its
    request cycle, which holds the connection's asyncio transport; where that is not so (another
    server, a test client), None, and a cut-off export merely closes the connection.
    """
    transport: Any = getattr(getattr(send, "__self__", None), "transport", None)
    if not callable(getattr(transport, "abort", None)):
        return None

    def abort() -> None:
        # Linger 0: the kernel resets the connection at once, dropping what it still queues
        # for the client, instead of keeping the socket until a peer that reads nothing ACKs.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    return abort


class ExportResponse(StreamingResponse):
    """``StreamingResponse`` that holds an export's admission and bounds each send."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        *,
        state: ServiceState,
        admission: Admission,
        **kwargs: Any,
    ) -> None:
        super().__init__(body, **kwargs)
        self._body = body
        self._state = state
        self._admission = admission
        idle = state.settings.export_idle_seconds
        self._idle = idle if idle > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._abort: Callable[[], None] | None = scope.get("state", {}).get(ABORT_KEY)
        try:
            await super().__call__(scope, receive, send)
        finally:
            # However the response ended (cancelled before it began, cut off mid-stream), the
            # body's connection and the admission are freed now, not by the garbage collector.
            with anyio.CancelScope(shield=True):
                await self._close_body()
                await release_export(self._state, self._admission)

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        async with holding(self._state, self._admission):
            async for chunk in self._body:
                if not await self._send_slices(send, memoryview(chunk)):
                    self._state.metrics.exports_ended_idle.inc()
                    log.warning("export ended: its client read nothing for %s s", self._idle)
                    if self._abort is not None:
                        self._abort()
                    return  # incomplete on purpose: the connection ends mid-body
            await self._close_body()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_slices(self, send: Send, chunk: memoryview) -> bool:
        """Send ``chunk``; False when the client took none of a slice within the idle time."""
        for start in range(0, len(chunk), SEND_SLICE):
            piece = chunk[start : start + SEND_SLICE]
            with anyio.move_on_after(self._idle) as waiting:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            if waiting.cancelled_caught:
                return False
        return True

    async def _close_body(self) -> None:
        aclose = getattr(self._body, "aclose", None)
        if aclose is not None:
            await aclose()
