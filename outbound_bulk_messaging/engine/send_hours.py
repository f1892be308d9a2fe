"""Sending hours read in each recipient's own time zone.

A :class:`SendHours` is a weekly timetable (hours per weekday, optionally alternating between two
weeks) and holidays, all in *wall-clock* time: "08:00–20:00 on Mondays", "25 December". It is
applied in the local time of every recipient, so a campaign with one timetable texts New York at
08:00 New York time and Sydney at 08:00 Sydney time.

A recipient is described by a *zone value*: one IANA time zone name, or several separated by
spaces when the number's area spans several zones (a North American area code across two zones);
the window is then open only when it is open in **all** of them. See :func:`zone_value`.

Times given to and returned by this module are naive UTC datetimes, as Odoo stores them.

Holidays are wall-clock ranges too: a public holiday on 25 December holds every recipient on
*their own* 25 December, from their local midnight to the next one. Daylight-saving changes are
followed by converting each local opening and closing to UTC on its own date (a wall time that does
not exist, in the spring gap, is read with the offset before the change; an ambiguous one, in the
autumn, as its first occurrence).
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers.timezone
from phonenumbers import PhoneNumberType, is_number_type_geographical
from phonenumbers.tzdata import TIMEZONE_DATA

# Intervals are built this many days at a time when looking for the next opening, up to the
# horizon: a holiday season or a calendar open one day a month is still found.
SEARCH_STEP = timedelta(days=8)
SEARCH_HORIZON = timedelta(days=400)
UNKNOWN_ZONE = phonenumbers.timezone.UNKNOWN_TIMEZONE


# ---- TIME ZONES


@cache
def _zone_names():
    """{casefolded name: canonical name} of the IANA zones this system knows."""
    return {name.casefold(): name for name in available_timezones()}


def canonical_zone(name):
    """The IANA spelling of time zone ``name`` (any case, spaces around ignored), or ``None``."""
    if not name or not name.strip():
        return None
    return _zone_names().get(name.strip().casefold())


def check_zone(name):
    """The canonical zone of ``name``, or raise ``ValueError`` with a text for the user."""
    zone = canonical_zone(name)
    if zone is None:
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/London or "
            "America/New_York"
        )
    return zone


def zone_value(zones):
    """The stored form of a recipient's zones: sorted, distinct, space-separated (or ``None``)."""
    names = sorted({zone for zone in zones if zone and zone != UNKNOWN_ZONE})
    return " ".join(names) or None


def split_zone_value(value, default=None):
    """The zones of a stored zone value; ``default`` (a zone name) when it is empty."""
    zones = tuple((value or "").split())
    return zones or ((default,) if default else ())


@cache
def _country_zones(country_code):
    # As phonenumbers' _country_level_time_zones_for_number, without a parsed number.
    cc = str(country_code)
    return TIMEZONE_DATA.get(cc, (UNKNOWN_ZONE,))


@cache
def _geographical(number_type, country_code):
    return is_number_type_geographical(getattr(PhoneNumberType, number_type), country_code)


@cache
def _prefix_zones(prefix):
    """Zones of the longest known prefix of ``prefix`` (E.164 digits, at most the longest)."""
    for length in range(len(prefix), 0, -1):
        zones = TIMEZONE_DATA.get(prefix[:length])
        if zones is not None:
            return zones
    return (UNKNOWN_ZONE,)


def phone_zones(e164, region, number_type):
    """The zone value of a valid number, as ``phonenumbers.timezone.time_zones_for_number``.

    Takes what :func:`~.addresses.normalise_phone` already found (E.164 text, region, type name)
    so that the number is not parsed again: 100 000 accounts cost a few dict look-ups each.
    Results are cached per country and per leading digits (the area code decides).
    """
    if not e164 or not number_type or number_type == "UNKNOWN":
        return None
    country_code = _country_code(region) if region else 0
    if not country_code:
        return None
    if not _geographical(number_type, country_code):
        return _value_of(_country_zones(country_code))
    return _value_of(_prefix_zones(e164[1 : 1 + _longest_prefix(country_code)]))


@cache
def _country_code(region):
    return phonenumbers.country_code_for_region(region)


@cache
def _longest_prefix(country_code):
    """Digits of the longest zone prefix of ``country_code`` (country codes are prefix-free): the
    cache key of its numbers, so a file of one city's numbers costs a handful of look-ups."""
    cc = str(country_code)
    return max((len(prefix) for prefix in TIMEZONE_DATA if prefix.startswith(cc)), default=1)


@cache
def _value_of(zones):
    return zone_value(zones)


@cache
def _zone_info(name):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


# ---- TIMETABLE


@dataclass(frozen=True)
class Attendance:
    """Open from ``hour_from`` to ``hour_to`` (hours as floats, 24.0 is midnight) on ``weekday``
    (0 = Monday). ``week`` (0 or 1) restricts it to one week of a two-week timetable;
    ``date_from`` / ``date_to`` (inclusive) to a period."""

    weekday: int
    hour_from: float
    hour_to: float
    week: int | None = None
    date_from: date | None = None
    date_to: date | None = None

    def applies(self, day):
        return (
            day.weekday() == self.weekday
            and (self.week is None or week_type(day) == self.week)
            and (self.date_from is None or day >= self.date_from)
            and (self.date_to is None or day <= self.date_to)
        )


def week_type(day):
    """0 or 1: the week of a two-week timetable ``day`` falls in, as Odoo's resource module."""
    return int(math.floor((day.toordinal() - 1) / 7) % 2)


@dataclass(frozen=True)
class SendHours:
    """When messages may reach a person, in their wall-clock time.

    ``attendances``: :class:`Attendance` items; ``holidays``: ``(start, end)`` naive wall-clock
    datetimes, end excluded, during which nothing goes out.
    """

    attendances: tuple = ()
    holidays: tuple = ()
    _days: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def weekly(cls, hours, holidays=()):
        """From ``{weekday: [(hour_from, hour_to), …]}`` and holiday ranges (dates or datetimes;
        a date range ``(first, last)`` covers whole days, ``last`` included)."""
        attendances = tuple(
            Attendance(weekday, start, end)
            for weekday, ranges in hours.items()
            for start, end in ranges
        )
        return cls(attendances, tuple(_holiday_range(*item) for item in holidays))

    # ---- one zone

    def local_intervals(self, day):
        """Open ``[start, end)`` wall-clock intervals of local date ``day``, holidays removed."""
        cached = self._days.get(day)
        if cached is None:
            midnight = datetime.combine(day, time())
            intervals = [
                (midnight + _hours(item.hour_from), midnight + _hours(item.hour_to))
                for item in self.attendances
                if item.applies(day) and item.hour_to > item.hour_from
            ]
            cached = self._days[day] = _subtract(_merge(intervals), self.holidays)
        return cached

    def intervals(self, zone, start, end):
        """Open ``[start, end)`` intervals (naive UTC) in ``zone`` between ``start`` and ``end``."""
        tz = _zone_info(zone)
        first = _to_local(start, tz).date() - timedelta(days=1)
        last = _to_local(end, tz).date() + timedelta(days=1)
        found = []
        day = first
        while day <= last:
            for local_start, local_end in self.local_intervals(day):
                found.append((_to_utc(local_start, tz), _to_utc(local_end, tz)))
            day += timedelta(days=1)
        return _clip(_merge(found), start, end)

    # ---- several zones (one recipient)

    def common_intervals(self, zones, start, end):
        """Intervals open in every one of ``zones`` at once."""
        result = [(start, end)]
        for zone in zones:
            result = _intersect(result, self.intervals(zone, start, end))
            if not result:
                break
        return result

    def is_open(self, zones, now):
        return any(s <= now < e for s, e in self.common_intervals(zones, now, now + _MINUTE))

    def next_opening(self, zones, now):
        """The first instant at or after ``now`` when all ``zones`` are open; ``None`` if none
        within :data:`SEARCH_HORIZON` (a timetable without hours)."""
        interval = self._next_interval(zones, now)
        return max(interval[0], now) if interval else None

    def next_change(self, zones, now):
        """When the open/closed state of ``zones`` next changes after ``now`` (``None``: never
        within the horizon): the closing time when open, the opening time when closed."""
        interval = self._next_interval(zones, now)
        if interval is None:
            return None
        return interval[1] if interval[0] <= now else interval[0]

    def _next_interval(self, zones, now):
        """The first open ``(start, end)`` ending after ``now``; ``end`` is ``None`` when it does
        not close within the horizon, the result ``None`` when nothing opens within it."""
        if not zones:
            return (now, None)
        horizon = now + SEARCH_HORIZON
        start, found = now, None
        while start < horizon:
            end = min(start + SEARCH_STEP, horizon)
            for interval in self.common_intervals(zones, start, end):
                if found is None and interval[1] > now:
                    found = interval
                elif found is not None and interval[0] == found[1]:
                    found = (found[0], interval[1])  # continues across the chunk boundary
                if found is not None and found[1] < end:
                    return found
            start = end
        return (found[0], None) if found else None


_MINUTE = timedelta(minutes=1)


def _hours(value):
    # Odoo stores 08:30 as 8.5; rounding to the minute avoids 8.3333 -> 08:19:59.9988.
    return timedelta(minutes=round(value * 60))


def _holiday_range(start, end):
    if not isinstance(start, datetime):
        start = datetime.combine(start, time())
    if not isinstance(end, datetime):
        end = datetime.combine(end, time()) + timedelta(days=1)
    return (start, end)


def _to_local(moment, tz):
    return moment.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)


def _to_utc(wall, tz):
    return wall.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def _merge(intervals):
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        elif end > start:
            merged.append((start, end))
    return merged


def _subtract(intervals, holes):
    for hole_start, hole_end in holes:
        kept = []
        for start, end in intervals:
            if hole_end <= start or hole_start >= end:
                kept.append((start, end))
                continue
            if start < hole_start:
                kept.append((start, hole_start))
            if hole_end < end:
                kept.append((hole_end, end))
        intervals = kept
    return intervals


def _clip(intervals, start, end):
    return [(max(s, start), min(e, end)) for s, e in intervals if e > start and s < end]


def _intersect(left, right):
    result, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            result.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return result


# ---- DISPATCH


@dataclass(frozen=True)
class ZoneState:
    """Whether the recipients of one zone value may be sent to at ``now``, and until when.

    ``opens_at`` is ``now`` when open, else the next opening (``None``: not within the horizon);
    ``until`` is when this answer may change (``None``: not within the horizon).
    """

    value: str | None
    zones: tuple
    is_open: bool
    opens_at: datetime | None
    until: datetime | None


def zone_states(hours, values, now, default_zone=None):
    """The :class:`ZoneState` of each zone value in ``values`` (an empty value is read as
    ``default_zone``), computed once per distinct value."""
    states = {}
    for value in values:
        zones = split_zone_value(value, default_zone)
        try:
            interval = hours._next_interval(zones, now)
        except ValueError:
            # A zone this system does not know (older tzdata than phonenumbers'): the default.
            zones = split_zone_value(None, default_zone)
            interval = hours._next_interval(zones, now)
        is_open = interval is not None and interval[0] <= now
        states[value] = ZoneState(
            value=value,
            zones=zones,
            is_open=is_open,
            opens_at=max(interval[0], now) if interval else None,
            until=(interval[1] if is_open else interval[0]) if interval else None,
        )
    return states


class Gate(NamedTuple):
    """What a dispatcher may claim: messages whose zone value is in ``open_values``, until
    ``until`` (``None``: no change within the horizon), when it must decide again."""

    open_values: tuple
    until: datetime | None


def gate(states):
    """The :class:`Gate` of some :class:`ZoneState` items."""
    states = list(states)
    return Gate(
        tuple(state.value for state in states if state.is_open),
        min((state.until for state in states if state.until), default=None),
    )


def local_time(moment, zone):
    """Naive UTC ``moment`` as a naive wall-clock datetime of ``zone``."""
    return _to_local(moment, _zone_info(zone))
