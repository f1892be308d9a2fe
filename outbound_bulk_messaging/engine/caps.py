"""Frequency cap: how many messages one address may receive per calendar period.

Periods are calendar ones in UTC (as Odoo stores times): a day from midnight, an ISO week from
Monday midnight, a month from the 1st. A cap of 3 per week lets an address receive 3 messages
between Monday and Sunday, whatever campaign sends them.
"""

from datetime import datetime, timedelta

__all__ = ["PERIODS", "period_start"]

PERIODS = ("day", "week", "month")


def period_start(period, now):
    """Start (naive UTC) of the calendar ``period`` that ``now`` (naive UTC) falls in."""
    midnight = datetime(now.year, now.month, now.day)
    if period == "day":
        return midnight
    if period == "week":
        return midnight - timedelta(days=now.weekday())
    if period == "month":
        return midnight.replace(day=1)
    raise ValueError(f"unknown cap period {period!r}: one of {', '.join(PERIODS)}")
