"""Strategies that steer Schemathesis' cases for ``test_schemathesis.py`` past the first refusal.

Schemathesis draws each export parameter as any string (the schema says ``type: string``), so
almost every request stops at the parser with a 400. These strategies mix in values the parser
accepts, values at the edges of what it accepts (year 1 and 9999 with offsets, ids at the integer
type limits), hostile ones (NUL, lone percent signs, huge numbers) and the filters of
``FILTER_OPS`` the schema does not list yet, so generated requests also reach the database query,
the encoders and paging. Schemathesis' own values stay in the mix.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

import hypothesis.strategies as st
from hypothesis.strategies import SearchStrategy

from oms_export.auth.scopes import EXPORT_SCOPE
from oms_export.export.fields import OPTIONS
from oms_export.export.params import FILTER_OPS
from oms_export.statuses import ORDER_STATUSES

HOSTILE_VALUES: Final = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "%",
    "%FF",
    "\ufffd",
    "\u202e",
    "-1",
    "0",
    "+1",
    "1e309",
    "NaN",
    "2147483647",
    "2147483648",
    "9223372036854775807",
    "9223372036854775808",
    "9" * 40,
    "8,516,,",
    ",",
    "1" * 10_000,
    "0000-00-00 00:00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31 23:59:60",
    "10000-01-01",
    "2020-02-30",
    "2020-03-06T12:00:00+99:99",
    "2020-03-06T12:00:00.123456789Z",
    "true",
    "orders",
    "csv",
    "a" * 256,
)
"""Values a careless parser trips on: empty, NUL, limits of integer types, dates past any range."""

DEMO_COMPANY_REF_IDS: Final = (1001, 1002, 1003, 1004, 2001, 3001, 9999)
_OFFSETS: Final = ("", "Z", "+00:00", "+14:00", "-14:00", "+05:30")
_INTEGER_EDGES: Final = (0, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63)


def weighted(*choices: tuple[int, SearchStrategy[Any]]) -> SearchStrategy[Any]:
    """One of ``choices``, each drawn about ``weight`` times as often as a weight of 1."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def hostile() -> SearchStrategy[str]:
    return st.sampled_from(HOSTILE_VALUES)


def _datetime_text() -> SearchStrategy[str]:
    moments = st.one_of(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
        st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)]),
        st.integers(0, 800).map(lambda days: datetime(2023, 1, 1) + timedelta(days=days)),
    )
    return st.tuples(moments, st.integers(0, 2), st.sampled_from(_OFFSETS)).map(_format_moment)


def _format_moment(drawn: tuple[datetime, int, str]) -> str:
    moment, form, offset = drawn
    if form == 0:
        return f"{moment:%Y-%m-%d %H:%M:%S}"
    if form == 1:
        return f"{moment:%Y-%m-%d}"
    return moment.isoformat() + offset


def _integers() -> SearchStrategy[str]:
    return st.one_of(
        st.integers(0, 200), st.sampled_from(_INTEGER_EDGES), st.integers(-(2**64), 2**64)
    ).map(str)


def _listed(values: SearchStrategy[str], op: str) -> SearchStrategy[str]:
    if op != "in":
        return values
    return st.lists(values, min_size=1, max_size=4).map(",".join)


def _filter_value(field: str, op: str) -> SearchStrategy[str]:
    if field.endswith("_datetime"):
        return _datetime_text()
    if field == "status":
        return _listed(st.sampled_from(sorted(ORDER_STATUSES)).map(str), op)
    if field == "company_ref_id":
        return _listed(st.sampled_from(DEMO_COMPANY_REF_IDS).map(str) | _integers(), op)
    if field == "id":
        return _listed(_integers(), op)
    refs = st.one_of(
        st.sampled_from(["O1", "O7", "I3", "WEB-1001-3", "WEB-1002-1"]), st.text(max_size=20)
    )
    return _listed(refs, op)


FILTER_KEYS: Final = (
    *(f"filter[{field}:{op}]" for field, ops in FILTER_OPS.items() for op in ops),
    "filter[status]",
    "filter[id]",
    "filter[ref]",
)
"""Every filter the service has, documented in the schema or not (and the bare `eq` form)."""
_OPTION_KEYS: Final = (*(f"options[{name}]" for name in OPTIONS), "options[unknown]")


def _filter_of(key: str) -> tuple[str, str]:
    inner = key[len("filter[") : -1]
    field, _, op = inner.partition(":")
    return field, op or "eq"


def plausible(key: str, cursor: str) -> SearchStrategy[str]:
    """Values the export accepts for ``key``, or nearly does."""
    if key.startswith("filter["):
        return _filter_value(*_filter_of(key))
    if key.startswith("options["):
        return st.sampled_from(["1", "0", "true", "false", "TRUE", " 1 "])
    if key == "format":
        return st.sampled_from(["json", "ndjson", "csv"])
    if key == "shape":
        return st.sampled_from(["rows", "orders"])
    if key == "page[size]":
        return st.one_of(st.integers(1, 30).map(str), st.sampled_from(["10000", "10001", "0"]))
    if key == "page[after]":
        return st.sampled_from([cursor, cursor[:-1], cursor + "A", cursor[::-1]])
    return st.text(max_size=20)


def export_query(generated: Mapping[str, Any] | None, cursor: str) -> SearchStrategy[Any]:
    """The export query: mostly plausible values, some hostile, some Schemathesis' own."""
    drawn = dict(generated or {})
    documented = st.fixed_dictionaries(
        {
            key: weighted((5, plausible(key, cursor)), (1, hostile()), (1, st.just(value)))
            for key, value in drawn.items()
        }
    )
    extra_keys = st.sets(st.sampled_from(FILTER_KEYS + _OPTION_KEYS), max_size=3)
    extra = extra_keys.flatmap(
        lambda keys: st.fixed_dictionaries(
            {key: weighted((4, plausible(key, cursor)), (1, hostile())) for key in sorted(keys)}
        )
    )
    next_page = st.fixed_dictionaries(
        {"page[size]": st.just("2"), "page[after]": st.just(cursor)},
        optional={"format": st.sampled_from(["json", "ndjson", "csv"])},
    )
    combined = st.tuples(documented, extra).map(lambda parts: {**parts[0], **parts[1]})
    return weighted((6, combined), (1, st.just(drawn)), (1, next_page))


def accept_headers() -> SearchStrategy[str | None]:
    """Accept headers, from the ones the export names to ones no parser should choke on."""
    return weighted(
        (4, st.none()),
        (
            3,
            st.sampled_from(
                [
                    "application/json",
                    "application/x-ndjson",
                    "text/csv",
                    "text/*",
                    "*/*;q=0.1, text/csv",
                    "text/csv;q=nan",
                    "*/*;q=1e999",
                    "application/json;q=-1",
                    "text/html",
                    ",,,",
                    ";;q=;",
                    "text/csv;q=0, application/json;q=0",
                ]
            ),
        ),
    )


def near_misses(client_id: str) -> SearchStrategy[str]:
    """The real client id, and ids one character away from it."""
    return st.sampled_from(
        [client_id, client_id + "\x00", client_id + " ", " " + client_id, client_id.upper()]
    )


def token_body(body: Any, client_id: str, client_secret: str) -> SearchStrategy[Any]:
    """A /token form: Schemathesis' own, with the real client's id (and secret) put in it, or a
    clean form of the real credentials with one field made hostile or a scope to check."""
    if not isinstance(body, dict):
        return st.just(body)
    known = near_misses(client_id).map(lambda cid: {**body, "client_id": cid})
    clean = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
    }
    hostile_field = st.tuples(
        st.sampled_from(["grant_type", "scope", "client_id", "client_secret"]),
        st.one_of(hostile(), st.text(max_size=30)),
    ).map(lambda kv: {**clean, kv[0]: kv[1]})
    scopes = st.sampled_from(
        ["", EXPORT_SCOPE, f"{EXPORT_SCOPE} {EXPORT_SCOPE}", f" {EXPORT_SCOPE}", "unknown"]
    )
    grant_only = st.fixed_dictionaries(
        {"grant_type": st.just("client_credentials")}, optional={"scope": scopes}
    )
    return weighted(
        (3, st.just(body)),
        (2, known),
        (1, st.just({**body, **clean})),
        (2, hostile_field),
        (2, st.one_of(st.just(clean), scopes.map(lambda scope: {**clean, "scope": scope}))),
        (2, grant_only),  # for Basic credentials, which a body client_id would contradict
    )


def basic(user: str | bytes, password: str | bytes) -> str:
    """An HTTP Basic Authorization value; bytes are sent as they are, not UTF-8-encoded."""
    raw_user = user.encode() if isinstance(user, str) else user
    raw_password = password.encode() if isinstance(password, str) else password
    return "Basic " + base64.b64encode(raw_user + b":" + raw_password).decode()


def basic_headers(client_id: str, client_secret: str) -> SearchStrategy[str | None]:
    """Authorization headers for /token: none, real Basic credentials, broken ones."""
    users = st.one_of(near_misses(client_id), hostile(), st.text())
    secrets = st.one_of(st.just(client_secret), hostile(), st.text(max_size=10))
    return weighted(
        (5, st.none()),
        (2, st.tuples(users, secrets).map(lambda pair: basic(*pair))),
        (
            1,
            st.sampled_from(
                ["Basic", "Basic !!!", "Basic //8=", "Bearer x", "basic " + "A" * 5000]
            ),
        ),
    )


def _every_option() -> dict[str, str]:
    return {f"options[{name}]": "1" for name in OPTIONS}


KNOWN_EXPORT_QUERIES: Final[dict[str, dict[str, str]]] = {
    "an offset carries the datetime before year 1": {
        "filter[completion_datetime:gt]": "0001-01-01T00:00:00+14:00"
    },
    "an offset carries the datetime past year 9999": {
        "filter[sale_datetime:lte]": "9999-12-31T23:59:59-14:00"
    },
    "an id past 32-bit integers": {"filter[id:gt]": "2147483648"},
    "an id at the 64-bit limit": {"filter[id:in]": "9223372036854775807,1"},
    "a company ref id past 32-bit integers": {"filter[company_ref_id:in]": "2147483648"},
    "NUL in a text filter": {"filter[external_ref]": "a\x00b"},
    "every option, nested": {"shape": "orders", **_every_option()},
    "every option, CSV": {"format": "csv", **_every_option()},
    "the largest page": {"page[size]": "10000", "format": "ndjson"},
}
"""Export queries at the edges found by fuzzing and by hand: each must be answered, not a 5xx."""

RAW_EXPORT_QUERIES: Final = (
    "filter%5Bexternal_ref%5D=%FF",
    "filter%5Bref%3Ain%5D=%ED%A0%80,%C0%80",
    "%FF=1",
    "filter%5Bstatus%3Ain%5D=%FF",
    "filter[ref]=%",
)
"""Query strings no ``dict[str, str]`` can express (bytes that are not UTF-8), sent as they are."""


def known_token_requests(
    client_id: str, client_secret: str
) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """/token requests at the edges, as (form, headers): each must be answered, not a 5xx."""
    grant = {"grant_type": "client_credentials"}
    both = {**grant, "client_id": client_id, "client_secret": client_secret}
    return {
        "NUL after the client id, in Basic": (
            grant,
            {"Authorization": basic(client_id + "\x00", client_secret)},
        ),
        "NUL after the client id, in the form": ({**both, "client_id": client_id + "\x00"}, {}),
        "NUL in the client secret": ({**both, "client_secret": client_secret + "\x00"}, {}),
        "NUL in the scope": ({**both, "scope": "\x00"}, {}),
        "Basic credentials that are not UTF-8": (grant, {"Authorization": basic(b"\xff", b"\xfe")}),
        "a 5000-character client id": ({**both, "client_id": "a" * 5000}, {}),
    }
