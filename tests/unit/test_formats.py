"""The formats registry: each format is one entry, and params, the run, negotiation and the
OpenAPI description all answer from it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from oms_export.api.app import create_app
from oms_export.api.export import negotiate
from oms_export.db.engine import make_engine
from oms_export.errors import InvalidRequest, NotAcceptable
from oms_export.export.encoders import Batches
from oms_export.export.formats import (
    BY_MEDIA_RANGE,
    DEFAULT_FORMAT,
    FORMATS,
    Format,
    check_shape,
)
from oms_export.export.params import parse_export_query
from oms_export.settings import Settings

PATH = "/export-api/order-item-details"


class LiteralExport:
    """An export of literal rows, to read each format's bytes without a database."""

    def __init__(self, keys: Sequence[str], rows: list[list[Any]], flags: Sequence[int]) -> None:
        self.keys = keys
        self.boolean_positions = flags
        self._rows = rows

    def raw_batches(self) -> Iterator[Sequence[Sequence[Any]]]:
        yield self._rows[:1]
        yield self._rows[1:]

    def json_records(self) -> Batches:
        return iter([[dict(zip(self.keys, row, strict=True)) for row in self._rows]])


EXPORT = LiteralExport(["id", "ok", "note"], [[1, True, None], [2, False, "a,b"]], [1])


def test_the_registry_lists_the_formats_the_api_promises() -> None:
    assert [(f.name, f.media_type, f.accepts, f.nests) for f in FORMATS.values()] == [
        ("json", "application/json", ("application/json", "application/*", "*/*"), True),
        ("ndjson", "application/x-ndjson", ("application/x-ndjson",), True),
        ("csv", "text/csv; charset=utf-8", ("text/csv", "text/*"), False),
    ]
    assert DEFAULT_FORMAT is FORMATS["json"]


def test_every_format_answers_to_its_own_media_type_and_no_range_to_two() -> None:
    for fmt in FORMATS.values():
        assert BY_MEDIA_RANGE[fmt.essence] is fmt
    claimed = [media_range for fmt in FORMATS.values() for media_range in fmt.accepts]
    assert sorted(claimed) == sorted(BY_MEDIA_RANGE)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("json", b'[{"id":1,"ok":true,"note":null},{"id":2,"ok":false,"note":"a,b"}]'),
        ("ndjson", b'{"id":1,"ok":true,"note":null}\n{"id":2,"ok":false,"note":"a,b"}\n'),
        ("csv", b'id,ok,note\r\n1,true,\r\n2,false,"a,b"\r\n'),
    ],
)
def test_each_format_encodes_through_its_entry(name: str, body: bytes) -> None:
    assert b"".join(FORMATS[name].encode(EXPORT)) == body


def test_format_parameter_takes_exactly_the_registered_names() -> None:
    for name in FORMATS:
        assert parse_export_query([("format", name)]).format == name
    with pytest.raises(InvalidRequest, match=r"accepted: json, ndjson, csv\.$"):
        parse_export_query([("format", "xml")])


@pytest.mark.parametrize(
    ("accept", "name"),
    [
        (None, "json"),
        ("", "json"),
        ("*/*", "json"),
        ("application/*", "json"),
        ("APPLICATION/X-NDJSON", "ndjson"),
        ("text/*", "csv"),
        ("text/csv;q=0.5, application/json;q=0.9", "json"),
        ("text/csv, application/json", "csv"),  # equal quality: the first listed
        ("text/html, text/*;q=0.1", "csv"),
        ("application/json;q=0, text/csv", "csv"),
        ("application/json;q=x, text/csv;q=0.1", "csv"),  # an unreadable q is 0
    ],
)
def test_negotiation_reads_the_media_ranges_from_the_registry(
    accept: str | None, name: str
) -> None:
    assert negotiate(accept) is FORMATS[name]


def test_an_accept_header_naming_no_format_lists_the_registered_media_types() -> None:
    with pytest.raises(NotAcceptable) as refused:
        negotiate("text/html, image/*")
    assert refused.value.description == (
        "The Accept header names no format this export has; accepted: "
        "application/json, application/x-ndjson, text/csv (or use format=)."
    )


def test_only_a_format_that_nests_carries_shape_orders() -> None:
    for fmt in FORMATS.values():
        check_shape(fmt, "rows")
        if fmt.nests:
            check_shape(fmt, "orders")
    with pytest.raises(InvalidRequest) as refused:
        check_shape(FORMATS["csv"], "orders")
    assert refused.value.description == (
        "`shape=orders` cannot be sent as CSV; ask for JSON or NDJSON."
    )
    assert refused.value.parameter == "shape"


def test_a_refusal_names_every_format_that_nests() -> None:
    flat = Format(
        "tsv",
        "text/tab-separated-values",
        (),
        title="TSV",
        encode=FORMATS["csv"].encode,
        nests=False,
    )
    with pytest.raises(InvalidRequest, match=r"as TSV; ask for JSON or NDJSON\.$"):
        check_shape(flat, "orders")


def test_the_openapi_description_lists_every_format(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}")
    engine = make_engine(settings)
    app = create_app(settings, engine)
    try:
        operation = app.openapi()["paths"][PATH]["get"]
    finally:
        app.state.service.close()
        engine.dispose()
    assert list(operation["responses"]["200"]["content"]) == [
        fmt.media_type for fmt in FORMATS.values()
    ]
    described = {p["name"]: p["description"] for p in operation["parameters"]}
    assert described["format"] == "json (default), ndjson or csv; wins over the Accept header."
