"""The export's output formats: one entry each, read by everything that names a format.

A format used to be five edits (the ``format=`` choices, the media types, the encoding branch,
the Accept negotiation, the OpenAPI content types); now it is one ``Format`` in ``FORMATS``, in
the manner of datasette's output renderers: a name, what it is sent as, which Accept media
ranges choose it, its encoder, and whether it can carry the nested ``shape=orders``. The
parameter parser (``export/params.py``), the run (``Export.chunks``), the route's negotiation
and its OpenAPI description (``api/export.py``) all read ``FORMATS``.

Adding a format is one entry here and, when it needs one, its encoder in ``encoders.py``::

    Format("tsv", "text/tab-separated-values; charset=utf-8", ("text/tab-separated-values",),
           title="TSV", encode=_tsv, nests=False)

Knows nothing of HTTP beyond media type strings, and nothing of the database: an encoder reads
the export through ``Encodable``, so this module imports no other part of the pipeline and any
of them may import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from oms_export.errors import InvalidRequest
from oms_export.export.encoders import Batches, csv_table, json_array, ndjson


class Encodable(Protocol):
    """An export as an encoder reads it: the same rows as dicts or as tuples.

    Two views because CSV is flat by nature and is written straight from the database's tuples,
    while JSON needs the keys and may nest.
    """

    @property
    def keys(self) -> Sequence[str]:
        """The flat export's keys, in column order: the CSV header."""
        ...

    @property
    def boolean_positions(self) -> Sequence[int]:
        """Positions in ``keys`` of the boolean columns, written ``true``/``false``."""
        ...

    def raw_batches(self) -> Iterator[Sequence[Sequence[Any]]]:
        """Rows as tuples in ``keys`` order, a batch at a time (always the flat shape)."""
        ...

    def json_records(self) -> Batches:
        """Rows in the shape the query asked for, as the JSON encoders take them."""
        ...


Encoder = Callable[[Encodable], Iterator[bytes]]


@dataclass(frozen=True)
class Format:
    """One output format of the export."""

    name: str
    """What ``format=`` takes."""
    media_type: str
    """The ``Content-Type`` the export is sent with."""
    accepts: tuple[str, ...]
    """The Accept media ranges (lower case) this format answers to; each names one format."""
    title: str
    """The format as an error message names it."""
    encode: Encoder
    """Turns an export into the bytes on the wire, a batch per chunk."""
    nests: bool
    """Whether it can carry ``shape=orders`` (a nested object per order)."""
    json: bool = False
    """Whether its encoder writes the ``json_records`` view (JSON text per record)."""

    @property
    def essence(self) -> str:
        """The media type without its parameters: ``text/csv`` for ``text/csv; charset=utf-8``."""
        return self.media_type.partition(";")[0].strip()


def _json(export: Encodable) -> Iterator[bytes]:
    return json_array(export.json_records())


def _ndjson(export: Encodable) -> Iterator[bytes]:
    return ndjson(export.json_records())


def _csv(export: Encodable) -> Iterator[bytes]:
    return csv_table(export.keys, export.boolean_positions, export.raw_batches())


FORMATS: Final[dict[str, Format]] = {
    fmt.name: fmt
    for fmt in (
        Format(
            "json",
            "application/json",
            ("application/json", "application/*", "*/*"),
            title="JSON",
            encode=_json,
            nests=True,
            json=True,
        ),
        Format(
            "ndjson",
            "application/x-ndjson",
            ("application/x-ndjson",),
            title="NDJSON",
            encode=_ndjson,
            nests=True,
            json=True,
        ),
        Format(
            "csv",
            "text/csv; charset=utf-8",
            ("text/csv", "text/*"),
            title="CSV",
            encode=_csv,
            nests=False,
        ),
    )
}
"""Every format, in the order error messages and the API description list them."""

DEFAULT_FORMAT: Final = FORMATS["json"]
"""Sent when neither ``format=`` nor the Accept header names a format."""


def _by_media_range() -> dict[str, Format]:
    """Each Accept media range to the one format it chooses; a range claimed twice is a bug."""
    ranges: dict[str, Format] = {}
    for fmt in FORMATS.values():
        for media_range in fmt.accepts:
            if media_range in ranges:
                raise ValueError(
                    f"{media_range} is claimed by {ranges[media_range].name} and {fmt.name}"
                )
            ranges[media_range] = fmt
    return ranges


BY_MEDIA_RANGE: Final = _by_media_range()
"""What ``Accept`` negotiation looks media ranges up in (lower case, without parameters)."""


def check_shape(fmt: Format, shape: str) -> None:
    """Refuse a shape ``fmt`` cannot carry, naming the formats that can.

    >>> check_shape(FORMATS["csv"], "orders")
    Traceback (most recent call last):
    ...
    oms_export.errors.InvalidRequest: `shape=orders` cannot be sent as CSV; ask for JSON or NDJSON.
    """
    if shape == "orders" and not fmt.nests:
        able = [other.title for other in FORMATS.values() if other.nests]
        either = " or ".join(filter(None, (", ".join(able[:-1]), able[-1])))
        raise InvalidRequest(
            f"`shape=orders` cannot be sent as {fmt.title}; ask for {either}.", parameter="shape"
        )
