"""One pull: rows from the service, through the sync window, into an output, then the state."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from oms_export.client.query import Pager, Row
from oms_export.client.retry import Retrying
from oms_export.pull.outputs import Output
from oms_export.pull.progress import Summary
from oms_export.pull.state import Window

BATCH_ROWS = 2_000
"""Rows handed to the output at a time; a batch grows past this only to finish an order."""


class Watcher(Protocol):
    """Someone watching the pull: told of progress after each batch, and of each retry."""

    def update(self, pager: Pager, written: int | None) -> None: ...

    def retrying(self, notice: Retrying) -> None: ...


class Incremental:
    """``--state FILE`` and the window of this run."""

    def __init__(self, path: Path, window: Window) -> None:
        self.path = path
        self.window = window


def run_pull(
    rows: Iterable[Row],
    pager: Pager,
    output: Output,
    watcher: Watcher,
    incremental: Incremental | None = None,
) -> Summary:
    """Deliver ``rows`` to ``output``; the state advances only once the output is durable.

    Batches end on an order boundary, so an output that commits a batch at a time never holds
    half an order.
    """
    started = time.monotonic()
    window = incremental.window if incremental else None
    batch: list[Row] = []
    try:
        for row in rows:
            if window is not None and not window.admit(row):
                continue
            if len(batch) >= BATCH_ROWS and row["id"] != batch[-1]["id"]:
                output.write(batch)
                watcher.update(pager, output.written)
                batch = []
            batch.append(row)
        if batch:
            output.write(batch)
        watcher.update(pager, output.written)
        output.commit()
    except BaseException:
        output.abort()
        raise
    if incremental is not None:
        incremental.window.next_state().save(incremental.path)
    skipped = window.skipped if window else 0
    return Summary(
        rows=pager.rows - skipped,
        skipped=skipped,
        pages=pager.pages,
        bytes=pager.bytes,
        retries=pager.retries,
        seconds=time.monotonic() - started,
        destination=output.description,
        high_water=window.high_water if window else None,
        written=output.written,
        high_water_verb=window.watermark.verb if window else "completed",
    )
