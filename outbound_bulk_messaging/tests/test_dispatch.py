import logging
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.tests import freeze_time, tagged
from odoo.tools import mute_logger

from ..models import outbound_dispatcher
from .common import SendingCase

SEND_JOB_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_send_job"
DISPATCHER_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_dispatcher"


@tagged("post_install", "-at_install")
class TestDispatchEmail(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 12, email="person{:02d}@example.com")

    def test_email_arrives_with_both_parts_and_is_tracked(self):
        self.template.write(
            {
                "body_type": "html",
                "body": "<p>Dear <b>$ACCOUNT_NAME</b>, ref $ACCOUNT_REFERENCE</p>",
            }
        )
        with self.smtp_sink() as sink:
            job = self._send("email")
            self._dispatch()
        self.assertEqual(job.state, "done")
        self.assertEqual(self._states(job), {"sent": 12})
        self.assertEqual(len(sink.messages), 12)
        received = {message.rcpt_tos[0]: message for message in sink.messages}
        self.assertEqual(sorted(received), sorted(self.accounts.mapped("email")))
        message = received["person03@example.com"]
        self.assertEqual(message["Subject"], "Your renewal, A 3")
        self.assertEqual(message["From"], "Acme <renewals@acme.example>")
        html = message.get_body(("html",)).get_content()
        text = message.get_body(("plain",)).get_content()
        self.assertIn("<b>A 3</b>, ref R00003", html)
        self.assertIn("Dear A 3, ref R00003", text)
        tracked = job.outbound_message_ids.filtered(lambda m: m.address == "person03@example.com")
        self.assertEqual(tracked.provider_message_id, message["Message-Id"])
        self.assertTrue(tracked.sent_at)

    def test_text_email_is_plain(self):
        with self.smtp_sink() as sink:
            self._send("email")
            self._dispatch()
        message = sink.messages[0]
        self.assertEqual(message.get_content_type(), "text/plain")
        self.assertIn("your reference is R000", message.get_content())

    def test_refused_recipient_fails_only_that_message(self):
        with self.smtp_sink(refuse={"person05@example.com"}) as sink:
            job = self._send("email")
            with self.assertLogs(SEND_JOB_LOGGER, logging.WARNING) as logs:
                self._dispatch()
        self.assertEqual(self._states(job), {"sent": 11, "failed": 1})
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertEqual(failed.address, "person05@example.com")
        self.assertIn("550", failed.failure_reason)
        self.assertIn("person05@example.com", failed.failure_reason)
        self.assertEqual(len(sink.messages), 11)
        self.assertEqual(job.state, "done")
        # The operator's log says which job and which messages, once for the batch.
        self.assertEqual(
            [record.getMessage() for record in logs.records],
            [
                f"Send job {job.name} (id {job.id}): 1 of 12 messages failed in batch "
                f"{failed.batch_id}: ids {failed.id} — first reason: {failed.failure_reason}"
            ],
        )

    def test_failures_are_logged_once_per_batch(self):
        refused = {"person01@example.com", "person03@example.com", "person07@example.com"}
        with (
            self.smtp_sink(refuse=refused),
            patch.object(outbound_dispatcher, "DISPATCH_BATCH", 5),
            self.assertLogs(SEND_JOB_LOGGER, logging.WARNING) as logs,
        ):
            job = self._send("email")
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 9, "failed": 3})
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        batches = failed.grouped("batch_id")
        self.assertEqual([len(messages) for messages in batches.values()], [2, 1])
        # Three batches (5, 5, 2 messages): a line for each of the two that failed messages.
        self.assertEqual(
            [record.getMessage().split(" — ")[0] for record in logs.records],
            [
                f"Send job {job.name} (id {job.id}): {len(messages)} of 5 messages failed in "
                f"batch {batch}: ids {', '.join(str(i) for i in messages.ids)}"
                for batch, messages in batches.items()
            ],
        )

    def test_authentication_failure_pauses_the_job_and_keeps_the_queue(self):
        with self.smtp_sink(auth=("sender", "right")) as sink:
            self.campaign.mail_server_id.smtp_pass = "wrong"
            job = self._send("email")
            with self.assertLogs(SEND_JOB_LOGGER, "WARNING") as logs:
                self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertIn("535", job.state_reason)
        self.assertEqual(self._states(job), {"queued": 12})
        self.assertFalse(sink.messages)
        self.assertIn(job.name, "\n".join(logs.output))

    def test_connection_refused_pauses_and_resume_sends(self):
        self.campaign.mail_server_id = self.env["ir.mail_server"].create(
            {"name": "Closed port", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )
        with patch("odoo.modules.module.current_test", False):
            job = self._send("email")
            with mute_logger(SEND_JOB_LOGGER):
                self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertIn("refused", job.state_reason.lower())
        self.assertEqual(self._states(job), {"queued": 12})
        with self.smtp_sink() as sink:
            job.mail_server_id = self.campaign.mail_server_id
            job.action_resume()
            self.assertEqual(job.state, "scheduled")
            self._dispatch()
        self.assertEqual(job.state, "done")
        self.assertEqual(len(sink.messages), 12)

    def test_server_dropping_the_connection_fails_one_message_as_unknown(self):
        self.campaign.email_max_errors = 1  # pause at the first unknown outcome
        with self.smtp_sink(drop_after=4) as sink:
            job = self._send("email")
            with mute_logger(SEND_JOB_LOGGER):
                self._dispatch()
        self.assertEqual(job.state, "paused")
        states = self._states(job)
        self.assertEqual(states, {"sent": 3, "failed": 1, "queued": 8})
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertIn("outcome unknown", failed.failure_reason)
        self.assertEqual(len(sink.messages), 3)

    def test_template_render_error_fails_only_that_account(self):
        for account in self.accounts - self.accounts[2]:
            account.data = {"amount": "10"}
        self.template.body = "Hi $ACCOUNT_NAME, you owe $ACCOUNT_AMOUNT"
        with self.smtp_sink() as sink:
            job = self._send("email")
            with mute_logger(SEND_JOB_LOGGER):  # the failed batch is logged as a warning
                self._dispatch()
        self.assertEqual(self._states(job), {"sent": 11, "failed": 1})
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertEqual(failed.account_id, self.accounts[2])
        self.assertIn("AMOUNT", failed.failure_reason)
        self.assertIn("you owe 10", sink.messages[0].get_content())


@tagged("post_install", "-at_install")
class TestPacing(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 23, email="paced{:02d}@example.com")

    def test_five_per_minute_over_23_messages(self):
        start = datetime(2026, 11, 27, 9, 0)
        sent_per_window = []
        with self.smtp_sink() as sink:
            with freeze_time(start):
                job = self._send(
                    "email", batch_size=5, batch_interval=1, batch_interval_unit="minutes"
                )
            for minute in range(6):
                now = start + timedelta(minutes=minute, seconds=1)
                with freeze_time(now):
                    before = len(sink.messages)
                    self._dispatch()
                    self._dispatch()  # a second run in the same window sends nothing more
                    sent_per_window.append(len(sink.messages) - before)
                    if job.state != "done":
                        self.assertEqual(job.next_run_at, start + timedelta(minutes=minute + 1))
        self.assertEqual(sent_per_window, [5, 5, 5, 5, 3, 0])
        self.assertEqual(job.state, "done")
        self.assertEqual(len({m.rcpt_tos[0] for m in sink.messages}), 23)

    def test_future_start_sends_nothing_before_it(self):
        with self.smtp_sink() as sink, freeze_time("2026-11-27 09:00:00"):
            job = self._send(
                "email", use_current_time=False, start_at=datetime(2026, 11, 27, 12, 0)
            )
            self._dispatch()
            self.assertEqual(job.state, "scheduled")
            self.assertFalse(sink.messages)
            with freeze_time("2026-11-27 11:59:59"):
                self._dispatch()
            self.assertFalse(sink.messages)
            with freeze_time("2026-11-27 12:00:00"):
                self._dispatch()
            self.assertEqual(len(sink.messages), 23)

    def test_pause_cancel_and_retry(self):
        with (
            self.smtp_sink(refuse={"paced00@example.com"}) as sink,
            freeze_time("2026-11-27 09:00:00"),
        ):
            job = self._send("email", batch_size=10)
            job.action_pause()
            self._dispatch()
            self.assertFalse(sink.messages)
            job.action_resume()
            with mute_logger(SEND_JOB_LOGGER):  # the failed batch is logged as a warning
                self._dispatch()
            self.assertEqual(self._states(job), {"sent": 9, "failed": 1, "queued": 13})
            job.action_cancel()
            self.assertEqual(job.state, "cancelled")
            self.assertEqual(self._states(job), {"sent": 9, "failed": 1, "skipped": 13})
            # Once the cause is fixed a manager requeues the failed message.
            sink.refuse = set()
            job.action_retry_failed()
            self.assertEqual(self._states(job), {"sent": 9, "queued": 1, "skipped": 13})
            self._dispatch()  # this window's 10 are used up: it waits for the next
            self.assertEqual(self._states(job), {"sent": 9, "queued": 1, "skipped": 13})
            with freeze_time("2026-11-27 09:01:00"):
                self._dispatch()
        self.assertEqual(self._states(job), {"sent": 10, "skipped": 13})
        self.assertEqual(len(sink.messages), 10)


@tagged("post_install", "-at_install")
class TestRecovery(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 4, email="crash{}@example.com")

    def test_interrupted_batch_is_failed_never_resent(self):
        with self.smtp_sink() as sink:
            job = self._send("email")
            messages = job.outbound_message_ids
            # A dispatcher claimed two messages as batch 424242 and died: nobody holds its lock.
            messages[:2].write({"state": "sending", "batch_id": 424242})
            with self.assertLogs(DISPATCHER_LOGGER, "WARNING"):
                self._dispatch()
        self.assertEqual(self._states(job), {"failed": 2, "sent": 2})
        self.assertIn("interrupted: outcome unknown", messages[0].failure_reason)
        self.assertEqual(
            sorted(m.rcpt_tos[0] for m in sink.messages),
            ["crash2@example.com", "crash3@example.com"],
        )
        self.assertEqual(job.state, "done")

    def test_live_batch_is_left_alone(self):
        self.campaign.mail_server_id = self.env["ir.mail_server"].create(
            {"name": "Unused", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )
        job = self._send("email")
        messages = job.outbound_message_ids
        messages[:2].write({"state": "sending", "batch_id": 535353})
        self.env.flush_all()
        # Another connection (another dispatcher) holds the batch's lock while it sends.
        with self.registry.cursor() as other:
            other.execute(
                "SELECT pg_advisory_lock(%s, %s)", [outbound_dispatcher.BATCH_LOCK, 535353]
            )
            self.env["outbound.send.job"]._recover_interrupted()
            other.execute(
                "SELECT pg_advisory_unlock(%s, %s)", [outbound_dispatcher.BATCH_LOCK, 535353]
            )
        self.assertEqual(messages[:2].mapped("state"), ["sending", "sending"])
