"""A send job sends the text it was created with, whatever becomes of its template."""

from datetime import datetime, timedelta

from odoo.tests import freeze_time, tagged

from .common import SendingCase

START = datetime(2026, 11, 27, 9, 0)


@tagged("post_install", "-at_install")
class TestFrozenTemplate(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(
            cls.list_active, 4, email="frozen{}@example.com", sms="+44 7911 1240{:02d}"
        )

    def _paced_job(self, channel="email"):
        with freeze_time(START):
            job = self._send(channel, batch_size=2, batch_interval=1, batch_interval_unit="minutes")
        with freeze_time(START + timedelta(seconds=1)):
            self._dispatch()
        return job

    def _second_batch(self):
        with freeze_time(START + timedelta(minutes=1, seconds=1)):
            self._dispatch()

    def test_editing_the_template_of_a_running_job_changes_nothing_it_sends(self):
        with self.smtp_sink() as sink:
            job = self._paced_job()
            self.assertEqual((job.state, len(sink.messages)), ("running", 2))
            self.template.write(
                {
                    "subject": "Changed for $ACCOUNT_NAME",
                    "body": "<p>Changed</p>",
                    "body_type": "html",
                    "use_for_sms": False,
                }
            )
            self._second_batch()
        self.assertEqual(job.state, "done")
        self.assertEqual(len(sink.messages), 4)
        for message in sink.messages[2:]:
            self.assertTrue(message["Subject"].startswith("Your renewal, A "), message["Subject"])
            self.assertEqual(message.get_content_type(), "text/plain")
            self.assertIn("your reference is R0000", message.get_content())
        self.assertEqual(job.subject, "Your renewal, $ACCOUNT_NAME")
        # A new job takes the new text.
        self.assertEqual(self._send("email").subject, "Changed for $ACCOUNT_NAME")

    def test_deleting_the_template_of_a_running_job_changes_nothing_it_sends(self):
        with self.smtp_sink() as sink:
            job = self._paced_job()
            self.template.unlink()
            self.assertFalse(job.template_id)
            self.assertFalse(job.outbound_message_ids.template_id)
            self._second_batch()
        self.assertEqual(job.state, "done")
        self.assertEqual(self._states(job), {"sent": 4})
        self.assertEqual(
            [message["Subject"] for message in sink.messages[2:]],
            ["Your renewal, A 2", "Your renewal, A 3"],
        )

    def test_an_sms_job_keeps_its_text_and_segment_limit(self):
        self.template.write({"body": "Hi $ACCOUNT_NAME, ref $ACCOUNT_REFERENCE"})
        with self.fake_vonage() as fake:
            job = self._paced_job("sms")
            self.template.write({"body": "New text $ACCOUNT_NAME", "sms_max_segments": 1})
            self._second_batch()
        self.assertEqual(self._states(job), {"sent": 4})
        self.assertEqual(
            sorted(request["form"]["text"] for request in fake.requests),
            [f"Hi A {index}, ref R0000{index}" for index in range(4)],
        )
        self.assertEqual(job.sms_max_segments, 3)
