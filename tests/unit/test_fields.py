"""The field registry says each field once and truly: it matches the spec, the store and the SQL.

Every reader derives from the registry, so these checks are where a wrong entry is caught: a
name or option off the spec, a source naming no column, a type the column cannot carry, a
computed field without its expression, a filter the contract does not list.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String, Text
from sqlalchemy.sql.selectable import Alias

from oms_export.db import schema
from oms_export.export import query
from oms_export.export.params import DATETIME_FIELDS, FILTER_OPS, INTEGER_FIELDS
from oms_export.export.rows import BOOLEAN_FIELDS
from oms_export.export.shapes import ITEM_RELATIONS, ORDER_RELATIONS
from oms_export.fields import ALWAYS, BY_NAME, FIELDS, OPTIONS, TABLES, Field, field_names
from tests.spec import spec_rows

FULFILMENT = "includeFulfilment"


def test_the_registry_lists_the_spec_fields_in_name_order_and_option() -> None:
    """``fields.tsv`` is the article's list; the fields §6.4 adds are the registry's others."""
    assert [(f.name, f.option) for f in FIELDS if f.option != FULFILMENT] == [
        (row[0], row[1].strip()) for row in spec_rows("fields.tsv")
    ]


def test_the_fulfilment_fields_are_those_of_the_contract_after_the_articles_options() -> None:
    """API.md §6.4: these six, in this order, after the article's option fields (and so before
    the attribute columns, which follow every listed field)."""
    names = [f.name for f in FIELDS]
    assert [f.name for f in FIELDS if f.option == FULFILMENT] == [
        "updated_datetime",
        "items__shipped_quantity",
        "items__cancelled_quantity",
        "items__dispatch_datetime",
        "items__tracking",
        "items__tracking_url",
    ]
    assert names[-6:] == [f.name for f in FIELDS if f.option == FULFILMENT]
    assert [BY_NAME[name].type for name in names[-6:]] == [
        "datetime", "integer", "integer", "datetime", "text", "text",
    ]  # fmt: skip


def test_each_field_is_listed_once() -> None:
    assert len(BY_NAME) == len(FIELDS)


def test_options_come_in_the_order_their_fields_do_then_attributes_then_fulfilment() -> None:
    first_seen = list(dict.fromkeys(f.option for f in FIELDS if f.option != ALWAYS))
    assert first_seen[-1] == FULFILMENT
    assert [*first_seen[:-1], "includeAttributes", FULFILMENT] == list(OPTIONS)
    assert len(field_names(frozenset())) == 63  # the spec's "63 always fields"
    assert field_names(frozenset(OPTIONS)) == tuple(f.name for f in FIELDS)


def test_the_filters_are_those_of_the_contract() -> None:
    """API.md §3.3 and §6.4, as a table."""
    assert FILTER_OPS == {
        "status": ("eq", "in"),
        "completion_datetime": ("gt", "gte", "lt", "lte"),
        "creation_datetime": ("gt", "gte", "lt", "lte"),
        "sale_datetime": ("gt", "gte", "lt", "lte"),
        "id": ("eq", "in", "gt", "lt"),
        "ref": ("eq", "in"),
        "external_ref": ("eq", "in"),
        "company_ref_id": ("eq", "in"),
        "updated_datetime": ("gt", "gte", "lt", "lte"),  # §6.4
    }
    assert set(DATETIME_FIELDS) == {
        "completion_datetime", "creation_datetime", "sale_datetime", "updated_datetime",
    }  # fmt: skip
    assert set(INTEGER_FIELDS) == {"status", "id", "company_ref_id"}


def test_every_filter_compares_a_stored_column_of_the_order() -> None:
    """A filter on an item column would drop rows, not orders; a computed value has no index."""
    for name in FILTER_OPS:
        source = BY_NAME[name].source
        assert source is not None, name
        assert source.partition(".")[0] in ("o", "c"), name


COLUMN_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (Integer,),
    "relation": (Integer,),
    "money": (Numeric,),
    "rate": (Numeric,),
    "decimal": (Numeric,),
    "text": (Text, String),
    "flag": (Boolean,),
    "datetime": (DateTime,),
    "date": (Date,),
}
SCALES = {"money": 4, "rate": 6, "decimal": 4}


@pytest.mark.parametrize("field", [f for f in FIELDS if f.source is not None], ids=str)
def test_a_stored_field_names_a_column_whose_type_it_declares(field: Field) -> None:
    assert field.source is not None
    alias, _, column_name = field.source.partition(".")
    column = schema.metadata.tables[TABLES[alias]].c[column_name]
    assert isinstance(column.type, COLUMN_TYPES[field.type]), (field.name, column.type)
    if field.type in SCALES:
        assert isinstance(column.type, Numeric)
        assert column.type.scale == SCALES[field.type], field.name
    if field.type == "relation":
        assert column_name == "id", field.name


def test_the_sql_joins_each_registry_alias_as_its_table() -> None:
    assert set(query._STORED) == set(TABLES)
    for alias, joined in query._STORED.items():
        assert isinstance(joined, Alias)
        assert (joined.name, getattr(joined.element, "name", None)) == (alias, TABLES[alias])


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_every_field_has_one_expression_and_every_computed_one_is_used(dialect: str) -> None:
    assert list(query._field_expressions(dialect)) == [f.name for f in FIELDS]
    computed = {f.name for f in FIELDS if f.source is None}
    assert set(query._computed(dialect)) == computed


def test_the_readers_take_flags_and_relations_from_the_registry() -> None:
    assert BOOLEAN_FIELDS == ("is_free_of_charge",)
    assert set(ORDER_RELATIONS) == {"secondary_company"}
    assert set(ITEM_RELATIONS) == {"product_owner", "product_price", "base_product_price"}
    for name in (*ORDER_RELATIONS, *(f"items__{n}" for n in ITEM_RELATIONS)):
        related = [f for f in FIELDS if f.name.startswith(f"{name}__")]
        assert related, name  # a relation key stands for a record with fields of its own
        assert {f.option for f in related} == {BY_NAME[name].option}, name


def test_the_registry_loads_nothing_but_the_standard_library() -> None:
    """``pull`` reads it on the client side, where the server's packages may be absent."""
    probe = (
        "import sys; before = set(sys.modules); import oms_export.fields\n"
        "print(sorted(n for n in set(sys.modules) - before"
        " if n.split('.')[0] not in sys.stdlib_module_names and n.split('.')[0] != 'oms_export'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
