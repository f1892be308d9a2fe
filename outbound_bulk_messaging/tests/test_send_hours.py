from datetime import datetime

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import freeze_time, tagged

from .common import SendingCase

NY, SYDNEY = "America/New_York", "Australia/Sydney"
UK_MOBILE = "Europe/Guernsey Europe/Isle_of_Man Europe/Jersey Europe/London"
BOISE_LA = "America/Boise America/Los_Angeles"
# Tuesday 1 December 2026 (winter: London = UTC, New York = UTC-5, Sydney = UTC+11).
TUESDAY = datetime(2026, 12, 1)


def at(hour, minute=0, day=1):
    return datetime(2026, 12, day, hour, minute)


@tagged("post_install", "-at_install")
class TestSendHours(SendingCase):
    """One calendar, Monday to Friday 08:00-20:00, read in each recipient's own time zone."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template.body = "Hi $ACCOUNT_NAME"
        cls.calendar = cls.env["resource.calendar"].create(
            {
                "name": "Texting hours",
                "tz": "Europe/London",
                "attendance_ids": [
                    Command.create(
                        {"name": f"Day {day}", "dayofweek": str(day), "hour_from": 8, "hour_to": 20}
                    )
                    for day in range(5)
                ],
            }
        )
        cls.sydney = cls._create_accounts(cls.list_active, 2, sms="+61 2 9123 45{:02d}")
        cls.london = cls._create_accounts(cls.list_active, 2, 10, sms="+44 7911 1230{:02d}")
        cls.new_york = cls._create_accounts(cls.list_active, 2, 20, sms="+1 212 555 01{:02d}")

    def setUp(self):
        super().setUp()
        self.campaign.send_calendar_id = self.calendar

    def _sent_to(self, job, accounts):
        messages = job.outbound_message_ids.filtered(lambda m: m.account_id in accounts)
        return set(messages.mapped("state"))

    def _last_trigger(self):
        return self.env["ir.cron.trigger"].search(
            [("cron_id", "=", self.env.ref("outbound_bulk_messaging.ir_cron_dispatch").id)],
            order="id desc",
            limit=1,
        )

    def test_zones_come_from_the_number(self):
        self.assertEqual(set(self.sydney.mapped("sms_time_zones")), {SYDNEY})
        self.assertEqual(set(self.london.mapped("sms_time_zones")), {UK_MOBILE})
        self.assertEqual(set(self.new_york.mapped("sms_time_zones")), {NY})
        self.new_york[0].sms_number = "+1 208 555 0100"
        self.assertEqual(self.new_york[0].sms_time_zones, BOISE_LA)

    def test_each_recipient_in_its_own_window(self):
        with self.fake_vonage() as fake:
            with freeze_time(at(7, 30)):  # Sydney 18:30 open; London 07:30, New York 02:30
                job = self._send("sms")
                self.assertEqual(
                    set(job.outbound_message_ids.mapped("recipient_tz")), {SYDNEY, UK_MOBILE, NY}
                )
                self._dispatch()
                self.assertEqual(self._sent_to(job, self.sydney), {"sent"})
                self.assertEqual(self._sent_to(job, self.london | self.new_york), {"queued"})
                self.assertEqual(job.state, "running")
                # The job says what it waits for and wakes itself at the first opening.
                self.assertEqual(job.send_hours_next_at, at(8))
                self.assertIn(
                    "2 message(s) wait for sending hours: America/New_York opens at 08:00 on "
                    "2026-12-01 (local time)",
                    job.send_hours_status,
                )
                self.assertEqual(job.next_run_at, at(8))
                self.assertEqual(self._last_trigger().call_at, at(8))
            with freeze_time(at(8)):  # London opens; New York still 03:00
                self._dispatch()
                self.assertEqual(self._sent_to(job, self.london), {"sent"})
                self.assertEqual(self._sent_to(job, self.new_york), {"queued"})
                self.assertEqual(self._last_trigger().call_at, at(13))
            with freeze_time(at(12, 59)):
                self._dispatch()
                self.assertEqual(self._sent_to(job, self.new_york), {"queued"})
            with freeze_time(at(13)):  # 08:00 in New York
                self._dispatch()
        self.assertEqual(job.state, "done")
        self.assertEqual(self._states(job), {"sent": 6})
        self.assertEqual(len(fake.requests), 6)
        self.assertFalse(job.send_hours_status)

    def test_number_across_two_zones_waits_for_both(self):
        self.new_york[0].sms_number = "+1 208 555 0100"  # Boise (UTC-7) and Los Angeles (UTC-8)
        with self.fake_vonage(), freeze_time(at(15, 30)):  # 08:30 Boise, 07:30 Los Angeles
            job = self._send("sms")
            self._dispatch()
            self.assertEqual(self._sent_to(job, self.new_york[0]), {"queued"})
            self.assertEqual(self._sent_to(job, self.new_york[1]), {"sent"})
            self.assertEqual(job.send_hours_next_at, at(16))
            self.assertIn("America/Boise + America/Los_Angeles opens at", job.send_hours_status)
            with freeze_time(at(16)):
                self._dispatch()
        self.assertEqual(self._sent_to(job, self.new_york[0]), {"sent"})

    def test_public_holiday_holds_then_resumes_on_its_own(self):
        # 1 December is a holiday in the calendar; each recipient is held on their own 1 December.
        self.env["resource.calendar.leaves"].create(
            {
                "name": "Founders' day",
                "calendar_id": self.calendar.id,
                "date_from": at(0),
                "date_to": datetime(2026, 12, 1, 23, 59, 59),
            }
        )
        with self.fake_vonage() as fake, freeze_time(at(8)):  # Sydney 19:00, London 08:00
            job = self._send("sms")
            self._dispatch()
            self.assertFalse(fake.requests)
            self.assertEqual(self._states(job), {"queued": 6})
            # Sydney's 2 December opens first, at 08:00 there: 21:00 UTC on the 1st.
            self.assertEqual(job.next_run_at, at(21))
            self.assertEqual(self._last_trigger().call_at, at(21))
            with freeze_time(at(21)):
                self._dispatch()
                self.assertEqual(self._sent_to(job, self.sydney), {"sent"})
                self.assertEqual(self._sent_to(job, self.london | self.new_york), {"queued"})
                self.assertEqual(self._last_trigger().call_at, at(8, day=2))
        self.assertEqual(len(fake.requests), 2)

    def test_pace_counts_only_what_goes_out(self):
        # The first messages of the queue wait (New York numbers, 03:00 there); London's are
        # the ones claimed, and the batch of 1 per minute is theirs.
        self.sydney[0].sms_number = "+1 212 555 0190"
        self.sydney[1].sms_number = "+1 212 555 0191"
        waiting = self.sydney | self.new_york
        start = datetime(2026, 12, 1, 8, 0, 1)
        with self.fake_vonage() as fake, freeze_time(start):
            job = self._send("sms", batch_size=1, batch_interval=1, batch_interval_unit="minutes")
            self._dispatch()
            self.assertEqual(len(fake.requests), 1)
            self.assertEqual(self._sent_to(job, self.london), {"sent", "queued"})
            self.assertEqual(self._sent_to(job, waiting), {"queued"})
            self.assertEqual(job.next_run_at, datetime(2026, 12, 1, 8, 1, 1))
            with freeze_time(datetime(2026, 12, 1, 8, 1, 1)):
                self._dispatch()
            self.assertEqual(self._sent_to(job, self.london), {"sent"})
            self.assertEqual(self._sent_to(job, waiting), {"queued"})
            self.assertEqual(job.next_run_at, at(13))

    def test_no_calendar_sends_at_any_time(self):
        self.campaign.send_calendar_id = False
        with self.fake_vonage() as fake, freeze_time(datetime(2026, 12, 6, 3, 0)):  # Sunday
            job = self._send("sms")
            self._dispatch()
        self.assertEqual(job.state, "done")
        self.assertEqual(len(fake.requests), 6)
        self.assertFalse(job.send_calendar_id)
        self.assertFalse(job.send_hours_status)


@tagged("post_install", "-at_install")
class TestSendHoursEmail(SendingCase):
    """Emails follow the imported time zone column, else the calendar's zone."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.calendar = cls.env["resource.calendar"].create(
            {
                "name": "Mail hours",
                "tz": "Europe/London",
                "attendance_ids": [
                    Command.create(
                        {"name": f"Day {day}", "dayofweek": str(day), "hour_from": 8, "hour_to": 20}
                    )
                    for day in range(5)
                ],
            }
        )
        cls.campaign.send_calendar_id = cls.calendar
        cls.profile.time_zone_column = "tz"

    def test_imported_zone_or_the_calendars(self):
        wizard = self._import(
            "reference,name,status,email,mobile,tz\n"
            "R1,Ann,,ann@example.com,,america/new_york\n"
            "R2,Bob,,bob@example.com,,\n"
            "R3,Cy,,cy@example.com,,Europe/Pariss\n"
        )
        self.assertEqual((wizard.count_created, wizard.count_rejected), (2, 1))
        (error,) = [row for row in self._report_rows(wizard) if row["reference"] == "R3"]
        self.assertIn("unknown time zone 'Europe/Pariss'", " ".join(error.values()))
        accounts = self.list_active.account_ids.sorted("reference")
        self.assertEqual(accounts.mapped("time_zone"), [NY, False])
        with self.smtp_sink() as sink, freeze_time(at(8)):
            job = self._send("email")
            messages = job.outbound_message_ids.sorted("account_reference")
            self.assertEqual(messages.mapped("recipient_tz"), [NY, "Europe/London"])
            self._dispatch()
            self.assertEqual(messages.mapped("state"), ["queued", "sent"])
            self.assertEqual([m.rcpt_tos for m in sink.messages], [["bob@example.com"]])
            self.assertEqual(job.send_hours_next_at, at(13))
            with freeze_time(at(13)):
                self._dispatch()
        self.assertEqual(messages.mapped("state"), ["sent", "sent"])

    def test_time_zone_typed_on_an_account_is_checked(self):
        account = self._create_accounts(self.list_active, 1, email="x@example.com")
        account.time_zone = "europe/paris"
        self.assertEqual(account.time_zone, "Europe/Paris")
        with self.assertRaisesRegex(ValidationError, "unknown time zone 'Paris'"):
            account.time_zone = "Paris"


@tagged("post_install", "-at_install")
class TestSendHoursCalendar(SendingCase):
    def test_flexible_calendar_is_refused(self):
        calendar = self.env["resource.calendar"].create(
            {"name": "Flexible", "flexible_hours": True, "tz": "Europe/London"}
        )
        with self.assertRaisesRegex(ValidationError, "flexible hours"):
            self.campaign.send_calendar_id = calendar

    def test_two_week_calendar_and_breaks(self):
        calendar = self.env["resource.calendar"].create(
            {"name": "Two weeks", "tz": "Europe/London"}
        )
        calendar.switch_calendar_type()  # as the form's button: both weeks, Odoo's default hours
        # The second week's Tuesday closes: only the first week then sends on Tuesdays.
        week = self.env["resource.calendar.attendance"].get_week_type(TUESDAY.date())
        calendar.attendance_ids.filtered(
            lambda a: a.dayofweek == "1" and a.week_type != str(week)
        ).unlink()
        hours = calendar._get_outbound_send_hours(TUESDAY)
        self.assertEqual({item.week for item in hours.attendances}, {0, 1})
        # Odoo's default is 08:00-12:00 and 13:00-17:00 with a lunch break: the break is closed.
        self.assertFalse(hours.is_open(("Europe/London",), datetime(2026, 12, 1, 12, 30)))
        self.assertTrue(hours.is_open(("Europe/London",), datetime(2026, 12, 1, 13, 30)))
        self.assertFalse(hours.is_open(("Europe/London",), datetime(2026, 12, 8, 13, 30)))
        self.assertTrue(hours.is_open(("Europe/London",), datetime(2026, 12, 15, 13, 30)))
