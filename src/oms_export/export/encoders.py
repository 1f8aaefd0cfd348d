"""Export rows to bytes on the wire, a batch at a time, never the whole result at once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson


def json_array(batches: Iterable[list[dict[str, Any]]]) -> Iterator[bytes]:
    """One JSON array, written as the batches arrive: ``[`` row ``,`` row … ``]``."""
    yield b"["
    separator = b""
    for batch in batches:
        if batch:
            yield separator + b",".join(map(orjson.dumps, batch))
            separator = b","
    yield b"]"
