"""Parsing the export's query string: what it accepts, and the error for everything else."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl

import pytest

from oms_export.errors import InvalidRequest
from oms_export.export.params import Filter, parse_datetime, parse_export_query


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


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-03-06 12:00:00", datetime(2020, 3, 6, 12, 0, 0)),
        ("2020-03-06", datetime(2020, 3, 6)),
        ("2020-03-06T12:00:00", datetime(2020, 3, 6, 12)),
        ("2020-03-06T12:00:00Z", datetime(2020, 3, 6, 12)),
        ("2020-03-06T14:00:00+02:00", datetime(2020, 3, 6, 12)),
        ("2020-03-06T07:30:00-04:30", datetime(2020, 3, 6, 12)),
    ],
)
def test_datetimes_in_every_accepted_form_become_naive_utc(value: str, expected: datetime) -> None:
    assert parse_datetime(value) == expected


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
