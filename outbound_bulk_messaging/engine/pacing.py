"""Pacing arithmetic: batch windows for scheduled jobs and a rate limiter for a running one.

Times are naive UTC datetimes, as Odoo stores them. A job with a start ``start_at`` and a batch
every ``every`` has windows ``[start_at + k * every, start_at + (k + 1) * every)``; each window
may send ``batch_size`` messages, counted from what was actually sent in it, so a cron run that
comes late or twice never sends more than the batch.
"""

import math
import time
from datetime import datetime, timedelta
from typing import NamedTuple

UNITS = ("minutes", "hours", "days")


class Window(NamedTuple):
    """The batch window ``[start, end)`` that ``now`` falls in.

    ``due`` is false before the job's start: ``start``/``end`` are then the first window.
    """

    start: datetime
    end: datetime
    due: bool


def interval(batch_interval, unit):
    """The time between two batches: ``batch_interval`` ``unit`` (minutes, hours or days)."""
    if unit not in UNITS:
        raise ValueError(f"unknown interval unit {unit!r}, expected one of {', '.join(UNITS)}")
    if not isinstance(batch_interval, int) or batch_interval < 1:
        raise ValueError(f"the batch interval must be a whole number >= 1, not {batch_interval!r}")
    return timedelta(**{unit: batch_interval})


def window(start_at, every, now):
    """The :class:`Window` of ``now`` for windows of length ``every`` anchored at ``start_at``."""
    index = max(0, (now - start_at) // every)
    start = start_at + index * every
    return Window(start, start + every, now >= start_at)


def allowance(batch_size, used_in_window, *, due=True):
    """How many more messages may go in a window that has already sent ``used_in_window``."""
    if batch_size < 1:
        raise ValueError(f"the batch size must be >= 1, not {batch_size!r}")
    if not due:
        return 0
    return max(0, batch_size - used_in_window)


class RateLimiter:
    """Spaces sends at least ``(1 + slack) / per_second`` apart, as a token bucket of one token.

    ``wait()`` before each send blocks until that send is allowed, so N sends take at least
    ``(N - 1) * (1 + slack) / per_second`` seconds; time spent idle is not saved up for a burst.
    The next send is spaced from the moment this one was let go, not from when it was due, so a
    late wake-up (``sleep`` overshoots) never lets two sends come closer than the period. The
    ``slack`` keeps any ``per_second + 1`` sends more than one second apart even when the network
    delays some of them a little more than the others, which is what the provider counts.
    ``per_second`` ``None`` or ``<= 0`` means no limit. ``clock`` and ``sleep`` are injectable.
    """

    def __init__(self, per_second, clock=time.monotonic, sleep=time.sleep, slack=0.0):
        self.period = (1.0 + slack) / per_second if per_second and per_second > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next_at = -math.inf

    def wait(self):
        """Block until the next send is allowed; return the seconds waited."""
        if not self.period:
            return 0.0
        now = self._clock()
        delay = max(0.0, self._next_at - now)
        if delay:
            self._sleep(delay)
            now = self._clock()
        self._next_at = now + self.period
        return delay
