"""A fault-injecting HTTP proxy for tests: a real server on a loopback port that forwards to an
upstream (the live service) and breaks the requests a test scripts, once each.

    with FaultProxy(live_server.url) as proxy:
        proxy.reply(EXPORT, 503, {"error": "temporarily_unavailable", "error_description": "…"})
        proxy.cut(EXPORT, after=2000, skip=1)  # the second export request dies mid-body
        ...  # a client at proxy.url
        assert proxy.statuses(EXPORT) == [503, 200, 200, 200]

Each fault names a path and waits for its ``skip`` matching requests to pass, then applies to
the next one and is gone. Faults of one path apply in the order they were added. Built on raw
asyncio streams, so a cut is a real close of the socket mid-body: every forwarded body is sent
chunked, and a cut one lacks its last chunk, as when a connection drops. One request per
connection (every answer says ``Connection: close``); request bodies need a Content-Length.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import httpx
import orjson

Kind = Literal["reply", "cut", "truncate", "slow", "drop"]

_NOT_FORWARDED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "te", "trailer"}
)


@dataclass
class Fault:
    """One scripted fault. ``reply``: answer ``status``/``headers``/``body`` instead of the
    upstream. ``cut``: forward, then close the socket after ``after`` body bytes (at the end of
    a shorter body, still without its last chunk). ``truncate``:
    forward, then end the body cleanly after ``after`` bytes. ``slow``: forward in pieces of
    ``piece`` bytes, ``pause`` seconds apart. ``drop``: close without answering."""

    kind: Kind
    path: str
    skip: int = 0
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    after: int = 0
    piece: int = 0
    pause: float = 0.0


@dataclass(frozen=True)
class Seen:
    """A request the proxy saw: ``target`` is path and query; ``status`` is what the proxy
    answered (0: it closed without answering); ``fault`` names the fault applied, if any."""

    method: str
    target: str
    status: int
    fault: Kind | None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


class FaultProxy:
    """The proxy, in a thread of its own running an asyncio loop; use it as a context manager."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.url = ""
        self.errors: list[BaseException] = []  # failures of the proxy itself, never expected
        self._faults: list[Fault] = []
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    # -- scripting -------------------------------------------------------------------------

    def reply(
        self,
        path: str,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
        *,
        skip: int = 0,
    ) -> None:
        """Answer ``status`` with a JSON ``body`` (the service's error form) and ``headers``."""
        self._add(Fault("reply", path, skip, status, headers or {}, orjson.dumps(body)))

    def cut(self, path: str, after: int, *, skip: int = 0) -> None:
        """Forward, but close the connection after ``after`` bytes of the body."""
        self._add(Fault("cut", path, skip, after=after))

    def truncate(self, path: str, after: int, *, skip: int = 0) -> None:
        """Forward, but end the body, properly framed, after ``after`` bytes."""
        self._add(Fault("truncate", path, skip, after=after))

    def slow(self, path: str, piece: int, pause: float, *, skip: int = 0) -> None:
        """Forward the body ``piece`` bytes at a time, ``pause`` seconds apart."""
        self._add(Fault("slow", path, skip, piece=piece, pause=pause))

    def drop(self, path: str, *, skip: int = 0) -> None:
        """Close the connection without answering."""
        self._add(Fault("drop", path, skip))

    # -- what happened ---------------------------------------------------------------------

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def requests(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    def statuses(self, path: str) -> list[int]:
        return [seen.status for seen in self.requests(path)]

    @property
    def pending(self) -> list[Fault]:
        """Faults not applied yet."""
        with self._lock:
            return list(self._faults)

    # -- the server ------------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path != path:
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                self._faults.remove(fault)
                return fault
            return None

    def _record(self, method: str, target: str, status: int, fault: Fault | None) -> None:
        with self._lock:
            self._seen.append(Seen(method, target, status, fault.kind if fault else None))

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        handlers: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as upstream:

            async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                task = asyncio.current_task()
                assert task is not None
                handlers.add(task)
                try:
                    await self._handle(upstream, reader, writer)
                except (ConnectionError, asyncio.IncompleteReadError):
                    pass  # the client hung up: that is its right
                except Exception as exc:
                    self.errors.append(exc)
                finally:
                    writer.close()
                    handlers.discard(task)

            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            self._ready.set()
            await self._stop.wait()
            server.close()
            for task in list(handlers):
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

    async def _handle(
        self,
        upstream: httpx.AsyncClient,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")[:-2]
        method, target, _version = request_line.split(" ")
        pairs = [(n.strip(), v.strip()) for n, _, v in (h.partition(":") for h in header_lines)]
        length = next((int(v) for k, v in pairs if k.lower() == "content-length"), 0)
        body = await reader.readexactly(length)
        fault = self._take(target.split("?", 1)[0])

        if fault is not None and fault.kind == "drop":
            self._record(method, target, 0, fault)
            return
        if fault is not None and fault.kind == "reply":
            self._record(method, target, fault.status, fault)
            extra = {**fault.headers, "Content-Type": "application/json"}
            extra["Content-Length"] = str(len(fault.body))
            writer.write(_head(fault.status, "Fault", list(extra.items())) + fault.body)
            await writer.drain()
            return

        forwarded = [(k, v) for k, v in pairs if k.lower() not in _NOT_FORWARDED]
        request = upstream.build_request(method, target, headers=forwarded, content=body)
        response = await upstream.send(request, stream=True)
        try:
            self._record(method, target, response.status_code, fault)
            kept = [(k, v) for k, v in response.headers.multi_items() if k not in _NOT_FORWARDED]
            kept.append(("Transfer-Encoding", "chunked"))
            writer.write(_head(response.status_code, response.reason_phrase, kept))
            await self._relay(response, writer, fault)
        finally:
            await response.aclose()

    async def _relay(
        self, response: httpx.Response, writer: asyncio.StreamWriter, fault: Fault | None
    ) -> None:
        kind = fault.kind if fault is not None else None
        budget = fault.after if fault is not None and kind in ("cut", "truncate") else None
        piece, pause = (
            (fault.piece, fault.pause) if fault is not None and kind == "slow" else (0, 0.0)
        )
        async for data in response.aiter_raw():
            if budget is not None:
                data, budget = data[:budget], budget - min(budget, len(data))
            step = piece or max(len(data), 1)
            for start in range(0, len(data), step):
                _chunk(writer, data[start : start + step])
                if pause:
                    await writer.drain()
                    await asyncio.sleep(pause)
            await writer.drain()
            if budget == 0:
                break
        if kind != "cut":
            writer.write(b"0\r\n\r\n")
        await writer.drain()


def _head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    if data:
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))
