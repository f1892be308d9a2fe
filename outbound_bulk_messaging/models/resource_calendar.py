from datetime import timedelta

import pytz

from odoo import fields, models
from odoo.exceptions import UserError

from ..engine import send_hours

# Public holidays further back than this cannot hold anything any more.
PAST_LEAVES = timedelta(days=2)


class ResourceCalendar(models.Model):
    """A working-time calendar read as a campaign's sending hours (see ``engine.send_hours``)."""

    _inherit = "resource.calendar"

    def _get_outbound_send_hours(self, now=None):
        """The engine's :class:`~..engine.send_hours.SendHours` of this calendar.

        Attendances give the hours per weekday (both weeks of a two-week calendar, breaks left
        out); the global leaves are the public holidays. A leave is read as wall-clock time in
        the calendar's own zone ("25 December, 00:00 to 24:00") and then applied to every
        recipient on their own date: Sydney's 25 December is held, then New York's.
        """
        self.ensure_one()
        if self.flexible_hours:
            raise UserError(
                self.env._(
                    "Calendar %s has flexible hours, which say how long but not when: it cannot "
                    "be used as sending hours.",
                    self.display_name,
                )
            )
        return send_hours.SendHours(
            tuple(self._outbound_attendances()), tuple(self._outbound_holidays(now))
        )

    def _outbound_attendances(self):
        for attendance in self.attendance_ids:
            if attendance.display_type or attendance.day_period == "lunch":
                continue
            if attendance.resource_id:
                continue  # one employee's own hours, not the calendar's
            yield send_hours.Attendance(
                weekday=int(attendance.dayofweek),
                hour_from=attendance.hour_from,
                hour_to=attendance.hour_to,
                week=int(attendance.week_type or 0) if self.two_weeks_calendar else None,
                date_from=attendance.date_from or None,
                date_to=attendance.date_to or None,
            )

    def _outbound_holidays(self, now=None):
        since = (now or fields.Datetime.now()) - PAST_LEAVES
        tz = pytz.timezone(self.tz or "UTC")
        for leave in self.global_leave_ids.filtered(lambda leave: leave.date_to >= since):
            start = _wall_clock(leave.date_from, tz)
            end = _wall_clock(leave.date_to, tz)
            if end.second == 59:
                end += timedelta(seconds=1)  # Odoo ends a day's leave at 23:59:59
            yield (start, end)


def _wall_clock(utc, tz):
    return pytz.utc.localize(utc).astimezone(tz).replace(tzinfo=None)
