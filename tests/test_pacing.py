"""Pacing arithmetic: batch windows and the rate limiter."""

import itertools
import time
from datetime import datetime, timedelta

import pytest
from hypothesis import given, strategies as st

from outbound_bulk_messaging.engine.pacing import (
    RateLimiter,
    Window,
    allowance,
    interval,
    window,
)

T = datetime(2025, 3, 3, 9, 0)
MINUTE = timedelta(minutes=1)


class FakeClock:
    """A monotonic clock that only moves when slept on, recording each sleep."""

    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


# ---- WINDOWS


@pytest.mark.parametrize(
    ("count", "unit", "expected"),
    [
        (5, "minutes", timedelta(minutes=5)),
        (2, "hours", timedelta(hours=2)),
        (1, "days", timedelta(days=1)),
    ],
)
def test_interval_in_each_unit(count, unit, expected):
    assert interval(count, unit) == expected


@pytest.mark.parametrize(
    ("count", "unit"), [(0, "minutes"), (-1, "hours"), (1.5, "hours"), (1, "weeks")]
)
def test_interval_refuses_what_is_not_a_positive_count_of_a_known_unit(count, unit):
    with pytest.raises(ValueError):
        interval(count, unit)


def test_windows_are_anchored_at_the_start():
    assert window(T, MINUTE, T) == Window(T, T + MINUTE, True)
    assert window(T, MINUTE, T + timedelta(seconds=59)) == Window(T, T + MINUTE, True)
    assert window(T, MINUTE, T + MINUTE) == Window(T + MINUTE, T + 2 * MINUTE, True)
    assert window(T, 5 * MINUTE, T + timedelta(minutes=17)) == Window(
        T + timedelta(minutes=15), T + timedelta(minutes=20), True
    )


def test_before_the_start_is_the_first_window_not_due():
    assert window(T, MINUTE, T - timedelta(hours=3)) == Window(T, T + MINUTE, False)


@given(
    offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    every=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=7)),
)
def test_now_always_falls_in_its_window(offset, every):
    start, end, due = window(T, every, T + offset)

    assert due
    assert start <= T + offset < end == start + every
    assert (start - T) % every == timedelta(0)


# ---- ALLOWANCE


def test_allowance_is_what_the_window_has_left():
    assert allowance(5, 0) == 5
    assert allowance(5, 3) == 2
    assert allowance(5, 7) == 0
    assert allowance(5, 0, due=False) == 0


def test_allowance_needs_a_positive_batch():
    with pytest.raises(ValueError):
        allowance(0, 0)


def test_23_messages_5_per_minute_go_5_5_5_5_3():
    every, remaining, sent_at = interval(1, "minutes"), 23, []
    # A cron run every 20 s: late and repeated runs must not exceed the batch of their window.
    for tick in range(-6, 20):
        now = T + tick * timedelta(seconds=20)
        current = window(T, every, now)
        used = sum(1 for moment in sent_at if current.start <= moment < current.end)
        count = min(remaining, allowance(5, used, due=current.due))
        sent_at += [now] * count
        remaining -= count

    per_window = [
        sum(1 for moment in sent_at if window(T, every, moment).start == T + k * every)
        for k in range(6)
    ]
    assert per_window == [5, 5, 5, 5, 3, 0]
    assert min(sent_at) == T


# ---- RATE LIMITER


def test_rate_limiter_spaces_sends():
    clock = FakeClock()
    limiter = RateLimiter(4, clock=clock, sleep=clock.sleep)

    waits = [limiter.wait() for _ in range(5)]

    assert waits == [0.0, 0.25, 0.25, 0.25, 0.25]
    assert clock.now - 100.0 == pytest.approx((5 - 1) / 4)


def test_rate_limiter_counts_time_spent_working():
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock, sleep=clock.sleep)
    limiter.wait()
    clock.now += 0.3  # the send itself took 0.3 s of the 0.5 s period

    assert limiter.wait() == pytest.approx(0.2)


def test_rate_limiter_does_not_save_idle_time_for_a_burst():
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock, sleep=clock.sleep)
    limiter.wait()
    clock.now += 60

    assert [limiter.wait() for _ in range(3)] == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("per_second", [None, 0, -3])
def test_rate_limiter_without_a_rate_never_sleeps(per_second):
    clock = FakeClock()
    limiter = RateLimiter(per_second, clock=clock, sleep=clock.sleep)

    assert [limiter.wait() for _ in range(100)] == [0.0] * 100
    assert clock.sleeps == []


def test_rate_limiter_in_real_time():
    limiter = RateLimiter(50)
    started = time.monotonic()
    for _ in range(6):
        limiter.wait()
    elapsed = time.monotonic() - started

    assert 5 / 50 <= elapsed < 1


def test_rate_limiter_spaces_from_the_actual_send_when_sleep_overshoots():
    clock = FakeClock()

    overshoots = iter([0.01, 0.0, 0.01, 0.0])

    def late_sleep(seconds):  # the OS wakes the sender up to 10 ms late
        clock.now += seconds + next(overshoots)

    limiter = RateLimiter(10, clock=clock, sleep=late_sleep)
    sent_at = []
    for _ in range(5):
        limiter.wait()
        sent_at.append(clock.now)
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent_at)]
    assert all(gap >= 0.1 - 1e-9 for gap in gaps), gaps


def test_rate_limiter_slack_widens_the_period():
    clock = FakeClock()
    limiter = RateLimiter(30, clock=clock, sleep=clock.sleep, slack=0.02)
    for _ in range(31):
        limiter.wait()
    # 31 sends span 30 periods of 1.02 / 30 s: never 31 within one second.
    assert clock.now - 100.0 == pytest.approx(1.02)
