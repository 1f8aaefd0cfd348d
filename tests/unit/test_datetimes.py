"""The one datetime grammar, and every caller of it held to the same table of forms.

``FORMS`` is the table: each written form with the naive UTC moment it names, or ``NOT`` (no
accepted form), ``NO_SUCH`` (an accepted form naming no day or time, as February 30) or ``OUT``
(a moment outside the range once its offset is applied). It runs
against ``oms_export.datetimes`` itself, the export filter (parsed pairs and the raw, percent-
encoded query string), the import record and ``pull``'s two datetime options; a caller that
drifts from the grammar fails here on the form it reads differently.
"""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote

import click
import hypothesis.strategies as st
import pytest
from hypothesis import given
from sqlalchemy import Engine

from oms_export import datetimes
from oms_export.admin.companies import add_company
from oms_export.admin.imports import import_orders
from oms_export.admin.records import parse_order
from oms_export.cli.pull import command as pull_command
from oms_export.errors import ImportRejected, InvalidRequest
from oms_export.export.params import (
    ExportQuery,
    FilterValue,
    parse_export_query,
    parse_export_query_string,
)
from tests.unit.test_export_rows import export_rows, principal_for

NOT = "not a datetime"
NO_SUCH = "no such day or time"  # well formed, so datetimes.PATTERN matches it
OUT = "out of range"
NOON = datetime(2020, 3, 6, 12)

FORMS: list[tuple[str, datetime | str]] = [
    # The spec's forms.
    ("2020-03-06 12:00:00", NOON),  # `Y-m-d H:i:s`, as in the article
    ("2020-03-06", datetime(2020, 3, 6)),  # midnight
    ("2020-03-06T12:00:00", NOON),
    ("2020-03-06T12:00:00Z", NOON),
    ("2020-03-06T14:00:00+02:00", NOON),
    ("2020-03-06T07:30:00-04:30", NOON),
    ("2020-03-06T00:30:00+01:00", datetime(2020, 3, 5, 23, 30)),  # the offset changes the day
    ("2024-02-29", datetime(2024, 2, 29)),
    # Kept: the filter (and pull) took them before, and each names one moment.
    ("2020-03-06 12:00", NOON),
    ("2020-03-06T12:00", NOON),
    ("2020-03-06T12", NOON),
    ("2020-03-06T14:00:00+0200", NOON),
    ("2020-03-06T14:00:00+02", NOON),
    ("2020-03-06T12:00:00-00:00", NOON),
    ("2020-03-06T12:00:00+23:59", datetime(2020, 3, 5, 12, 1)),
    ("2020-03-06 14:00:00+02:00", NOON),  # RFC 3339's space, as Python's str() writes it
    ("2020-03-06 12:00:00Z", NOON),
    ("20200306T120000", NOON),  # ISO 8601 basic format
    ("20200306T120000Z", NOON),
    ("20200306T1400+0200", NOON),
    ("20200306T12", NOON),
    ("2020-03-06T120000", NOON),
    ("20200306T12:00:00", NOON),
    ("2020-W10-5", datetime(2020, 3, 6)),  # ISO week date: Friday of week 10
    ("2020-W10-5T12:00", NOON),
    ("2020W105T1200Z", NOON),
    ("2020-W53-1", datetime(2020, 12, 28)),  # 2020 has 53 ISO weeks
    # Fractions of a second: dropped, never rounded up.
    ("2020-03-06T12:00:00.5", NOON),
    ("2020-03-06T12:00:00.999Z", NOON),  # JavaScript's toISOString()
    ("2020-03-06T12:00:00,5", NOON),
    ("2020-03-06T14:00:00.123456789+02:00", NOON),
    ("2020-03-06 12:00:00.999999", NOON),  # Python's str() of a datetime
    ("20200306T120000.5Z", NOON),
    # The ends of the range, once in UTC.
    ("0001-01-01 00:00:00", datetimes.EARLIEST),
    ("0001-01-01T00:00:00Z", datetimes.EARLIEST),
    ("0001-01-01T00:00:00-01:00", datetime(1, 1, 1, 1)),
    ("0001-01-01T01:00:00+01:00", datetimes.EARLIEST),
    ("0000-12-31T23:00:00-01:00", datetimes.EARLIEST),  # year 0 local, year 1 in UTC
    ("0000-12-31T23:30:00-02:00", datetime(1, 1, 1, 1, 30)),
    ("9999-12-31 23:59:59", datetimes.LATEST),
    ("9999-12-31T23:59:59.999999Z", datetimes.LATEST),
    ("9999-12-31T22:59:59-01:00", datetimes.LATEST),
    ("9999-12-31T23:59:59+23:59", datetime(9999, 12, 31, 0, 0, 59)),
    # Out of range: well formed, but outside 0001-01-01 00:00:00 .. 9999-12-31 23:59:59 UTC.
    ("0001-01-01T00:00:00+01:00", OUT),
    ("0001-01-01T00:59:59+01:00", OUT),
    ("0001-01-01T00:30:00+00:31", OUT),
    ("9999-12-31T23:59:59-01:00", OUT),
    ("9999-12-31T23:00:00-01:00", OUT),
    ("0000-12-31", OUT),
    ("0000-12-31T23:59:59Z", OUT),
    ("0000-12-31T23:00:00+01:00", OUT),
    # Refused: no such day or time.
    ("2020-13-06", NO_SUCH),
    ("2020-02-30", NO_SUCH),
    ("2021-02-29", NO_SUCH),
    ("0000-00-00 00:00:00", NO_SUCH),
    ("2020-03-06 25:00:00", NO_SUCH),
    ("2020-03-06T24:00:00", NO_SUCH),  # ISO's end of day is the next day's midnight: say that
    ("2020-03-06T12:00:60", NO_SUCH),  # a leap second no store holds
    ("2020-03-06T12:60", NO_SUCH),
    ("2020-W54-1", NO_SUCH),
    ("2021-W53-1", NO_SUCH),
    ("2020-W10-8", NO_SUCH),
    ("2020-03-06T12:00:00+24:00", NO_SUCH),
    ("2020-03-06T12:00:00+02:60", NO_SUCH),
    # Refused as ambiguous.
    ("20200306", NOT),  # a number: an id, epoch seconds?
    ("1583496000", NOT),
    ("2020-W10", NOT),  # a week, not a day
    ("2020-W10T12", NOT),
    ("2020-03-06T12.5", NOT),  # ISO: 12:30; Python's fromisoformat: half a second past 12
    ("2020-03-06T12:30.5", NOT),
    ("2020-03-06 12", NOT),  # after a space, `H:i` or `H:i:s`
    ("2020-03-06 1200", NOT),
    ("2020-03-06T12:00:00 02:00", NOT),  # an unescaped `+` in a URL: a space
    ("06/03/2020", NOT),
    ("03/06/2020 12:00", NOT),
    # Refused: what the old parsers took by accident, in no standard.
    ("2020-3-6 1:2:3", NOT),  # strptime's single digits
    ("2024-05-01 9:30", NOT),
    ("2020-03- 6 12:00:00", NOT),
    ("2020-03-06  12:00:00", NOT),
    ("2020-03-06\t12:00:00", NOT),
    ("\u0662\u0660\u0662\u0660-\u0660\u0663-\u0660\u0666", NOT),  # Arabic-Indic digits: 2020-03-06
    ("2020-03-06T12:00:00+02:00:30", NOT),  # an offset with seconds
    ("2020-03-06T12:00:00 +02:00", NOT),
    ("2020-03-06T12:00:00.Z", NOT),
    ("2020-03-06t12:00:00z", NOT),
    ("2020-03-06T12:00:00z", NOT),
    ("2020-03-06T12:00:00+2", NOT),
    ("2020-03-06T", NOT),
    ("2020-03-06Z", NOT),
    ("2020-03", NOT),
    ("2020-066T12:00", NOT),  # ordinal date
    ("+2020-03-06T12:00", NOT),
    ("12020-03-06", NOT),
    ("2020/03/06 12:00:00", NOT),
    ("2020-03-06T12:00:00Z[Europe/Paris]", NOT),
    ("yesterday", NOT),
]
"""Every value is stripped already: the filter strips list values before parsing them."""


@pytest.mark.parametrize(("written", "expected"), FORMS)
def test_the_grammar(written: str, expected: datetime | str) -> None:
    if isinstance(expected, datetime):
        assert datetimes.parse_utc(written) == expected
    else:
        refusal = datetimes.OutOfRange if expected == OUT else datetimes.NotADatetime
        with pytest.raises(refusal) as caught:
            datetimes.parse_utc(written)
        assert type(caught.value) is refusal
        assert caught.value.text == written


@pytest.mark.parametrize(("written", "expected"), FORMS)
def test_the_pattern_matches_exactly_the_well_formed_values(
    written: str, expected: datetime | str
) -> None:
    """What an OpenAPI ``pattern`` built from it lets through, the parser reads (or refuses only
    for the calendar's or the range's sake), and the other way round."""
    assert (re.fullmatch(datetimes.PATTERN, written) is not None) == (expected != NOT)


FILTER = "filter[sale_datetime:gte]"
RANGE = "from 0001-01-01 00:00:00 to 9999-12-31 23:59:59 UTC"  # written out: a change shows here
PullOutcome = str | tuple[int, list[str], str]


def filter_outcome(parse: Callable[[], ExportQuery]) -> FilterValue | tuple[str | None, str]:
    """The value the filter compares with, or its refusal's parameter and words."""
    try:
        query = parse()
    except InvalidRequest as exc:
        return exc.parameter, exc.description
    [value] = query.filters[0].values
    return value


def filter_refusal(written: str, expected: str) -> tuple[str, str]:
    if expected == OUT:
        return (
            FILTER,
            f"`{FILTER}` got {written!r}, which is out of range in UTC; it accepts datetimes {RANGE}.",
        )
    return (
        FILTER,
        f"`{FILTER}` got {written!r}; it accepts a datetime as {datetimes.FORMS}, {RANGE}.",
    )


@pytest.mark.parametrize(("written", "expected"), FORMS)
def test_the_export_filter_reads_every_form_as_the_grammar_does(
    written: str, expected: datetime | str
) -> None:
    want = expected if isinstance(expected, datetime) else filter_refusal(written, expected)
    assert filter_outcome(lambda: parse_export_query([(FILTER, written)])) == want
    encoded = f"{FILTER}={quote(written, safe='')}".encode()  # `+` as %2B, space as %20
    assert filter_outcome(lambda: parse_export_query_string(encoded)) == want


def test_a_plus_in_a_url_is_a_space_so_an_offset_needs_percent_2b() -> None:
    sent = f"{FILTER}=2020-03-06T14:00:00%2B02:00".encode()
    assert filter_outcome(lambda: parse_export_query_string(sent)) == NOON
    unescaped = f"{FILTER}=2020-03-06T14:00:00+02:00".encode()
    assert filter_outcome(lambda: parse_export_query_string(unescaped)) == (
        FILTER,
        f"`{FILTER}` got '2020-03-06T14:00:00 02:00'; it accepts a datetime as `Y-m-d H:i:s` "
        "(2020-03-06 12:00:00), `Y-m-d`, or ISO 8601 with `T` and an optional `Z` or offset "
        "(2020-03-06T14:00:00+02:00), from 0001-01-01 00:00:00 to 9999-12-31 23:59:59 UTC.",
    )  # fmt: skip


IMPORT_REFUSALS = {
    OUT: "sale_datetime: is before year 1 or after 9999 in UTC, got ",
    NOT: f"sale_datetime: must be a datetime ({datetimes.FORMS}), got ",
    NO_SUCH: f"sale_datetime: must be a datetime ({datetimes.FORMS}), got ",
}


def import_outcome(written: str) -> object:
    """The value the import would store, or its rejection's reason."""
    try:
        record = parse_order(
            {"external_ref": "WEB-1", "company_ref_id": 1001, "sale_datetime": written}
        )
    except ImportRejected as exc:
        return exc.description
    return record.columns["sale_datetime"]


@pytest.mark.parametrize(("written", "expected"), FORMS)
def test_the_import_reads_every_form_as_the_grammar_does(
    written: str, expected: datetime | str
) -> None:
    got = import_outcome(written)
    if isinstance(expected, datetime):
        assert got == expected
    else:
        assert isinstance(got, str)
        assert got.startswith(IMPORT_REFUSALS[expected])


def pull_outcome(option: str, written: str) -> PullOutcome:
    """What ``pull`` would send for the option, read by its real click command (no request is
    made: options are parsed before the command runs), or its usage error's exit status,
    option and words."""
    args = ["--client-id", "c", "--client-secret", "s", option, written]
    try:
        with pull_command.make_context("pull", args) as ctx:
            sent: str = ctx.params[option.removeprefix("--").replace("-", "_")]
    except click.BadParameter as exc:
        return exc.exit_code, [] if exc.param is None else exc.param.opts, exc.message
    return sent


def pull_refusal(option: str, written: str, expected: str) -> PullOutcome:
    if expected == OUT:
        return 2, [option], f"{written!r} is out of range in UTC; it accepts datetimes {RANGE}"
    words = f"{written!r} is not a datetime; it accepts {datetimes.FORMS}, in UTC unless an offset is given"
    return 2, [option], words


@pytest.mark.parametrize("option", ["--completed-after", "--completed-before"])
@pytest.mark.parametrize(("written", "expected"), FORMS)
def test_pull_reads_every_form_as_the_grammar_does(
    option: str, written: str, expected: datetime | str
) -> None:
    if isinstance(expected, datetime):
        assert pull_outcome(option, written) == datetimes.format_utc(expected)
    else:
        assert pull_outcome(option, written) == pull_refusal(option, written, expected)


def test_the_grammar_imports_nothing_else_of_the_package() -> None:
    """So the client side (``pull``) and the server side can both read it, at no cost to either."""
    probe = (
        "import sys, oms_export.datetimes\n"
        "print(sorted(name for name in sys.modules if name.startswith('oms_export')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "['oms_export', 'oms_export.datetimes']"


def test_the_module_docstring_examples_hold() -> None:
    result = doctest.testmod(datetimes)
    assert (result.attempted, result.failed) == (2, 0)


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (datetime(2020, 3, 6, 12, 0, 0), "2020-03-06 12:00:00"),
        (datetime(1, 1, 1), "0001-01-01 00:00:00"),
        (datetime(999, 12, 31, 23, 59, 59), "0999-12-31 23:59:59"),
        (datetime(2020, 3, 6, 12, 0, 0, 999999), "2020-03-06 12:00:00"),
    ],
)
def test_format_utc_writes_what_the_export_prints(moment: datetime, written: str) -> None:
    assert datetimes.format_utc(moment) == written


SECONDS = st.datetimes(min_value=datetimes.EARLIEST, max_value=datetimes.LATEST).map(
    lambda moment: moment.replace(microsecond=0)
)
OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)  # minutes east of UTC


@given(utc=SECONDS, east=OFFSETS, fraction=st.sampled_from(["", ".5", ",123", ".999999999"]))
def test_every_form_of_one_moment_names_that_moment(
    utc: datetime, east: int, fraction: str
) -> None:
    """The same instant written in each form, at any offset, reads back as the same UTC second."""
    try:
        local = utc + timedelta(minutes=east)
    except OverflowError:  # no local time to write: the moment is past the calendar's end there
        return
    sign, minutes = ("+" if east >= 0 else "-"), abs(east)
    hh, mm = divmod(minutes, 60)
    year, week, weekday = local.isocalendar()
    written = [
        f"{local.isoformat(sep='T')}{fraction}{sign}{hh:02}:{mm:02}",
        f"{local.year:04}{local:%m%dT%H%M%S}{fraction}{sign}{hh:02}{mm:02}",
        f"{local.isoformat(sep=' ')}{fraction}{sign}{hh:02}:{mm:02}",
        f"{year:04}-W{week:02}-{weekday}T{local:%H:%M:%S}{fraction}{sign}{hh:02}:{mm:02}",
    ]
    assert [datetimes.parse_utc(text) for text in written] == [utc] * len(written)


def test_a_fraction_is_dropped_alike_on_the_way_in_and_in_a_filter(engine: Engine) -> None:
    """Imported at 12:00:00.7 and compared with 12:00:00.5: both are the second 12:00:00.

    Compared exactly, `lt 12:00:00.5` would find the stored 12:00:00 and `gte` would not; the
    store and the export know only whole seconds, so the filter compares those, as `pull`
    always did.
    """
    add_company(engine, ref_id=1001, name="Acme Prints", subscription="order_manager")
    record = {"external_ref": "WEB-1", "company_ref_id": 1001, "completion_datetime": "2020-03-06T12:00:00.700Z"}  # fmt: skip
    assert import_orders(engine, [(1, record)])["created"] == 1
    principal = principal_for(engine, 1001)

    def found(op: str, value: str) -> list[str]:
        query = f"filter[completion_datetime:{op}]={quote(value, safe='')}"
        return [row["completion_datetime"] for row in export_rows(engine, principal, query)]

    stored = ["2020-03-06 12:00:00"]
    assert found("gte", "2020-03-06T12:00:00.5Z") == stored
    assert found("lte", "2020-03-06T12:00:00.5Z") == stored
    assert found("lt", "2020-03-06T12:00:00.5Z") == []
    assert found("gt", "2020-03-06T12:00:00.5Z") == []
    assert found("lt", "2020-03-06T14:00:01.1+02:00") == stored
