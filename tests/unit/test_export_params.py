"""Parsing the export's query string: what it accepts, and the error for everything else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qsl, quote

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from oms_export.errors import InvalidRequest
from oms_export.export.params import (
    FILTER_OPS,
    INTEGER_MAX,
    ExportQuery,
    Filter,
    parse_export_query,
    parse_export_query_string,
)


def parse(query_string: str) -> list[Filter]:
    return list(parse_export_query(parse_qsl(query_string, keep_blank_values=True)).filters)


def test_the_articles_full_filter_example_parses() -> None:
    assert parse("filter[status:in]=8,516&filter[completion_datetime:gt]=2020-03-06%2012:00:00") == [
        Filter("status", "in", (8, 516), "filter[status:in]"),
        Filter("completion_datetime", "gt", (datetime(2020, 3, 6, 12),), "filter[completion_datetime:gt]"),
    ]  # fmt: skip


def test_a_filter_without_operator_means_eq() -> None:
    assert parse("filter[external_ref]=WEB-1") == [
        Filter("external_ref", "eq", ("WEB-1",), "filter[external_ref]")
    ]


def test_options_accept_one_true_zero_false() -> None:
    query = parse_export_query(
        [
            ("options[includeProductOwner]", "1"),
            ("options[includeProductPrice]", "true"),
            ("options[includeProductEcommerceInfo]", "0"),
            ("options[includeAttributes]", "false"),
        ]
    )
    assert query.options == frozenset({"includeProductOwner", "includeProductPrice"})


@pytest.mark.parametrize(
    ("query_string", "parameter", "says"),
    [
        ("filter[colour:in]=red", "filter[colour:in]", "unknown filter field `colour`"),
        ("filter[status:gt]=8", "filter[status:gt]", "accepted: eq, in"),
        ("filter[status:in]=8,999", "filter[status:in]", "order status codes (0, 1, 2, 4, 8"),
        ("filter[status:in]=8,,516", "filter[status:in]", "empty value"),
        ("filter[status:in]=eight", "filter[status:in]", "got 'eight'"),
        ("filter[status]=", "filter[status]", "empty value"),
        ("filter[id:gt]=-1", "filter[id:gt]", "whole numbers"),
        ("filter[id:eq]=99999999999999999999", "filter[id:eq]", "whole numbers"),
        ("filter[completion_datetime:gt]=yesterday", "filter[completion_datetime:gt]", "Y-m-d H:i:s"),
        ("filter[completion_datetime:gt]=2020-13-06", "filter[completion_datetime:gt]", "Y-m-d H:i:s"),
        ("filter[completion_datetime:eq]=2020-03-06", "filter[completion_datetime:eq]", "gt, gte, lt, lte"),
        ("filter[sale_datetime:gt]=2020-03-06 25:00:00", "filter[sale_datetime:gt]", "got '2020-03-06 25:00:00'"),
        ("filter[]=1", "filter[]", "unknown filter field ``"),
        ("filter[status:in=8", "filter[status:in", "Unknown parameter"),
        ("options[includeProductOwner]=yes", "options[includeProductOwner]", "must be 1 or true"),
        ("options[includeEverything]=1", "options[includeEverything]", "unknown option"),
        ("page=2", "page", "Unknown parameter `page`"),
        ("filter[status:in]=8&filter[status:in]=516", "filter[status:in]", "more than once"),
        ("filter[status]=8&filter[status:eq]=8", "filter[status:eq]", "more than once"),
        ("options[includeAttributes]=1&options[includeAttributes]=0", "options[includeAttributes]", "more than once"),
        ("filter[external_ref]=a%00b", "filter[external_ref]", "control characters"),
        ("filter[ref:in]=" + "x" * 300, "filter[ref:in]", "longer than 255"),
        ("filter[id:in]=" + ",".join(["1"] * 1001), "filter[id:in]", "at most 1000"),
        ("filter[status:]=8", "filter[status:]", "empty operator after the colon; accepted: eq, in (or `filter[status]` alone for eq)"),
        ("filter[completion_datetime:]=2020-03-06", "filter[completion_datetime:]", "empty operator after the colon; accepted: gt, gte, lt, lte."),
    ],
)  # fmt: skip
def test_bad_parameters_are_refused_naming_the_parameter(
    query_string: str, parameter: str, says: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(query_string)
    assert caught.value.parameter == parameter
    assert says in caught.value.description
    assert f"`{parameter}`" in caught.value.description


def test_a_hostile_query_is_refused_at_its_first_bad_parameter() -> None:
    pairs = [("filter[id:gt]", "1")] + [(f"x{n}", "1") for n in range(10_000)]
    with pytest.raises(InvalidRequest) as caught:
        parse_export_query(pairs)
    assert caught.value.parameter == "x0"


def test_integer_filters_are_bounded_by_their_columns_32_bit_type() -> None:
    """orders.id, orders.status and companies.ref_id are INTEGER: PostgreSQL refuses more."""
    assert INTEGER_MAX == {"id": 2**31 - 1, "status": 2**31 - 1, "company_ref_id": 2**31 - 1}


@pytest.mark.parametrize(
    ("query_string", "parameter", "shown"),
    [
        ("filter[id]=2147483648", "filter[id]", "2147483648"),
        ("filter[id:eq]=2147483648", "filter[id:eq]", "2147483648"),
        ("filter[id:gt]=2147483648", "filter[id:gt]", "2147483648"),
        ("filter[id:lt]=2147483648", "filter[id:lt]", "2147483648"),
        ("filter[id:in]=1,2147483648", "filter[id:in]", "2147483648"),
        ("filter[id:gt]=9223372036854775807", "filter[id:gt]", "9223372036854775807"),
        ("filter[company_ref_id]=2147483648", "filter[company_ref_id]", "2147483648"),
        ("filter[company_ref_id:in]=1001,2147483648", "filter[company_ref_id:in]", "2147483648"),
    ],
)
def test_an_integer_past_the_column_is_refused_with_the_range(
    query_string: str, parameter: str, shown: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(query_string)
    assert caught.value.parameter == parameter
    assert caught.value.description == (
        f"`{parameter}` got '{shown}'; it accepts whole numbers from 0 to 2147483647, "
        "comma-separated with `in`."
    )


def test_status_past_the_column_is_refused_as_an_unknown_code() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse("filter[status:in]=8,2147483648")
    assert caught.value.parameter == "filter[status:in]"
    assert "order status codes (0, 1, 2, 4, 8" in caught.value.description


def test_the_largest_value_of_each_integer_column_is_accepted() -> None:
    assert parse("filter[id:lt]=2147483647&filter[company_ref_id:in]=0,2147483647") == [
        Filter("id", "lt", (2147483647,), "filter[id:lt]"),
        Filter("company_ref_id", "in", (0, 2147483647), "filter[company_ref_id:in]"),
    ]


DATETIME_KEYS = [
    f"filter[{name}:{op}]"
    for name, ops in FILTER_OPS.items()
    if name.endswith("_datetime")
    for op in ops
]


@pytest.mark.parametrize("key", DATETIME_KEYS)
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_datetime_an_offset_carries_out_of_range_is_refused_with_the_range(
    key: str, value: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_export_query([(key, value)])
    assert caught.value.parameter == key
    assert caught.value.description == (
        f"`{key}` got '{value}', which is out of range in UTC; it accepts datetimes "
        "from 0001-01-01 00:00:00 to 9999-12-31 23:59:59 UTC."
    )


def test_a_datetime_that_does_not_parse_names_the_range_too() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse("filter[sale_datetime:gte]=0000-00-00")
    assert caught.value.description.endswith(
        "or ISO 8601 with `T` and an optional `Z` or offset (2020-03-06T14:00:00+02:00), "
        "from 0001-01-01 00:00:00 to 9999-12-31 23:59:59 UTC."
    )


def outcome(parse_it: Callable[[], ExportQuery]) -> ExportQuery | tuple[str | None, str]:
    """The query, or the refusal's parameter and words: what a caller gets either way."""
    try:
        return parse_it()
    except InvalidRequest as exc:
        return exc.parameter, exc.description


@pytest.mark.parametrize(
    "query_string",
    [
        "filter[status:in]=8,516&filter[completion_datetime:gt]=2020-03-06%2012:00:00",
        "filter[completion_datetime:gt]=2020-03-06+12:00:00&format=csv",  # + is a space
        "filter[completion_datetime:lte]=2020-03-06T14:00:01%2B02:00",  # %2B is a plus
        "filter%5Bref%5D=O1&&options[includeAttributes]=1&",  # encoded names, empty parts
        "filter[external_ref]=caf%C3%A9",
        "filter[ref]=a=b",  # only the first = splits
        "filter[status]",  # no = at all: an empty value
        "=1",
        "page[size]=10&page[after]=abc_-1",
        "filter[status:]=8",
    ],
)
def test_the_raw_query_string_parses_as_its_pairs_do(query_string: str) -> None:
    from_pairs = outcome(
        lambda: parse_export_query(parse_qsl(query_string, keep_blank_values=True))
    )
    assert outcome(lambda: parse_export_query_string(query_string.encode())) == from_pairs


@pytest.mark.parametrize(
    ("raw", "parameter", "description"),
    [
        (b"filter[ref]=%ff%fe", "filter[ref]", "`filter[ref]` got '%ff%fe', which is not UTF-8 once percent-decoded; it accepts percent-encoded UTF-8 text."),
        (b"format=csv&filter[id:in]=1,%C3", "filter[id:in]", "`filter[id:in]` got '1,%C3', which is not UTF-8 once percent-decoded; it accepts percent-encoded UTF-8 text."),
        (b"filter[external_ref]=\xff", "filter[external_ref]", "`filter[external_ref]` got '%FF', which is not UTF-8 once percent-decoded; it accepts percent-encoded UTF-8 text."),
        (b"filter%5Bref%ff%5D=1", "query string", "The query string has a parameter name that is not UTF-8 once percent-decoded ('filter%5Bref%ff%5D'); names and values are percent-encoded UTF-8."),
        (b"options[includeAttributes]=%ED%A0%80", "options[includeAttributes]", "`options[includeAttributes]` got '%ED%A0%80', which is not UTF-8 once percent-decoded; it accepts percent-encoded UTF-8 text."),
    ],
)  # fmt: skip
def test_bytes_that_are_not_utf8_are_refused_naming_the_parameter(
    raw: bytes, parameter: str, description: str
) -> None:
    """Never decoded to U+FFFD: a search for replacement characters finds nothing, silently."""
    with pytest.raises(InvalidRequest) as caught:
        parse_export_query_string(raw)
    assert (caught.value.parameter, caught.value.description) == (parameter, description)


def test_the_first_bad_part_of_the_raw_query_string_is_the_one_named() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_export_query_string(b"colour=red&filter[ref]=%ff")
    assert caught.value.parameter == "colour"


FILTER_KEYS = [f"filter[{name}]" for name in FILTER_OPS] + [
    f"filter[{name}:{op}]" for name, ops in FILTER_OPS.items() for op in ops
]


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(FILTER_KEYS), value=st.text())
def test_any_text_value_parses_from_the_raw_query_string_as_from_its_pair(
    key: str, value: str
) -> None:
    """Strict decoding changes nothing for text that was sent as percent-encoded UTF-8."""
    raw = f"{quote(key)}={quote(value, safe='')}".encode()
    assert outcome(lambda: parse_export_query_string(raw)) == outcome(
        lambda: parse_export_query([(key, value)])
    )
