"""What a person watching a pull sees: a live line on a terminal, a summary at the end, and
every retry as it happens (on the live display, or one line each off a terminal)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

from rich.console import Console, RenderableType
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from oms_export.client.query import Pager
from oms_export.client.retry import Retrying


@dataclass(frozen=True)
class Summary:
    """The end of a pull in figures. ``bytes`` came over the network; ``written`` reached the
    output (None for a table): they differ by format and by rows an incremental pull left out.
    """

    rows: int
    skipped: int
    pages: int
    bytes: int
    retries: int
    seconds: float
    destination: str
    high_water: str | None = None
    written: int | None = None
    high_water_verb: str = "completed"
    """What the high water is the latest time of: ``completed`` (or ``changed``) up to it."""

    def line(self) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        written = "" if self.written is None else f", {_size(self.written)} written"
        text = (
            f"Pulled {_count(self.rows, 'row')} ({_count(self.pages, 'page')}, "
            f"{_size(self.bytes)} downloaded{written}, "
            f"{_count(self.retries, 'retry', 'retries')}) in "
            f"{self.seconds:.1f} s, {rate:,.0f} rows/s -> {self.destination}"
        )
        if self.skipped:
            text += f"; left out {_count(self.skipped, 'row')} delivered before"
        if self.high_water is not None:
            text += f"; {self.high_water_verb} up to {self.high_water}"
        return text


def _count(number: int, noun: str, plural: str = "") -> str:
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000  # type: ignore[assignment]
    return f"{count:.1f} GB"


class _WithNote(Progress):
    """rich's progress line, and under it the last retry while it is news (rich's documented
    way to add to the display is overriding ``get_renderables``)."""

    note: tuple[Text, ...] = ()

    def get_renderables(self) -> Iterable[RenderableType]:
        yield self.make_tasks_table(self.tasks)
        yield from self.note


class LiveProgress:
    """Rows, bytes written and downloaded, rate and elapsed time on stderr, redrawn a few times
    a second; while the client retries, the attempt, its URL and the error under it.

    The retry lines stay until the next update, which comes only once rows flow again, so a
    dead service shows why nothing moves instead of "0 rows" and a ticking clock.
    """

    def __init__(self, console: Console) -> None:
        self._started = time.monotonic()
        self._progress = _WithNote(
            SpinnerColumn(),
            TextColumn("{task.completed:,.0f} rows"),
            TextColumn("{task.fields[size]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("pull", total=None, size="", rate="")

    def update(self, pager: Pager, written: int | None) -> None:
        elapsed = time.monotonic() - self._started
        rate = f"{pager.rows / elapsed:,.0f} rows/s" if elapsed > 0 else ""
        size = f"{_size(pager.bytes)} downloaded"
        if written is not None:
            size = f"{_size(written)} written, {size}"
        self._progress.note = ()  # rows came after the retry: it worked
        self._progress.update(self._task, completed=pager.rows, size=size, rate=rate)

    def retrying(self, notice: Retrying) -> None:
        attempt = f"attempt {notice.attempt} of {notice.attempts}"
        self._progress.note = (
            _line(f"Retrying: {attempt} failed on {notice.url}"),
            _line(f"  last error: {notice.error}; next attempt in {notice.delay:.1f} s"),
        )
        self._progress.refresh()

    def __enter__(self) -> LiveProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()


def _line(text: str) -> Text:
    """One line of the display, cut with an ellipsis rather than wrapped on a narrow terminal."""
    return Text(text, style="yellow", no_wrap=True, overflow="ellipsis")


class NoProgress:
    """For ``--quiet``: nothing until the error, if there is one."""

    def update(self, pager: Pager, written: int | None) -> None:
        pass

    def retrying(self, notice: Retrying) -> None:
        pass

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass


class RetryLines(NoProgress):
    """For a pipe or a log file: no live display, but one line per retry, as it happens, so a
    scheduled job's log shows a slow run's cause (``Attempt 2 of 8 failed: URL: …``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def retrying(self, notice: Retrying) -> None:
        print(notice, file=self._stream, flush=True)

    def __enter__(self) -> RetryLines:
        return self
