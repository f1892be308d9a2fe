"""The company's frequency cap: at most N messages per address and channel per calendar period,
from all its campaigns together, and its place in Settings."""

from datetime import datetime

from odoo.tests import freeze_time, tagged

from .common import SendingCase


@tagged("post_install", "-at_install")
class TestFrequencyCap(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["outbound.account"].create(
            {"list_id": cls.list_active.id, "reference": "C1", "email": "cap@example.com"}
        )
        cls.other = cls.env["outbound.campaign"].create(
            {"name": "Collections", "email_from": "collect@acme.example"}
        )
        cls.other_list = cls.env["outbound.list"].create(
            {"name": "Late payers", "campaign_id": cls.other.id, "state": "active"}
        )
        cls.env["outbound.account"].create(
            [
                {"list_id": cls.other_list.id, "reference": "D1", "email": "cap@example.com"},
                {"list_id": cls.other_list.id, "reference": "D2", "email": "new@example.com"},
            ]
        )
        cls.other_template = cls.env["outbound.template"].create(
            {"name": "Dunning", "campaign_id": cls.other.id, "subject": "Hi", "body": "Pay"}
        )
        server = cls.env["ir.mail_server"].create(
            {"name": "Unused", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )
        (cls.campaign | cls.other).mail_server_id = server

    def _send_other(self):
        return self._send("email", self.other, template_id=self.other_template.id)

    def _states(self, job):
        return {m.account_reference: m.state for m in job.outbound_message_ids}

    def _first_send(self, sent_at):
        with freeze_time(sent_at):
            job = self._send("email")
        job.outbound_message_ids.filtered(lambda m: m.state == "queued").write(
            {"state": "sent", "sent_at": sent_at}
        )
        return job

    def test_cap_across_campaigns_at_period_boundaries(self):
        cases = [
            # (period, first campaign sent at, second campaign sends at, capped)
            ("day", "2026-12-01 09:00:00", "2026-12-01 23:59:59", True),
            ("day", "2026-12-01 09:00:00", "2026-12-02 00:00:00", False),
            ("week", "2026-11-30 00:00:00", "2026-12-06 23:59:59", True),  # Monday .. Sunday
            ("week", "2026-12-06 23:00:00", "2026-12-07 00:00:00", False),  # Sunday, Monday
            ("month", "2026-12-01 00:00:00", "2026-12-31 23:59:59", True),
            ("month", "2026-11-30 23:59:59", "2026-12-01 00:00:00", False),
        ]
        for period, sent_at, now, capped in cases:
            with self.subTest(period=period, sent_at=sent_at, now=now):
                self.env.company.write({"outbound_cap_count": 1, "outbound_cap_period": period})
                first = self._first_send(datetime.fromisoformat(sent_at))
                with freeze_time(now):
                    job = self._send_other()
                message = job.outbound_message_ids.filtered(lambda m: m.account_reference == "D1")
                self.assertEqual(message.state, "skipped" if capped else "queued")
                if capped:
                    self.assertIn("frequency cap", message.failure_reason)
                    self.assertIn("cap@example.com", message.failure_reason)
                    self.assertIn(f"this {period}", message.failure_reason)
                self.assertEqual(self._states(job)["D2"], "queued")
                # Out of the way of the next case.
                job.action_cancel()
                first.outbound_message_ids.sudo().write({"state": "failed"})

    def test_what_another_campaign_has_queued_counts(self):
        self.env.company.outbound_cap_count = 1
        self._send("email")  # queued, not sent yet
        job = self._send_other()
        self.assertEqual(self._states(job), {"D1": "skipped", "D2": "queued"})

    def test_cap_of_two_lets_the_second_through(self):
        self.env.company.outbound_cap_count = 2
        self._send("email")
        job = self._send_other()
        self.assertEqual(self._states(job), {"D1": "queued", "D2": "queued"})
        job = self._send("email", self.other, template_id=self.template.id)
        self.assertEqual(self._states(job)["D1"], "skipped")

    def test_no_cap_and_other_channel(self):
        self._send("email")
        self.assertEqual(self._states(self._send_other())["D1"], "queued")
        self.env.company.outbound_cap_count = 1
        self.env["outbound.account"].search([("reference", "=", "D2")]).sms_number = "+447400100001"
        self.other.sms_gateway_id = self.env["outbound.sms.gateway"].create(
            {"name": "Gateway", "api_key": "k", "api_secret": "s", "default_sender": "ACME"}
        )
        # The emails do not count against texts.
        sms_job = self._send("sms", self.other, template_id=self.other_template.id)
        self.assertEqual(self._states(sms_job)["D2"], "queued")

    def test_wizard_counts_the_cap(self):
        self.env.company.outbound_cap_count = 1
        self._send("email")
        wizard = self._wizard(self.other, template_id=self.other_template.id)
        self.assertEqual((wizard.count_with_email, wizard.count_sendable_email), (2, 1))


@tagged("post_install", "-at_install")
class TestFrequencyCapSettings(SendingCase):
    def test_settings_view_shows_and_saves_the_cap(self):
        arch = self.env["res.config.settings"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="outbound_cap_count"', arch)
        self.assertIn('name="outbound_cap_period"', arch)
        self.assertIn('name="outbound_bulk_messaging"', arch)
        settings = self.env["res.config.settings"].create(
            {"outbound_cap_count": 3, "outbound_cap_period": "month"}
        )
        settings.execute()
        self.assertEqual(
            (self.env.company.outbound_cap_count, self.env.company.outbound_cap_period),
            (3, "month"),
        )
