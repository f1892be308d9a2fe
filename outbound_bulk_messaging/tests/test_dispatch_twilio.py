"""SMS jobs through Twilio: the real twilio SDK over HTTPS to the local FakeTwilio."""

import time
from datetime import datetime, timedelta
from unittest.mock import patch
from urllib.parse import urlencode

from odoo.tests import HttpCase, common as common_tests, freeze_time, tagged
from odoo.tools import mute_logger

from ..models import outbound_dispatcher
from .common import SendingCase
from .fake_twilio import status_callback

LOGGERS = (
    "odoo.addons.outbound_bulk_messaging.models.outbound_send_job",
    "odoo.addons.outbound_bulk_messaging.controllers.main",
    "werkzeug",
)


@tagged("post_install", "-at_install")
class TestDispatchTwilio(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 5, sms="+44 7911 1230{:02d}")
        cls.template.body = "Hi $ACCOUNT_NAME, ref $ACCOUNT_REFERENCE"

    def _failed(self, job):
        return job.outbound_message_ids.filtered(lambda m: m.state == "failed")

    def test_sms_sent_through_twilio(self):
        with self.fake_twilio() as fake:
            job = self._send("sms")
            self._dispatch()
        self.assertEqual(job.state, "done")
        self.assertEqual(self._states(job), {"sent": 5})
        self.assertEqual(len(fake.requests), 5)
        message = job.outbound_message_ids[0]
        form = next(r["form"] for r in fake.requests if r["form"]["To"] == message.address)
        self.assertEqual(form["From"], "+447700900999")
        self.assertEqual(form["Body"], "Hi A 0, ref R00000")
        # The status callback is the gateway's receipt URL naming our message.
        self.assertTrue(form["StatusCallback"].startswith(self.gateway.sudo().receipt_url))
        self.assertIn(f"ref={message.id}", form["StatusCallback"])
        self.assertTrue(message.provider_message_id.startswith("SM"))
        self.assertEqual(message.sms_parts, 1)

    def test_invalid_number_fails_that_message(self):
        with self.fake_twilio(numbers={"+447911123002": "invalid"}):
            job = self._send("sms")
            with mute_logger(*LOGGERS):  # the failed batch is logged as a warning
                self._dispatch()
        self.assertEqual(self._states(job), {"sent": 4, "failed": 1})
        self.assertIn("21211", self._failed(job).failure_reason)
        self.assertEqual(job.state, "done")

    def test_opted_out_number_fails_and_is_blacklisted(self):
        with self.fake_twilio(numbers={"+447911123001": "opted_out"}):
            job = self._send("sms")
            with mute_logger(*LOGGERS):  # the failed batch is logged as a warning
                self._dispatch()
        failed = self._failed(job)
        self.assertEqual(failed.address, "+447911123001")
        self.assertIn("21610", failed.failure_reason)
        blacklisted = self.env["phone.blacklist"].search([("number", "=", "+447911123001")])
        self.assertTrue(blacklisted.active)
        # The next job skips the number as blacklisted, without asking Twilio.
        with self.fake_twilio() as fake:
            job = self._send("sms")
            self._dispatch()
        skipped = job.outbound_message_ids.filtered(lambda m: m.state == "skipped")
        self.assertEqual(skipped.address, "+447911123001")
        self.assertIn("blacklisted", skipped.failure_reason)
        self.assertEqual(len(fake.requests), 4)

    def test_bad_credentials_pause_the_job(self):
        with self.fake_twilio(mode="bad_credentials") as fake, mute_logger(*LOGGERS):
            job = self._send("sms")
            self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertIn("20003", job.state_reason)
        self.assertEqual(self._states(job), {"queued": 5})
        self.assertEqual(len(fake.requests), 1)

    def test_throttled_waits_then_requeues(self):
        with (
            self.fake_twilio(numbers={"+447911123000": "throttled"}) as fake,
            patch.object(outbound_dispatcher, "THROTTLE_WAITS", (0.05,)),
            patch("odoo.addons.outbound_bulk_messaging.engine.dispatch.time.sleep"),
        ):
            job = self._send("sms")
            self._dispatch()
            throttled = job.outbound_message_ids.filtered(lambda m: m.address == "+447911123000")
            self.assertEqual(throttled.state, "queued")
            self.assertEqual(job.state, "running")
            fake.numbers.clear()
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 5})
        self.assertEqual(fake.count_by_to()["+447911123000"], 3)

    def test_server_error_timeout_and_drop_fail_one_message_and_go_on(self):
        for mode in ("http500", "timeout", "drop"):
            with (
                self.subTest(mode=mode),
                self.fake_twilio(numbers={"+447911123003": mode}, delay=3) as fake,
                patch("requests.Session.send", common_tests._super_send),
                mute_logger(*LOGGERS),
            ):
                started = time.monotonic()
                job = self._send("sms")
                self._dispatch()
                self.assertLess(time.monotonic() - started, 2.8)  # the 1 s gateway timeout
                self.assertEqual(job.state, "done")
                self.assertEqual(self._states(job), {"sent": 4, "failed": 1})
                failed = self._failed(job)
                self.assertTrue(failed.outcome_unknown)
                self.assertIn("outcome unknown", failed.failure_reason)
                self.assertEqual(fake.count_by_to()["+447911123003"], 1)  # one request, never two
                self.assertEqual(len(fake.requests), 5)

    def test_three_drops_in_a_row_pause(self):
        drops = {f"+4479111230{index:02d}": "drop" for index in (0, 1, 2)}
        with self.fake_twilio(numbers=drops) as fake, mute_logger(*LOGGERS):
            job = self._send("sms")
            self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertEqual(self._states(job), {"failed": 3, "queued": 2})
        self.assertEqual(len(fake.requests), 3)

    def test_paced_job_ends_done(self):
        start = datetime(2026, 11, 27, 9, 0)
        with self.fake_twilio() as fake:
            with freeze_time(start):
                job = self._send("sms", batch_size=2, batch_interval=1)
                self._dispatch()
            sent = [len(fake.requests)]
            for minute in (1, 2):
                with freeze_time(start + timedelta(minutes=minute, seconds=1)):
                    self._dispatch()
                sent.append(len(fake.requests))
        self.assertEqual(sent, [2, 4, 5])
        self.assertEqual(job.state, "done")


@tagged("post_install", "-at_install")
class TestTwilioStatusCallbacks(HttpCase, SendingCase):
    """Twilio status callbacks over real HTTP: signature checked with the SDK's validator."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_accounts(cls.list_active, 2, sms="+44 7911 1230{:02d}")
        cls.template.body = "Hi $ACCOUNT_NAME"

    def _post(self, callback):
        return self.url_open(
            callback["url"],
            data=callback["body"],
            headers=callback["headers"],
            allow_redirects=False,
        )

    def _callback(self, message, status, **options):
        path = "".join(self.gateway.sudo().receipt_url.partition("/outbound/")[1:])
        url = f"{self.base_url()}{path}?{urlencode({'ref': message.id})}"
        return status_callback(
            url,
            message_sid=message.provider_message_id or "SM" + "0" * 32,
            status=status,
            to=message.address,
            **options,
        )

    def _unknown_outcome(self):
        with self.fake_twilio(mode="drop"), mute_logger(*LOGGERS):
            self.gateway.max_errors = 1
            job = self._send("sms")
            self._dispatch()
        message = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertTrue(message.outcome_unknown)
        return message

    def test_signed_callback_settles_the_message(self):
        message = self._unknown_outcome()
        response = self._post(self._callback(message, "delivered"))
        self.assertEqual(response.status_code, 200)
        message.invalidate_recordset()
        self.assertEqual((message.state, message.delivery_status), ("sent", "delivered"))
        self.assertFalse(message.outcome_unknown)

    def test_undelivered_callback_records_the_error(self):
        with self.fake_twilio():
            job = self._send("sms")
            self._dispatch()
        message = job.outbound_message_ids[0]
        response = self._post(self._callback(message, "undelivered", error_code=30003))
        self.assertEqual(response.status_code, 200)
        message.invalidate_recordset()
        self.assertEqual(message.state, "sent")
        self.assertEqual(
            (message.delivery_status, message.delivery_error), ("undelivered", "30003")
        )

    def test_forged_callbacks_change_nothing(self):
        message = self._unknown_outcome()
        forged = self._callback(message, "delivered", auth_token="not-the-token")
        tampered = self._callback(message, "delivered")
        tampered["body"] = tampered["body"].replace(b"delivered", b"read")
        unsigned = self._callback(message, "delivered")
        del unsigned["headers"]["x-twilio-signature"]
        with mute_logger(*LOGGERS):
            answers = [self._post(c).status_code for c in (forged, tampered, unsigned)]
        self.assertEqual(answers, [403, 403, 403])
        message.invalidate_recordset()
        self.assertEqual((message.state, message.delivery_status), ("failed", False))
