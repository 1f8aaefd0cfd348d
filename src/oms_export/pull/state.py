"""Incremental sync: which completed rows were delivered, so the next pull sends only new ones.

The state remembers the high-water mark, the latest ``completion_datetime`` delivered. The next
pull asks from that mark minus a lookback window, because an order can be written with a
completion time a little in the past (a late-completing order), and drops the rows of that
window it delivered before; their keys are kept in the state, and only theirs, so it stays small.
Only completed orders take part: an order is delivered once, when it has completed.

The state file is replaced atomically and only after the output is durable, so a pull killed at
any moment leaves the previous state, and running it again delivers the same rows again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson
from filelock import FileLock, Timeout

from oms_export.client.query import Row, row_key
from oms_export.pull.outputs import write_atomically

VERSION: Final = 1
BEGINNING: Final = "0001-01-01 00:00:00"
"""The lower bound of a first incremental pull: every completed order, and no incomplete one."""


class StateError(Exception):
    """The state file cannot be used for this pull; the message says why and what to do."""


Key = tuple[int, int]


@dataclass
class SyncState:
    """What one ``--state`` file holds; ``pull`` is the pull it belongs to (server and query).

    ``delivered`` has every row delivered so far that completed at or after ``covered_from``,
    with its completion time; rows from before it are never asked for again.
    """

    pull: dict[str, Any]
    high_water: str | None = None
    covered_from: str = BEGINNING
    delivered: dict[Key, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, pull: Mapping[str, Any]) -> SyncState:
        """The state in ``path`` (a fresh one if there is none yet) for ``pull``.

        A state written for another pull is refused: its mark would skip or repeat rows.
        """
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(dict(pull))
        try:
            data = orjson.loads(raw)
            if data["version"] != VERSION:
                raise StateError(f"{path} has state version {data['version']}, not {VERSION}")
            state = cls(
                data["pull"],
                data["high_water"],
                data["covered_from"],
                {(key[1], key[2]): key[0] for key in data["delivered"]},
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, IndexError) as exc:
            raise StateError(
                f"{path} is not a pull state file ({exc.__class__.__name__}: {exc}); "
                "move it away to start over, which delivers every row again"
            ) from None
        if state.pull != dict(pull):
            changed = sorted(k for k in {*state.pull, *pull} if state.pull.get(k) != pull.get(k))
            raise StateError(
                f"{path} belongs to a pull with another {', '.join(changed)}; "
                "give each pull its own --state file"
            )
        return state

    def save(self, path: Path) -> None:
        document = {
            "version": VERSION,
            "pull": self.pull,
            "high_water": self.high_water,
            "covered_from": self.covered_from,
            "delivered": sorted([when, *key] for key, when in self.delivered.items()),
        }
        write_atomically(path, orjson.dumps(document, option=orjson.OPT_APPEND_NEWLINE))


class Window:
    """Admits the rows of one incremental pull and works out the state that follows it.

    ``bound`` is the ``completion_datetime:gte`` to ask from: the mark minus the lookback, but
    never before what the state covers, so a lookback made longer between runs cannot bring back
    rows delivered before (it takes effect as the mark moves on).
    """

    def __init__(self, state: SyncState, lookback: timedelta) -> None:
        self._pull = state.pull
        self._previous = state.delivered
        self._lookback = lookback
        self._mark = state.high_water or BEGINNING
        self.bound = (
            BEGINNING
            if state.high_water is None
            else max(_shift(state.high_water, -lookback), state.covered_from)
        )
        self._kept: dict[Key, str] = {}
        self._prune_at = 10_000
        self.skipped = 0

    def admit(self, row: Row) -> bool:
        """True for a row not delivered before; either way the row moves the mark."""
        key = row_key(row)
        completed: str = row["completion_datetime"]
        if completed > self._mark:
            self._mark = completed
        # Kept with today's completion time even when skipped: a row whose time moved later
        # must be remembered for as long as the window can meet it again.
        self._kept[key] = completed
        if len(self._kept) >= self._prune_at:
            self._prune()
        if key in self._previous:
            self.skipped += 1
            return False
        return True

    def _cutoff(self) -> str:
        return max(_shift(self._mark, -self._lookback), self.bound)

    def _prune(self) -> None:
        """Forget keys the next pull cannot meet again: the mark, and so the cutoff, only rise."""
        cutoff = self._cutoff()
        self._kept = {key: when for key, when in self._kept.items() if when >= cutoff}
        self._prune_at = max(10_000, 2 * len(self._kept))

    def next_state(self) -> SyncState:
        if self._mark == BEGINNING:
            return SyncState(self._pull, None, BEGINNING, dict(self._previous))
        cutoff = self._cutoff()
        delivered = {
            key: when
            for key, when in (*self._previous.items(), *self._kept.items())
            if when >= cutoff
        }
        return SyncState(self._pull, self._mark, cutoff, delivered)

    @property
    def high_water(self) -> str | None:
        return None if self._mark == BEGINNING else self._mark


def _shift(moment: str, delta: timedelta) -> str:
    """``moment`` moved by ``delta``, in the service's datetime form (never before year 1)."""
    try:
        return (datetime.fromisoformat(moment) + delta).isoformat(sep=" ", timespec="seconds")
    except OverflowError:
        return BEGINNING


@contextmanager
def hold_lock(path: Path) -> Iterator[None]:
    """One pull per state file at a time: an overlapping scheduled run fails instead of racing.

    ``filelock`` rather than ``fcntl``, so the package imports and locks on Windows too; on
    POSIX it is the same ``flock`` on ``.FILE.lock``, released by the OS if the pull dies.
    ``timeout=0``: a second run is refused at once rather than queued behind the first.
    """
    lock = FileLock(path.with_name(f".{path.name}.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise StateError(f"another pull is using {path}; try again when it has finished") from None
    try:
        yield
    finally:
        lock.release()
