"""One unknown outcome fails one message and sending goes on; a streak of them pauses the job."""

from datetime import datetime, timedelta

from odoo.tests import freeze_time, tagged
from odoo.tools import mute_logger

from .common import SendingCase

LOGGERS = ("vonage", "odoo.addons.outbound_bulk_messaging.models.outbound_send_job")


@tagged("post_install", "-at_install")
class TestErrorStreakSms(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 6, sms="+44 7911 1230{:02d}")
        cls.template.body = "Hi $ACCOUNT_NAME, ref $ACCOUNT_REFERENCE"

    def test_one_dropped_connection_mid_job_fails_that_message_only(self):
        with self.fake_vonage(numbers={"+447911123002": "drop"}) as fake:
            job = self._send("sms")
            with mute_logger(*LOGGERS):
                self._dispatch()
        self.assertEqual(job.state, "done")
        self.assertEqual(self._states(job), {"sent": 5, "failed": 1})
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertEqual(failed.address, "+447911123002")
        self.assertTrue(failed.outcome_unknown)
        self.assertIn("outcome unknown", failed.failure_reason)
        # Exactly one request per message, the dropped one included: nothing sent twice.
        self.assertEqual(set(fake.count_by_client_ref().values()), {1})
        self.assertEqual(len(fake.requests), 6)
        self.assertEqual(job.error_streak, 0)

    def test_three_drops_in_a_row_pause_the_job(self):
        drops = {f"+4479111230{index:02d}": "drop" for index in (1, 2, 3)}
        with self.fake_vonage(numbers=drops) as fake:
            job = self._send("sms")
            with mute_logger(*LOGGERS):
                self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertIn("3 sends in a row with an unknown outcome", job.state_reason)
        self.assertEqual(self._states(job), {"sent": 1, "failed": 3, "queued": 2})
        self.assertEqual(len(fake.requests), 4)
        # Resuming starts a new count: the two left go out.
        job.action_resume()
        self.assertEqual(job.error_streak, 0)
        with self.fake_vonage() as fake_after:
            job.sms_gateway_id = self.gateway
            self._dispatch()
        self.assertEqual(job.state, "done")
        self.assertEqual(len(fake_after.requests), 2)

    def test_the_streak_spans_batches_and_the_gateway_sets_its_length(self):
        errors = {f"+4479111230{index:02d}": "http500" for index in range(6)}
        start = datetime(2026, 11, 27, 9, 0)
        with self.fake_vonage(numbers=errors), mute_logger(*LOGGERS):
            self.gateway.max_errors = 5
            with freeze_time(start):
                job = self._send("sms", batch_size=2, batch_interval=1)
                self._dispatch()
            self.assertEqual((job.state, job.error_streak), ("running", 2))
            with freeze_time(start + timedelta(minutes=1, seconds=1)):
                self._dispatch()
            self.assertEqual((job.state, job.error_streak), ("running", 4))
            with freeze_time(start + timedelta(minutes=2, seconds=1)):
                self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertIn("5 sends in a row", job.state_reason)
        self.assertEqual(self._states(job), {"failed": 5, "queued": 1})

    def test_account_errors_still_pause_at_once(self):
        with self.fake_vonage(mode="bad_credentials") as fake:
            job = self._send("sms")
            with mute_logger(*LOGGERS):
                self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertEqual(self._states(job), {"queued": 6})
        self.assertEqual(len(fake.requests), 1)


@tagged("post_install", "-at_install")
class TestErrorStreakEmail(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_accounts(cls.list_active, 8, email="streak{}@example.com")

    def test_a_dropped_smtp_connection_reconnects_and_goes_on(self):
        with self.smtp_sink(drop_after=4) as sink:
            job = self._send("email")
            with mute_logger(*LOGGERS):
                self._dispatch()
        self.assertEqual(job.state, "done")
        self.assertEqual(self._states(job), {"sent": 7, "failed": 1})
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertIn("outcome unknown", failed.failure_reason)
        sent = job.outbound_message_ids.filtered(lambda m: m.state == "sent")
        self.assertEqual(
            sorted(m.rcpt_tos[0] for m in sink.messages), sorted(sent.mapped("address"))
        )

    def test_the_campaign_sets_the_email_streak(self):
        self.campaign.email_max_errors = 1
        with self.smtp_sink(drop_after=2):
            job = self._send("email")
            with mute_logger(*LOGGERS):
                self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertEqual(self._states(job), {"sent": 1, "failed": 1, "queued": 6})
