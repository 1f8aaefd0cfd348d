"""The export's streamed response: it holds its admission exactly while it is sent, and ends a
stream whose client has stopped reading.

A client that stops reading fills the socket's buffers, and then each send waits for room. A
send that waits longer than ``OMS_EXPORT_EXPORT_IDLE_SECONDS`` ends the response: the body is
closed (its statement interrupted, its connection handed back), the admission released, and the
server closes the connection, so the client sees a cut body, never a complete-looking one.

Chunks go out in slices of ``SEND_SLICE`` bytes, so one send waits only until the client has
taken about the server's write buffer (64 KiB): a slow but steady reader is never cut off, only
one that reads nothing, or next to nothing, for the whole idle time.

The admission is released before the last, empty body message goes out, so a client that reads
one export to its end and at once asks for the next never finds its own slot still taken.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from oms_export.api.admission import Admission, holding, release_export
from oms_export.api.state import ServiceState

log = logging.getLogger("oms_export.export")

SEND_SLICE = 16 * 1024


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
                    return  # incomplete on purpose: the server closes the connection
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
