import time
from unittest.mock import patch

from odoo.tests import common as common_tests, tagged
from odoo.tools import mute_logger

from ..models import outbound_dispatcher
from .common import SendingCase

SEND_JOB_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_send_job"


@tagged("post_install", "-at_install")
class TestDispatchSms(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 6, sms="+44 7911 1230{:02d}")
        cls.template.body = "Hi $ACCOUNT_NAME, ref $ACCOUNT_REFERENCE"

    def _sent_client_refs(self, fake):
        return sorted(fake.count_by_client_ref())

    def test_sms_sent_and_tracked(self):
        with self.fake_vonage() as fake:
            job = self._send("sms")
            self._dispatch()
        self.assertEqual(job.state, "done")
        self.assertEqual(self._states(job), {"sent": 6})
        self.assertEqual(len(fake.requests), 6)
        self.assertEqual(set(fake.count_by_client_ref().values()), {1})
        message = job.outbound_message_ids[0]
        request = next(r for r in fake.requests if r["form"]["client-ref"] == str(message.id))
        self.assertEqual(request["form"]["to"], "447911123000")
        self.assertEqual(request["form"]["from"], "ACME")
        self.assertEqual(request["form"]["text"], "Hi A 0, ref R00000")
        self.assertEqual(request["form"]["type"], "text")
        self.assertTrue(message.provider_message_id)
        self.assertEqual(message.sms_parts, 1)
        self.assertAlmostEqual(message.sms_price, 0.0333)

    def test_unicode_and_long_messages(self):
        self.template.write({"body": "Olá $ACCOUNT_NAME 😀 " + "x" * 80, "sms_max_segments": 3})
        with self.fake_vonage() as fake:
            job = self._send("sms")
            self._dispatch()
        self.assertEqual(fake.requests[0]["form"]["type"], "unicode")
        self.assertEqual(set(job.outbound_message_ids.mapped("sms_parts")), {2})
        self.assertAlmostEqual(job.outbound_message_ids[0].sms_price, 0.0666)

    def test_message_over_max_segments_fails_without_sending(self):
        self.template.write({"body": "$ACCOUNT_NAME " + "y" * 150, "sms_max_segments": 1})
        self.accounts[0].name = "A much longer name that pushes it over"
        with self.fake_vonage() as fake:
            job = self._send("sms")
            with mute_logger(SEND_JOB_LOGGER):  # the failed batch is logged as a warning
                self._dispatch()
        self.assertEqual(self._states(job), {"sent": 5, "failed": 1})
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertIn("segments", failed.failure_reason)
        self.assertEqual(len(fake.requests), 5)

    def test_invalid_number_fails_that_message(self):
        with self.fake_vonage(numbers={"447911123002": "invalid"}) as fake:
            job = self._send("sms")
            with mute_logger(SEND_JOB_LOGGER):  # the failed batch is logged as a warning
                self._dispatch()
        self.assertEqual(self._states(job), {"sent": 5, "failed": 1})
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertEqual(failed.address, "+447911123002")
        self.assertIn("Invalid to number", failed.failure_reason)
        self.assertEqual(len(fake.requests), 6)

    def test_bad_credentials_pause_the_job_with_the_provider_text(self):
        for mode, text in (("bad_credentials", "Bad Credentials"), ("http401", "401")):
            with self.subTest(mode=mode), self.fake_vonage(mode=mode) as fake:
                job = self._send("sms")
                with mute_logger("vonage", SEND_JOB_LOGGER):
                    self._dispatch()
                self.assertEqual(job.state, "paused")
                self.assertIn(text, job.state_reason)
                # The refused message certainly did not leave: it waits with the others.
                self.assertEqual(self._states(job), {"queued": 6})
                self.assertEqual(len(fake.requests), 1)
                job.action_cancel()

    def test_server_error_fails_one_message_as_unknown_and_pauses(self):
        with self.fake_vonage(mode="http503") as fake:
            self.gateway.max_errors = 1  # pause at the first unknown outcome
            job = self._send("sms")
            with mute_logger("vonage", SEND_JOB_LOGGER):
                self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertEqual(self._states(job), {"failed": 1, "queued": 5})
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertIn("outcome unknown", failed.failure_reason)
        self.assertIn("503", failed.failure_reason)
        self.assertEqual(len(fake.requests), 1)

    def test_timeout_is_bounded_and_never_resent(self):
        # Odoo's test harness raises every requests timeout to 10 s; this test is about ours.
        with (
            self.fake_vonage(mode="timeout", delay=3) as fake,
            patch("requests.Session.send", common_tests._super_send),
        ):
            self.gateway.max_errors = 1  # pause at the first unknown outcome
            job = self._send("sms")
            started = time.monotonic()
            with mute_logger(SEND_JOB_LOGGER):
                self._dispatch()
            elapsed = time.monotonic() - started
        self.assertLess(elapsed, 2.5)  # the 1 s gateway timeout, not the fake's 3 s
        self.assertEqual(job.state, "paused")
        self.assertEqual(self._states(job), {"failed": 1, "queued": 5})
        self.assertEqual(len(fake.requests), 1)

    def test_dropped_connection_sends_once(self):
        with self.fake_vonage(mode="drop") as fake:
            self.gateway.max_errors = 1  # pause at the first unknown outcome
            job = self._send("sms")
            with mute_logger(SEND_JOB_LOGGER):
                self._dispatch()
        self.assertEqual(len(fake.requests), 1)
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertIn("outcome unknown", failed.failure_reason)
        self.assertIn(str(failed.id), failed.failure_reason)

    def test_throttled_waits_and_goes_on(self):
        with (
            self.fake_vonage(numbers={"447911123001": "throttled"}) as fake,
            patch.object(outbound_dispatcher, "THROTTLE_WAITS", (0.05, 0.05)),
        ):
            job = self._send("sms")
            self._dispatch()
            throttled = job.outbound_message_ids.filtered(lambda m: m.address == "+447911123001")
            # Still throttled after every wait: it goes back to the queue, unsent, for later.
            self.assertEqual(throttled.state, "queued")
            self.assertEqual(self._states(job)["sent"], 1)
            fake.numbers.clear()
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 6})
        self.assertEqual(fake.count_by_client_ref()[str(throttled.id)], 4)

    def test_gateway_rate_cap(self):
        with self.fake_vonage() as fake:
            self.gateway.messages_per_second = 10
            job = self._send("sms")
            self._dispatch()
        times = sorted(request["received_at"] for request in fake.requests)
        self.assertEqual(job.state, "done")
        self.assertGreaterEqual(times[-1] - times[0], 5 / 10 - 0.02)
