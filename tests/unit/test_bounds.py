"""Each shared bound of an export request is named once (``oms_export.bounds``), and every
party that states it, the parser, the paging, the client, the CLI, the API description and the
docs, states that one."""

from __future__ import annotations

import ast
import random
import string
import zlib
from pathlib import Path

import orjson
import pytest

from oms_export import bounds
from oms_export.api.app import create_app
from oms_export.bounds import MAX_CURSOR_LENGTH, MAX_LIST_VALUES, MAX_PAGE_SIZE
from oms_export.cli.pull import command as pull_command
from oms_export.client import query as client_query
from oms_export.db.engine import make_engine
from oms_export.errors import InvalidRequest
from oms_export.export.paging import MAX_INLINE_COLUMNS, AttributeColumns, make_cursor
from oms_export.export.params import parse_export_query
from oms_export.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_bounds_module_imports_nothing_of_the_package() -> None:
    """The client reads it, so it must stay free of the server's weight."""
    tree = ast.parse(Path(bounds.__file__).read_text())
    imported = {
        name
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    assert imported == {"__future__", "typing"}


def test_page_size_is_accepted_up_to_the_bound_and_refused_past_it() -> None:
    assert parse_export_query([("page[size]", str(MAX_PAGE_SIZE))]).page_size == MAX_PAGE_SIZE
    with pytest.raises(InvalidRequest, match=f"from 1 to {MAX_PAGE_SIZE}\\.$"):
        parse_export_query([("page[size]", str(MAX_PAGE_SIZE + 1))])


def test_an_in_list_is_accepted_up_to_the_bound_and_refused_past_it() -> None:
    values = ",".join(["1"] * MAX_LIST_VALUES)
    assert len(parse_export_query([("filter[id:in]", values)]).filters[0].values) == MAX_LIST_VALUES
    with pytest.raises(InvalidRequest, match=f"at most {MAX_LIST_VALUES} are accepted"):
        parse_export_query([("filter[id:in]", values + ",1")])


def test_a_cursor_is_accepted_up_to_the_bound_and_refused_past_it() -> None:
    longest = "A" * MAX_CURSOR_LENGTH
    assert parse_export_query([("page[after]", longest)]).after == longest
    with pytest.raises(InvalidRequest, match="not a cursor this service gave out"):
        parse_export_query([("page[after]", longest + "A")])


def _inline_columns_near_the_limit() -> AttributeColumns:
    """Attribute names that compress to as many bytes as a cursor carries inline, or just under.

    Random names barely compress, so the packed size grows with every name added.
    """
    rng = random.Random(7)
    names: list[str] = []
    while True:
        name = "".join(rng.choices(string.ascii_letters + string.digits, k=12))
        packed = zlib.compress(orjson.dumps(((*names, name), ())), 9)
        if len(packed) > MAX_INLINE_COLUMNS:
            return (tuple(names), ())
        names.append(name)


def test_the_longest_cursor_the_service_makes_is_one_it_accepts() -> None:
    columns = _inline_columns_near_the_limit()
    assert len(zlib.compress(orjson.dumps(columns), 9)) > MAX_INLINE_COLUMNS - 20
    query = parse_export_query([("options[includeAttributes]", "1")])
    cursor = make_cursor(b"key", "client", query, 2**63 - 1, columns)
    assert len(cursor) <= MAX_CURSOR_LENGTH
    assert parse_export_query([("page[after]", cursor)]).after == cursor


def test_the_client_pages_by_the_same_bound() -> None:
    assert client_query.MAX_PAGE_SIZE is MAX_PAGE_SIZE
    assert client_query.Query().page_size == MAX_PAGE_SIZE


def test_pulls_page_size_option_stops_at_the_bound() -> None:
    (option,) = [p for p in pull_command.params if p.name == "page_size"]
    assert option.type.max == MAX_PAGE_SIZE  # type: ignore[attr-defined]  # an IntRange


def test_the_api_description_states_the_page_size_bound(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}")
    engine = make_engine(settings)
    app = create_app(settings, engine)
    try:
        operation = app.openapi()["paths"]["/export-api/order-item-details"]["get"]
    finally:
        app.state.service.close()
        engine.dispose()
    (page_size,) = [p for p in operation["parameters"] if p["name"] == "page[size]"]
    assert f"1-{MAX_PAGE_SIZE};" in page_size["description"]


def test_the_api_docs_state_the_same_bounds() -> None:
    page = (ROOT / "docs" / "api.md").read_text()
    assert f"(1 to {MAX_PAGE_SIZE})" in page
    assert f"at most {MAX_LIST_VALUES} values" in page
    assert f"({Settings().max_query_length})" in page
