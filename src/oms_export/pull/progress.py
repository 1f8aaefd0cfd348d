"""What a person watching a pull sees: a live line on a terminal, a summary at the end."""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from oms_export.client.query import Pager


@dataclass(frozen=True)
class Summary:
    rows: int
    skipped: int
    pages: int
    bytes: int
    retries: int
    seconds: float
    destination: str
    high_water: str | None = None

    def line(self) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"Pulled {_count(self.rows, 'row')} ({_count(self.pages, 'page')}, "
            f"{_size(self.bytes)}, {_count(self.retries, 'retry', 'retries')}) in "
            f"{self.seconds:.1f} s, {rate:,.0f} rows/s -> {self.destination}"
        )
        if self.skipped:
            text += f"; left out {_count(self.skipped, 'row')} delivered before"
        if self.high_water is not None:
            text += f"; completed up to {self.high_water}"
        return text


def _count(number: int, noun: str, plural: str = "") -> str:
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000  # type: ignore[assignment]
    return f"{count:.1f} GB"


class LiveProgress:
    """Rows, bytes, rate and elapsed time on stderr, redrawn a few times a second."""

    def __init__(self, console: Console) -> None:
        self._started = time.monotonic()
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.completed:,.0f} rows"),
            TextColumn("{task.fields[size]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("pull", total=None, size="0 B", rate="")

    def update(self, pager: Pager) -> None:
        elapsed = time.monotonic() - self._started
        rate = f"{pager.rows / elapsed:,.0f} rows/s" if elapsed > 0 else ""
        self._progress.update(self._task, completed=pager.rows, size=_size(pager.bytes), rate=rate)

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


class NoProgress:
    """For a pipe, a log file or ``--quiet``."""

    def update(self, pager: Pager) -> None:
        pass

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass
