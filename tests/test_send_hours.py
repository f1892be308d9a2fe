"""Sending hours in the recipient's time zone: windows, holidays, DST, zones of numbers."""

from datetime import date, datetime, timedelta

import phonenumbers
import pytest
from phonenumbers.timezone import time_zones_for_number

from outbound_bulk_messaging.engine import send_hours
from outbound_bulk_messaging.engine.addresses import normalise_phone
from outbound_bulk_messaging.engine.send_hours import (
    Attendance,
    SendHours,
    canonical_zone,
    check_zone,
    phone_zones,
    split_zone_value,
    zone_states,
    zone_value,
)

NY, LONDON, SYDNEY = "America/New_York", "Europe/London", "Australia/Sydney"
CHICAGO = "America/Chicago"
# Monday to Friday 08:00-20:00, Saturday 09:00-12:30.
OFFICE = {**{day: [(8.0, 20.0)] for day in range(5)}, 5: [(9.0, 12.5)]}


def hours(holidays=()):
    return SendHours.weekly(OFFICE, holidays)


# ---- one zone


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # Tuesday 1 December 2026, 12:59 UTC = 07:59 in New York: closed; 13:00 opens.
        (datetime(2026, 12, 1, 12, 59), NY, False),
        (datetime(2026, 12, 1, 13, 0), NY, True),
        (datetime(2026, 12, 1, 0, 59), NY, True),  # 19:59 Monday evening
        (datetime(2026, 12, 1, 1, 0), NY, False),  # 20:00: closing time excluded
        (datetime(2026, 12, 1, 8, 0), LONDON, True),
        (datetime(2026, 12, 1, 7, 59), LONDON, False),
        # 21:00 UTC Monday is 08:00 Tuesday in Sydney (UTC+11 in summer).
        (datetime(2026, 11, 30, 21, 0), SYDNEY, True),
        (datetime(2026, 11, 30, 20, 59), SYDNEY, False),
    ],
)
def test_open_in_local_time(now, zone, expected):
    assert hours().is_open((zone,), now) is expected


def test_saturday_half_hours_and_sunday_closed():
    h = hours()
    # Saturday 5 December 2026, London = UTC in winter.
    assert h.is_open((LONDON,), datetime(2026, 12, 5, 12, 29))
    assert not h.is_open((LONDON,), datetime(2026, 12, 5, 12, 30))
    assert h.next_opening((LONDON,), datetime(2026, 12, 5, 12, 30)) == datetime(2026, 12, 7, 8, 0)


def test_next_opening_and_change():
    h = hours()
    now = datetime(2026, 12, 1, 3, 0)  # 22:00 Monday in New York
    assert h.next_opening((NY,), now) == datetime(2026, 12, 1, 13, 0)
    assert h.next_change((NY,), now) == datetime(2026, 12, 1, 13, 0)
    open_now = datetime(2026, 12, 1, 14, 0)
    assert h.next_opening((NY,), open_now) == open_now
    assert h.next_change((NY,), open_now) == datetime(2026, 12, 2, 1, 0)


def test_midnight_and_full_days_merge():
    h = SendHours.weekly({day: [(0.0, 24.0)] for day in range(7)})
    now = datetime(2026, 12, 1, 10, 0)
    assert h.is_open((SYDNEY, NY), now)
    assert h.next_change((SYDNEY, NY), now) is None  # never closes within the horizon


def test_no_hours_never_opens():
    h = SendHours.weekly({})
    assert not h.is_open((LONDON,), datetime(2026, 12, 1, 10, 0))
    assert h.next_opening((LONDON,), datetime(2026, 12, 1, 10, 0)) is None


def test_split_hours_lunch_gap():
    h = SendHours.weekly({1: [(8.0, 12.0), (13.5, 18.0)]})
    assert not h.is_open((LONDON,), datetime(2026, 12, 1, 12, 30))
    assert h.next_opening((LONDON,), datetime(2026, 12, 1, 12, 30)) == datetime(2026, 12, 1, 13, 30)


# ---- several zones: open only when open in all of them


def test_zones_of_one_number_must_all_be_open():
    h = hours()
    both = (CHICAGO, NY)
    # 13:00 UTC: 08:00 in New York but 07:00 in Chicago.
    assert h.is_open((NY,), datetime(2026, 12, 1, 13, 0))
    assert not h.is_open(both, datetime(2026, 12, 1, 13, 0))
    assert h.next_opening(both, datetime(2026, 12, 1, 13, 0)) == datetime(2026, 12, 1, 14, 0)
    # And it closes with New York, an hour before Chicago does.
    assert h.next_change(both, datetime(2026, 12, 1, 14, 0)) == datetime(2026, 12, 2, 1, 0)


def test_zones_that_never_overlap():
    h = SendHours.weekly({day: [(9.0, 11.0)] for day in range(7)})
    assert h.next_opening((NY, SYDNEY), datetime(2026, 12, 1)) is None


# ---- holidays


def test_holiday_holds_each_zone_on_its_own_date():
    h = hours(holidays=[(date(2026, 12, 25), date(2026, 12, 25))])
    # Friday 25 December 09:00 in Sydney (Thursday 22:00 UTC): held until Saturday 09:00.
    assert not h.is_open((SYDNEY,), datetime(2026, 12, 24, 22, 0))
    assert h.next_opening((SYDNEY,), datetime(2026, 12, 24, 22, 0)) == datetime(2026, 12, 25, 22)
    # At that instant it is still Thursday 24th 17:00 in New York: open.
    assert h.is_open((NY,), datetime(2026, 12, 24, 22, 0))
    # New York's own 25th (from 05:00 UTC) is held.
    assert not h.is_open((NY,), datetime(2026, 12, 25, 15, 0))


def test_partial_day_holiday():
    h = hours(holidays=[(datetime(2026, 12, 24, 12, 0), datetime(2026, 12, 25, 0, 0))])
    assert h.is_open((LONDON,), datetime(2026, 12, 24, 11, 59))
    assert not h.is_open((LONDON,), datetime(2026, 12, 24, 12, 0))


def test_long_holiday_found_beyond_one_search_step():
    h = hours(holidays=[(date(2026, 12, 1), date(2026, 12, 31))])
    assert h.next_opening((LONDON,), datetime(2026, 12, 1)) == datetime(2027, 1, 1, 8, 0)


# ---- daylight saving time


def test_dst_spring_forward_new_york():
    h = hours()
    # Friday 6 March 2026, 08:00 EST = 13:00 UTC; Monday 9 March, 08:00 EDT = 12:00 UTC.
    assert h.next_opening((NY,), datetime(2026, 3, 6, 12, 0)) == datetime(2026, 3, 6, 13, 0)
    assert h.next_opening((NY,), datetime(2026, 3, 7, 18, 0)) == datetime(2026, 3, 9, 12, 0)
    assert h.is_open((NY,), datetime(2026, 3, 9, 12, 0))


def test_dst_autumn_london_and_sydney_opposite():
    h = hours()
    # London leaves BST on Sunday 25 October 2026: Friday 08:00 is 07:00 UTC, Monday 08:00 UTC.
    assert h.is_open((LONDON,), datetime(2026, 10, 23, 7, 0))
    assert not h.is_open((LONDON,), datetime(2026, 10, 26, 7, 0))
    assert h.next_opening((LONDON,), datetime(2026, 10, 26, 7, 0)) == datetime(2026, 10, 26, 8)
    # Sydney enters summer time on Sunday 4 October 2026: 08:00 moves from 22:00 to 21:00 UTC.
    assert h.next_opening((SYDNEY,), datetime(2026, 10, 1, 12)) == datetime(2026, 10, 1, 22)
    assert h.next_opening((SYDNEY,), datetime(2026, 10, 4, 12)) == datetime(2026, 10, 4, 21)


def test_wall_time_in_the_spring_gap():
    # 02:30 does not exist in New York on 8 March 2026: read with the offset before (EST), so
    # the window opens at 07:30 UTC = 03:30 EDT, and closes at 04:00 EDT = 08:00 UTC.
    h = SendHours.weekly({6: [(2.5, 4.0)]})
    assert h.next_opening((NY,), datetime(2026, 3, 8)) == datetime(2026, 3, 8, 7, 30)
    assert h.next_change((NY,), datetime(2026, 3, 8, 7, 30)) == datetime(2026, 3, 8, 8, 0)


# ---- two-week timetables and dated attendances


def test_two_week_timetable():
    monday = date(2026, 11, 30)
    week = send_hours.week_type(monday)
    h = SendHours((Attendance(0, 8.0, 12.0, week=week), Attendance(0, 14.0, 18.0, week=1 - week)))
    assert h.is_open((LONDON,), datetime(2026, 11, 30, 9, 0))
    assert not h.is_open((LONDON,), datetime(2026, 12, 7, 9, 0))
    assert h.is_open((LONDON,), datetime(2026, 12, 7, 15, 0))


def test_dated_attendance():
    h = SendHours((Attendance(1, 8.0, 20.0, date_from=date(2026, 12, 8)),))
    assert not h.is_open((LONDON,), datetime(2026, 12, 1, 9, 0))
    assert h.next_opening((LONDON,), datetime(2026, 12, 1, 9, 0)) == datetime(2026, 12, 8, 8, 0)


# ---- dispatch decisions


def test_zone_states_once_per_value():
    h = hours()
    now = datetime(2026, 12, 1, 14, 0)  # 09:00 New York, 14:00 London, 01:00 Sydney
    states = zone_states(h, [NY, LONDON, SYDNEY, f"{CHICAGO} {NY}", None], now, LONDON)
    assert {value for value, state in states.items() if state.is_open} == {
        NY,
        LONDON,
        f"{CHICAGO} {NY}",
        None,
    }
    sydney = states[SYDNEY]
    assert sydney.opens_at == sydney.until == datetime(2026, 12, 1, 21, 0)
    assert states[LONDON].until == datetime(2026, 12, 1, 20, 0)
    assert states[None].zones == (LONDON,)


def test_unknown_zone_is_refused():
    with pytest.raises(ValueError, match="unknown time zone"):
        hours().is_open(("Mars/Olympus",), datetime(2026, 12, 1))


# ---- zone names and numbers


def test_zone_names():
    assert canonical_zone(" america/new_york ") == NY
    assert canonical_zone("Mars/Olympus") is None
    assert canonical_zone("") is None
    with pytest.raises(ValueError, match="IANA name"):
        check_zone("Europe/Pariss")
    assert zone_value([NY, CHICAGO, NY, "Etc/Unknown"]) == f"{CHICAGO} {NY}"
    assert zone_value(["Etc/Unknown"]) is None
    assert split_zone_value(f"{CHICAGO} {NY}") == (CHICAGO, NY)
    assert split_zone_value(None, LONDON) == (LONDON,)


@pytest.mark.parametrize(
    "number",
    [
        "+1 212 555 0123",  # New York
        "+1 312 555 0123",  # Chicago
        "+1 940 555 0123",
        "+44 7911 123000",  # UK mobile: country level, four zones of one offset
        "+44 20 7946 0000",
        "+61 2 9123 4567",  # Sydney landline
        "+61 412 345 678",  # Australian mobile: every Australian zone
        "+33 6 12 34 56 78",
        "+81 3 1234 5678",
    ],
)
def test_phone_zones_as_phonenumbers(number):
    result = normalise_phone(number)
    expected = zone_value(time_zones_for_number(phonenumbers.parse(number)))
    assert phone_zones(result.e164, result.region, result.number_type) == expected


def test_phone_zones_without_a_usable_number():
    assert phone_zones(None, None, None) is None
    assert phone_zones("+999", None, "UNKNOWN") is None


def test_phone_zones_cost_per_number():
    # Memoised per country and leading digits: 100 000 numbers must not each cost a parse.
    numbers = [normalise_phone(f"+1 212 555 {i:04d}") for i in range(200)]
    send_hours._prefix_zones.cache_clear()
    for result in numbers:
        phone_zones(result.e164, result.region, result.number_type)
    assert send_hours._prefix_zones.cache_info().misses == 1


def test_search_horizon_is_bounded():
    h = hours()
    assert timedelta(days=366) <= send_hours.SEARCH_HORIZON
    assert h.next_opening((LONDON,), datetime(2026, 12, 1)) is not None


def test_gate_claims_open_values_until_the_first_change():
    h = hours()
    now = datetime(2026, 12, 1, 14, 0)
    gate = send_hours.gate(zone_states(h, [NY, SYDNEY, LONDON], now).values())
    assert set(gate.open_values) == {NY, LONDON}
    assert gate.until == datetime(2026, 12, 1, 20, 0)  # London closes before Sydney opens
    closed = send_hours.gate(zone_states(h, [SYDNEY], now).values())
    assert closed == send_hours.Gate((), datetime(2026, 12, 1, 21, 0))


def test_unknown_stored_zone_falls_back_to_the_default():
    states = zone_states(hours(), ["Mars/Olympus"], datetime(2026, 12, 1, 14, 0), LONDON)
    assert states["Mars/Olympus"].zones == (LONDON,)
    assert states["Mars/Olympus"].is_open
