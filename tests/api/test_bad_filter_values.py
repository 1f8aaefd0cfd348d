"""Bad filter values over real HTTP: always a 400 naming the parameter, never a 500.

A value can parse and still be one the store cannot take: an id past the 32-bit ``INTEGER``
column (PostgreSQL fails on it, SQLite's wider integers quietly take it), or a datetime an
offset carries past year 1 or 9999. Each case answers with the same body on both stores, which
every case here pins in full; a value at the very end of a range still answers 200.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, quote_from_bytes

import httpx
import hypothesis.strategies as st
import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine

from oms_export.auth.clients import create_client
from oms_export.export.params import FILTER_OPS
from oms_export.settings import Settings
from tests import factories as f
from tests.conftest import TEST_SECRET_KEY
from tests.live import bearer

PATH = "/export-api/order-item-details"
SCOPE = "export-api.order-item-details"
WHOLE = "it accepts whole numbers from 0 to 2147483647, comma-separated with `in`."
MOMENTS = "it accepts datetimes from 0001-01-01 00:00:00 to 9999-12-31 23:59:59 UTC."
NOT_UTF8 = "which is not UTF-8 once percent-decoded; it accepts percent-encoded UTF-8 text."


@pytest.fixture
def settings(database_url: str) -> Settings:
    """No rate limit: the property below sends more requests a minute than a client may."""
    return Settings(database_url=database_url, secret_key=TEST_SECRET_KEY, rate_limit_per_minute=0)


@pytest.fixture
def token(engine: Engine, settings: Settings, http: httpx.Client) -> str:
    acme = f.company(engine, 1001, "order_manager")
    f.order(
        engine,
        acme,
        "A-1",
        status=8,
        completion_datetime=f.utc("2020-03-06 12:00:00"),
        sale_datetime=f.utc("2020-03-01 10:00:00"),
        items=[{"sku": "TS", "quantity": 2}],
    )
    return bearer(http, create_client(engine, settings, name="reporting", company_ref_ids=[1001]))


def export(http: httpx.Client, token: str, query: str) -> httpx.Response:
    """The query string goes out byte for byte as written: httpx re-encodes nothing in it."""
    return http.get(f"{PATH}?{query}", headers={"Authorization": f"Bearer {token}"})


def refusal(parameter: str, description: str) -> dict[str, str]:
    return {"error": "invalid_request", "error_description": description, "parameter": parameter}


OUT_OF_RANGE = [
    *(
        (f"{key}=2147483648", refusal(key, f"`{key}` got '2147483648'; {WHOLE}"))
        for key in ("filter[id]", "filter[id:gt]", "filter[id:lt]", "filter[company_ref_id]")
    ),
    ("filter[id:in]=1,2147483648", refusal("filter[id:in]", f"`filter[id:in]` got '2147483648'; {WHOLE}")),
    ("filter[company_ref_id:in]=1001,2147483648", refusal("filter[company_ref_id:in]", f"`filter[company_ref_id:in]` got '2147483648'; {WHOLE}")),
    *(
        (f"{key}={sent}", refusal(key, f"`{key}` got '{shown}', which is out of range in UTC; {MOMENTS}"))
        for key in (
            "filter[completion_datetime:gt]",
            "filter[completion_datetime:lte]",
            "filter[creation_datetime:gte]",
            "filter[sale_datetime:lt]",
        )
        for sent, shown in (
            ("0001-01-01T00:00:00%2B01:00", "0001-01-01T00:00:00+01:00"),
            ("9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59-01:00"),
        )
    ),
    ("filter[status:]=8", refusal("filter[status:]", "`filter[status:]` has an empty operator after the colon; accepted: eq, in (or `filter[status]` alone for eq).")),
    ("filter[sale_datetime:]=2020-03-06", refusal("filter[sale_datetime:]", "`filter[sale_datetime:]` has an empty operator after the colon; accepted: gt, gte, lt, lte.")),
]  # fmt: skip


@pytest.mark.parametrize(("query", "body"), OUT_OF_RANGE)
def test_a_value_the_store_cannot_take_is_400_naming_the_parameter_and_range(
    http: httpx.Client, token: str, query: str, body: dict[str, str]
) -> None:
    response = export(http, token, query)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("filter[ref]=%ff%fe", refusal("filter[ref]", f"`filter[ref]` got '%ff%fe', {NOT_UTF8}")),
        ("filter[external_ref:in]=A-1,%C3", refusal("filter[external_ref:in]", f"`filter[external_ref:in]` got 'A-1,%C3', {NOT_UTF8}")),
        ("format=json&filter[id:gt]=%80", refusal("filter[id:gt]", f"`filter[id:gt]` got '%80', {NOT_UTF8}")),
        ("filter%5Bref%ff%5D=O1", refusal("query string", "The query string has a parameter name that is not UTF-8 once percent-decoded ('filter%5Bref%ff%5D'); names and values are percent-encoded UTF-8.")),
    ],
)  # fmt: skip
def test_bytes_that_are_not_utf8_are_400_naming_the_parameter(
    http: httpx.Client, token: str, query: str, body: dict[str, str]
) -> None:
    """Not decoded to U+FFFD and searched for: that is an empty 200 a caller cannot tell apart."""
    response = export(http, token, query)
    assert response.status_code == 400
    assert response.json() == body


@pytest.mark.parametrize(
    ("query", "refs"),
    [
        ("filter[id:lt]=2147483647", ["A-1"]),
        ("filter[id:in]=1,2147483647", ["A-1"]),
        ("filter[id]=2147483647", []),
        ("filter[completion_datetime:gt]=0001-01-01 00:00:00", ["A-1"]),
        ("filter[completion_datetime:gt]=0001-01-01T01:00:00%2B01:00", ["A-1"]),
        ("filter[completion_datetime:lt]=9999-12-31T22:59:59-01:00", ["A-1"]),
        ("filter[sale_datetime:lte]=9999-12-31 23:59:59", ["A-1"]),
        ("filter[creation_datetime:gte]=9999-12-31", []),
        ("filter[ref]=caf%C3%A9", []),
        ("filter[external_ref]=A-1", ["A-1"]),
    ],
)
def test_values_at_the_ends_of_the_ranges_are_answered(
    http: httpx.Client, token: str, query: str, refs: list[str]
) -> None:
    response = export(http, token, query)
    assert response.status_code == 200, response.text
    assert [row["external_ref"] for row in response.json()] == refs


FILTER_KEYS = (
    [f"filter[{name}]" for name in FILTER_OPS]
    + [f"filter[{name}:]" for name in FILTER_OPS]
    + [f"filter[{name}:{op}]" for name, ops in FILTER_OPS.items() for op in ops]
)

_ANY_TEXT = st.text() | st.binary(max_size=12)
"""Any text at all, and bytes that may not be UTF-8: what a caller could put in any filter."""
_NUMBERS = st.integers(-1, 2**64) | st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63])
_NUMBER_TEXT = st.one_of(
    _NUMBERS.map(str),
    st.lists(_NUMBERS, min_size=1, max_size=4).map(lambda ns: ",".join(map(str, ns))),
    st.from_regex(r"-?[0-9]{1,25}", fullmatch=True),
)
_HOURS_MINUTES = st.builds("{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59))
_DATETIME_TEXT = st.one_of(
    # The first and last second with an offset either way: half of these leave the range.
    st.builds(
        "{}{}{}".format,
        st.sampled_from(["0001-01-01T00:00:00", "9999-12-31T23:59:59"]),
        st.sampled_from("+-"),
        _HOURS_MINUTES,
    ),
    st.builds("{}T{}{}{}".format, st.dates(), st.times(), st.sampled_from("+-"), _HOURS_MINUTES),
    st.datetimes().map(str),
)


@st.composite
def filter_values(draw: st.DrawFn, key: str) -> str:
    """A percent-encoded value for ``key``, biased toward the ends of its field's range.

    Drawn apart from the field, a value would rarely be a number past 2**31 for an id, or an
    offset crossing year 1 for a datetime: the very values that reached the store as 500s.
    """
    if any(f"[{name}" in key for name in ("id", "status", "company_ref_id")):
        value = draw(_NUMBER_TEXT | _ANY_TEXT)
    elif "_datetime" in key:
        value = draw(st.one_of(_DATETIME_TEXT, _DATETIME_TEXT, _ANY_TEXT))
    else:
        value = draw(_ANY_TEXT)
    if isinstance(value, bytes):
        return quote_from_bytes(value, safe="")
    return quote(value, safe="")


@hypothesis_settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_value_of_any_filter_is_answered_200_or_refused_never_a_server_error(
    http: httpx.Client, token: str, data: st.DataObject
) -> None:
    """The store and its session are the same for every example: nothing here writes."""
    key = data.draw(st.sampled_from(FILTER_KEYS), label="key")
    value = data.draw(filter_values(key), label="value")
    response = export(http, token, f"{quote(key, safe='[]:')}={value}")
    body: Any = orjson.loads(response.content)  # a 200 cut short by a late error fails here
    if response.status_code == 200:
        assert isinstance(body, list)
        return
    assert (response.status_code, body["error"], body["parameter"]) in {
        (400, "invalid_request", key),
        (403, "company_not_allowed", key),  # another company's ref id, not a bad value
    }, body
