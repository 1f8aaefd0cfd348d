"""Where pull's encoders write, in a module of its own so every encoder's module can name it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc has it from Python 3.12


class Sink(Protocol):
    """Where an encoder writes: a binary file or stream (``BytesIO`` in tests, a ``Counted``)."""

    def write(self, data: Buffer, /) -> int: ...
