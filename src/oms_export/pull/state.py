"""Incremental sync: which rows were delivered, so the next pull sends only new ones.

A sync follows one datetime of the rows, its ``Watermark``: ``completion_datetime`` (an order is
delivered once, when it has completed) or, for ``pull --changes``, ``updated_datetime`` (an order
is delivered again each time it changes). The state remembers the high-water mark, the latest
such time delivered. The next pull asks from that mark minus a lookback window, because a row
can be written with a time a little in the past (a late-completing order, a change whose
transaction commits late), and drops the rows of that window it delivered before; their keys are
kept in the state, and only theirs, so it stays small.

The state file is replaced atomically and only after the output is durable, so a pull killed at
any moment leaves the previous state, and running it again delivers the same rows again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
"""The lower bound of a first incremental pull: every row whose time is set (every completed
order; every order, for changes)."""


class StateError(Exception):
    """The state file cannot be used for this pull; the message says why and what to do."""


Key = tuple[int, int]


def order_key(row: Row) -> Key:
    """The key of a whole order: every row of it has the same, so it is kept or left out whole."""
    return row["id"], 0


@dataclass(frozen=True)
class Watermark:
    """The row time a sync follows, and what makes a row one delivered before."""

    field: str
    """The row's datetime the mark is of, asked from with ``filter[FIELD:gte]``."""
    key: Callable[[Row], Key]
    """What the state remembers a delivery by."""
    again_when_changed: bool
    """False: a key is delivered once, whatever its time becomes. True: a key is delivered again
    when its time differs from the one delivered, so only (key, time) pairs are left out."""
    verb: str
    """What the pull's summary says of the mark: ``completed up to …``."""


COMPLETION: Final = Watermark(
    "completion_datetime", row_key, again_when_changed=False, verb="completed"
)
"""``pull --state``: each row once, when its order has completed."""
CHANGES: Final = Watermark("updated_datetime", order_key, again_when_changed=True, verb="changed")
"""``pull --changes --state``: each order, all its rows, again whenever it changed. The time is
kept to the second, so an order changed again in the second a pull read it keeps the time that
pull delivered; the orders at the mark's second are therefore delivered once more by the next
pull (``Window``), which a table takes as a no-op replace."""


@dataclass
class SyncState:
    """What one ``--state`` file holds; ``pull`` is the pull it belongs to (server and query).

    ``delivered`` has the key of every row delivered so far whose time (the watermark's field)
    is at or after ``covered_from``, with that time; rows from before it are never asked for
    again.
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

    ``bound`` is the ``FIELD:gte`` to ask from (``watermark.field``): the mark minus the
    lookback, but never before what the state covers, so a lookback made longer between runs
    cannot bring back rows delivered before (it takes effect as the mark moves on).
    """

    def __init__(
        self, state: SyncState, lookback: timedelta, watermark: Watermark = COMPLETION
    ) -> None:
        self._pull = state.pull
        self._previous = state.delivered
        self._lookback = lookback
        self._watermark = watermark
        self._mark = state.high_water or BEGINNING
        # Changes: a row at the previous mark's very second may have changed again in that
        # second after the previous pull read it, with no new time to tell, so it is not skipped.
        self._settled_before = self._mark
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
        key = self._watermark.key(row)
        moment: str = row[self._watermark.field]
        if moment > self._mark:
            self._mark = moment
        # Kept with today's time even when skipped: a row whose time moved later must be
        # remembered for as long as the window can meet it again.
        self._kept[key] = moment
        if len(self._kept) >= self._prune_at:
            self._prune()
        if key in self._previous and self._delivered_as_is(self._previous[key], moment):
            self.skipped += 1
            return False
        return True

    def _delivered_as_is(self, delivered: str, moment: str) -> bool:
        if not self._watermark.again_when_changed:
            return True
        return delivered == moment and moment < self._settled_before

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

    @property
    def watermark(self) -> Watermark:
        return self._watermark


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
