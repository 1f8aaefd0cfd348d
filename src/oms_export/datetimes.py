"""The one datetime grammar: what the export's filters, the import and ``pull`` accept.

Each of the three used to parse datetimes its own way, so a value one took another refused
(``2020-03-06 12:00`` filtered but did not import) or read differently (``2020-03-06T12:00:00.5``
compared exactly in a filter, to the second in ``pull``). They all read this module now, and one
table of forms in ``tests/unit/test_datetimes.py`` runs against each of them.

Accepted, every one giving a naive UTC ``datetime`` to the second (a value without offset is UTC):

=================================  ==============================================================
``2020-03-06 12:00:00``             the article's ``Y-m-d H:i:s``
``2020-03-06 12:00``                seconds left out: ``:00``
``2020-03-06``                      midnight
``2020-03-06T12:00:00``             ISO 8601, and with ``T12:00`` or ``T12`` (reduced precision)
``2020-03-06T12:00:00Z``            ``Z``, ``+02:00``, ``+0200``, ``+02``, ``-04:30``: an offset
``2020-03-06 12:00:00+02:00``       RFC 3339's space for ``T``, as Python's ``str()`` writes it
``20200306T120000Z``                ISO 8601 basic format, with a ``T``; also ``2020-03-06T1200``
``2020-W10-5T12:00``                ISO week date (``2020W105T1200``; alone ``2020-W10-5``)
``2020-03-06T12:00:00.5Z``          a fraction of a second, ``.`` or ``,``: dropped (see below)
=================================  ==============================================================

Refused, as ambiguous or as accidents of the parsers this replaces that no standard writes:

- ``20200306`` alone: a basic date without a time reads as a number (an id, epoch seconds).
- ``2020-W10``, ``2020-W10T12``: a week, not a day (Python quietly took its Monday).
- ``2020-03-06T12.5`` and ``T12:30.5``: ISO 8601 reads a fraction of an hour or minute
  (``12.5`` is 12:30); Python read it as one of a second, so the old filter took half a second
  past noon for half past twelve.
- ``2020-03-06 12``, ``2020-03-06 1200``: after a space the time is ``H:i`` or ``H:i:s``, as in
  the article; a bare number after a date could mean anything.
- ``2020-3-6 1:2:3``, ``2020-03- 6``, several spaces or a tab before the time: the article's
  ``m``, ``d``, ``H``, ``i``, ``s`` are two digits each; the filter's ``strptime`` took these.
  Digits are ASCII ``0``-``9`` only.
- ``+02:00:30`` (an offset with seconds), ``T12:00:00 +02:00`` (a space before the offset),
  ``T12:00:00.Z`` (a dot without digits), lower-case ``t``/``z``, ``T24:00``, second ``60``.

Fractions of a second are dropped (truncated), for every caller alike: the store keeps whole
seconds (every writer truncates, and the export prints ``YYYY-MM-DD HH:MM:SS``), so a filter
compares at the precision it can see, ``pull --completed-before`` and the same ``curl`` filter
give one answer, and an import from a source that always writes milliseconds (JavaScript's
``toISOString()``) is taken as it comes rather than refused.

The range is :data:`EARLIEST` to :data:`LATEST` in UTC, what both stores hold. A value is judged
after its offset is applied: ``0001-01-01T00:00:00+01:00`` is an hour before it, refused as
:class:`OutOfRange`, while ``0000-12-31T23:00:00-02:00`` is 01:00 on day one, accepted.

>>> parse_utc("2020-03-06T14:00:00.75+02:00")
datetime.datetime(2020, 3, 6, 12, 0)
>>> format_utc(parse_utc("2020-W10-5"))
'2020-03-06 00:00:00'
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Final

EARLIEST: Final = datetime(1, 1, 1)
LATEST: Final = datetime(9999, 12, 31, 23, 59, 59)
RANGE: Final = "from 0001-01-01 00:00:00 to 9999-12-31 23:59:59 UTC"
"""The range as error messages and docs word it."""
FORMS: Final = (
    "`Y-m-d H:i:s` (2020-03-06 12:00:00), `Y-m-d`, or ISO 8601 with `T` and an optional "
    "`Z` or offset (2020-03-06T14:00:00+02:00)"
)
"""The accepted forms as error messages word them: the spec's words, with an example each."""


class DatetimeRefused(ValueError):
    """A text the grammar does not take; ``text`` is what was given."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class NotADatetime(DatetimeRefused):
    """Not a datetime in any accepted form (or no such day or time, as February 30)."""


class OutOfRange(DatetimeRefused):
    """A well-formed datetime that is outside :data:`RANGE` once turned to UTC."""


# The value's parts: a date, then a time after `T` or a space, then an offset. The date and the
# time are then matched whole against their own forms below, so each form is one line to read.
_PARTS: Final = re.compile(
    r"(?P<date>[0-9W-]+)"
    r"(?:(?P<sep>[T ])(?P<clock>[0-9:.,]+)"
    r"(?P<zone>Z|(?P<sign>[+-])(?P<zone_hours>[0-9]{2})(?::?(?P<zone_minutes>[0-9]{2}))?)?)?"
)
_CALENDAR: Final = (
    re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"),
    re.compile(r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})"),
)
_WEEK: Final = (
    re.compile(r"(?P<year>[0-9]{4})-W(?P<week>[0-9]{2})-(?P<weekday>[0-9])"),
    re.compile(r"(?P<year>[0-9]{4})W(?P<week>[0-9]{2})(?P<weekday>[0-9])"),
)
_EXTENDED_DATES: Final = (_CALENDAR[0], _WEEK[0])
"""The dates that may stand alone or before a space: with their hyphens, never a bare number."""
_SECONDS: Final = r"(?P<second>[0-9]{2})(?:[.,][0-9]+)?"  # the fraction is matched, then dropped
_CLOCKS_AFTER_T: Final = (
    re.compile(rf"(?P<hour>[0-9]{{2}})(?::(?P<minute>[0-9]{{2}})(?::{_SECONDS})?)?"),
    re.compile(rf"(?P<hour>[0-9]{{2}})(?:(?P<minute>[0-9]{{2}})(?:{_SECONDS})?)?"),
)
_CLOCKS_AFTER_SPACE: Final = (
    re.compile(rf"(?P<hour>[0-9]{{2}}):(?P<minute>[0-9]{{2}})(?::{_SECONDS})?"),
)

_FRACTION: Final = "(?:[.,][0-9]+)?"
_ZONE: Final = "(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
_EXTENDED_DATE_SYNTAX: Final = "[0-9]{4}-(?:[0-9]{2}-[0-9]{2}|W[0-9]{2}-[0-9])"
PATTERN: Final = (
    f"(?:{_EXTENDED_DATE_SYNTAX}(?: [0-9]{{2}}:[0-9]{{2}}(?::[0-9]{{2}}{_FRACTION})?{_ZONE})?"
    f"|(?:{_EXTENDED_DATE_SYNTAX}|[0-9]{{4}}(?:[0-9]{{4}}|W[0-9]{{3}}))T"
    f"(?:[0-9]{{2}}(?::[0-9]{{2}}(?::[0-9]{{2}}{_FRACTION})?)?"
    f"|[0-9]{{2}}(?:[0-9]{{2}}(?:[0-9]{{2}}{_FRACTION})?)?){_ZONE})"
)
"""The grammar's syntax as one regular expression, unanchored, in the subset Python and ECMA-262
share, for a JSON Schema ``pattern`` (OpenAPI). It cannot know the calendar: ``2020-02-30`` and
``T24:00`` match it and are still refused. The tests hold it to the same table as the parser."""

_CYCLE_YEARS: Final = 400
"""The Gregorian calendar repeats every 400 years, weekdays and ISO weeks included: year 0,
which ``datetime`` cannot hold, is read 400 years on, so a negative offset can still carry it
into year 1."""


def parse_utc(text: str) -> datetime:
    """``text`` in any accepted form as a naive UTC ``datetime``, fractions of a second dropped.

    Raises :class:`NotADatetime` when it is in no accepted form, :class:`OutOfRange` when it is
    one but outside :data:`RANGE` in UTC: callers word the two apart ("does not parse" and
    "out of range"), each in its own way (a 400, an import rejection, a usage error).
    """
    parts = _PARTS.fullmatch(text)
    if parts is None:
        raise NotADatetime(text)
    sep = parts["sep"]
    day = _first_match(
        _EXTENDED_DATES if sep in (None, " ") else (*_CALENDAR, *_WEEK), parts["date"]
    )
    hms = _first_match(
        _CLOCKS_AFTER_SPACE if sep == " " else _CLOCKS_AFTER_T, parts["clock"] or "00"
    )
    if day is None or hms is None:
        raise NotADatetime(text)
    year = int(day["year"])
    shift = _CYCLE_YEARS if year == 0 else 0
    try:
        local = datetime.combine(
            _day(year + shift, day),
            time(int(hms["hour"]), int(hms["minute"] or 0), int(hms["second"] or 0)),
        )
        offset = _offset(parts)
    except ValueError:  # February 30, hour 24, second 60, an offset of 24 hours and the like
        raise NotADatetime(text) from None
    try:
        moment = local - offset
    except OverflowError:  # the offset carried it past 9999-12-31 or before 0001-01-01
        raise OutOfRange(text) from None
    if shift:
        if moment.year - shift < EARLIEST.year:
            raise OutOfRange(text)
        moment = moment.replace(year=moment.year - shift)
    return moment


def format_utc(moment: datetime) -> str:
    """``moment`` (naive UTC) as the service writes and reads it: ``YYYY-MM-DD HH:MM:SS``.

    Not ``strftime``: on glibc its ``%Y`` leaves year 1 as ``1``, not ``0001``.
    """
    return moment.isoformat(sep=" ", timespec="seconds")


def _first_match(forms: tuple[re.Pattern[str], ...], text: str) -> re.Match[str] | None:
    return next((m for form in forms if (m := form.fullmatch(text)) is not None), None)


def _day(year: int, parts: re.Match[str]) -> date:
    if "week" in parts.groupdict():
        return date.fromisocalendar(year, int(parts["week"]), int(parts["weekday"]))
    return date(year, int(parts["month"]), int(parts["day"]))


def _offset(parts: re.Match[str]) -> timedelta:
    """East of UTC is positive, as in ISO 8601; hours above 23 or minutes above 59 are refused."""
    if parts["sign"] is None:  # no offset, or `Z`
        return timedelta()
    hours, minutes = int(parts["zone_hours"]), int(parts["zone_minutes"] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(parts["zone"])
    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if parts["sign"] == "-" else offset
