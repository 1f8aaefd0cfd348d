"""The flat JSON export's records: the same bytes as dicts encoded by orjson, the old way."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from oms_export.auth.principal import CompanyGrant, Principal
from oms_export.auth.scopes import EXPORT_SCOPE
from oms_export.export.encoders import json_array, ndjson
from oms_export.export.formats import FORMATS
from oms_export.export.params import parse_export_query
from oms_export.export.rows import record_batcher
from oms_export.export.run import start_export
from oms_export.export.tenancy import entitlement
from tests import factories as f

KEYS = ("id", "status_name", "is_free_of_charge", "shipping_price", "items__sale_vat_rate", "x")

# What the schema lets a column hold: money Numeric(14, 4), rates Numeric(8, 6), text, flags.
money = st.decimals(min_value="-9999999999.9999", max_value="9999999999.9999", places=4).map(float)
rate = st.decimals(min_value=0, max_value="99.999999", places=6).map(float)
value = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), money, rate,
                  st.text())  # fmt: skip
rows = st.lists(st.tuples(*(value for _ in KEYS)), max_size=20)


def old_json(batches: list[list[tuple[Any, ...]]], keys: tuple[str, ...]) -> bytes:
    dicts = [dict(zip(keys, row, strict=True)) for batch in batches for row in batch]
    return orjson.dumps(dicts)


@given(st.lists(rows, max_size=4))
def test_records_encode_to_the_bytes_orjson_wrote_for_dicts(batches: list[list[Any]]) -> None:
    batcher = record_batcher(KEYS, dialect="postgresql")
    body = b"".join(json_array([batcher(batch) for batch in batches]))
    assert body == old_json(batches, KEYS)
    lines = b"".join(ndjson([batcher(batch) for batch in batches]))
    expected = b"".join(orjson.dumps(dict(zip(KEYS, row, strict=True))) + b"\n"
                        for batch in batches for row in batch)  # fmt: skip
    assert lines == expected


def test_keys_json_must_escape_are_escaped() -> None:
    keys = ("id", 'attributes__say "hi"', "attributes__back\\slash", "attributes__tab\there")
    batcher = record_batcher(keys, dialect="postgresql")
    body = b"".join(json_array([batcher([(1, "a", "b", "c")])]))
    assert body == orjson.dumps([dict(zip(keys, (1, "a", "b", "c"), strict=True))])
    assert orjson.loads(body)[0]['attributes__say "hi"'] == "a"


def test_sqlite_flags_become_booleans_and_nulls_stay_null() -> None:
    keys = ("id", "is_free_of_charge")
    batcher = record_batcher(keys, dialect="sqlite")
    body = b"".join(json_array([batcher([(1, 1), (2, 0), (3, None)])]))
    assert body == (
        b'[{"id":1,"is_free_of_charge":true},{"id":2,"is_free_of_charge":false},'
        b'{"id":3,"is_free_of_charge":null}]'
    )


def test_an_export_of_no_rows_is_an_empty_array() -> None:
    batcher = record_batcher(KEYS, dialect="postgresql")
    assert b"".join(json_array([batcher([]), []])) == b"[]"
    assert b"".join(ndjson([batcher([])])) == b""


# SQLite writes a flat JSON export's rows itself (query.sqlite_json_rows): its text must be the
# encoder's, number for number, on every value the schema admits.

RATES = [0, 0.000001, 0.000009, 0.00001, 0.000025, 0.00005, 0.000099, 0.0001, 0.123456, 0.2, 1]
MONEY = [0, 0.0001, 0.1, 0.5, 12, 12.5, 99.9999, 1234567.8912, 9999999999.9999, -0.0001, -12.5]


def test_json_rows_written_by_the_database_equal_the_encoders(engine: Engine) -> None:
    company = f.company(engine, 1001, "order_manager")
    items = [
        {"sku": f"S{n}", "sale_vat_rate": rate, "unit_sale_price": money, "unit_cost_price": -money}
        for n, (rate, money) in enumerate(zip(RATES, MONEY, strict=True))
    ]
    f.order(engine, company, "NUMBERS", items=items, shipping_tax_rate=0.00005,
            shipping_price=0.0001, is_free_of_charge=True, attributes={'say "hi"\\': "x"})  # fmt: skip
    f.order(engine, company, "EMPTY", status=1, is_free_of_charge=False)
    principal = Principal(1, "c", frozenset({EXPORT_SCOPE}),
                          (CompanyGrant(company, 1001, "order_manager"),))  # fmt: skip
    for options in ("", "&options[includeAttributes]=1"):
        query = parse_export_query(parse_qsl("shape=rows" + options))
        bodies = []
        for fmt in (None, FORMATS["json"]):
            export = start_export(engine, query, entitlement(principal, query), client_id="c",
                                  cursor_key=b"k", batch_rows=4, fmt=fmt)  # fmt: skip
            bodies.append(b"".join(json_array(export.json_records())))
        assert bodies[0] == bodies[1]
        rows = orjson.loads(bodies[1])
        assert [row["items__sale_vat_rate"] for row in rows[:-1]] == RATES
        assert [row["items__unit_sale_price"] for row in rows[:-1]] == MONEY
        assert rows[0]["is_free_of_charge"] is True
        assert rows[-1]["is_free_of_charge"] is False
