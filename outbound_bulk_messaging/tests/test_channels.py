"""The channel registry, the recipient rules and the send wizard as a script would use them."""

from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import SQL

from ..channels import CHANNELS, channel_selection
from ..models import outbound_dispatcher
from ..models.outbound_send_job import _sql_text
from .common import SendingCase


@tagged("post_install", "-at_install")
class TestChannels(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(
            cls.list_active, 4, email="chan{}@example.com", sms="+44 7911 1230{:02d}"
        )

    def test_selections_come_from_the_registry(self):
        expected = [(code, channel.label) for code, channel in CHANNELS.items()]
        self.assertEqual(channel_selection(), expected)
        for model in ("outbound.send.job", "outbound.message"):
            self.assertEqual(
                [code for code, _label in self.env[model]._fields["channel"].selection],
                list(CHANNELS),
            )

    def test_wizard_created_with_only_a_list_takes_its_campaign(self):
        wizard = self.env["outbound.send.wizard"].create(
            {"list_id": self.list_active.id, "template_id": self.template.id}
        )
        self.assertEqual(wizard.campaign_id, self.campaign)
        self.assertEqual(wizard.count_accounts, 4)
        orphan = self.env["outbound.list"].create({"name": "Orphan"})
        with self.assertRaisesRegex(UserError, "Orphan.*not assigned to a campaign"):
            self.env["outbound.send.wizard"].create({"list_id": orphan.id})

    def test_sms_template_offers_text_templates_only(self):
        html = self.env["outbound.template"].create(
            {
                "name": "HTML",
                "campaign_id": self.campaign.id,
                "body_type": "html",
                "subject": "Hi",
                "body": "<p>Hi</p>",
            }
        )
        wizard = self._wizard(template_id=html.id)
        domain = wizard._fields["sms_template_id"].domain
        self.assertIn("('use_for_sms', '=', True)", domain)
        offered = self.env["outbound.template"].search(
            [("campaign_id", "in", [self.campaign.id, False]), ("use_for_sms", "=", True)]
        )
        self.assertNotIn(html, offered)
        self.assertEqual(wizard.sms_template_id, self.template)
        # Nothing about templates blocks either button (the campaign has no server or gateway).
        self.assertNotIn("template", wizard.sms_blockers)
        self.assertNotIn("template", wizard.email_blockers)

    def test_jobs_are_made_by_the_wizard_only(self):
        values = {
            "campaign_id": self.campaign.id,
            "channel": "email",
            "template_id": self.template.id,
        }
        with self.assertRaises(AccessError):
            self.env["outbound.send.job"].with_user(self.user_manager).create(values)
        with self.smtp_sink():
            job = self._send("email")
        self.assertEqual(job.user_id, self.env.user)
        self.assertEqual(len(job.outbound_message_ids), 4)

    def test_skip_reasons_say_it_once(self):
        self.accounts[0].sudo().write(
            {"email": False, "email_error": "'chloé@' has nothing after the @"}
        )
        self.accounts[1].sms_number = "12"
        with self.smtp_sink():
            email_job = self._send("email")
        with self.fake_vonage():
            sms_job = self._send("sms")
        reasons = set(email_job.outbound_message_ids.mapped("failure_reason")) - {False}
        self.assertEqual(reasons, {"invalid email address: 'chloé@' has nothing after the @"})
        reasons = set(sms_job.outbound_message_ids.mapped("failure_reason")) - {False}
        self.assertEqual(reasons, {"invalid SMS number: '12' is too short for GB (+44)"})

    def test_translated_reasons_are_values_not_sql(self):
        # A translator's stray % or quote must not break job creation.
        text = _sql_text("100% sûr ; l'adresse %(address)s %s %%", address=SQL("%s", "a@b.c"))
        self.env.cr.execute(SQL("SELECT %s", text))
        self.assertEqual(self.env.cr.fetchone()[0], "100% sûr ; l'adresse a@b.c %s %%")

    def test_a_window_opening_within_the_run_is_waited_for(self):
        # The job's first window closes in about a second: the run waits for the next one
        # instead of leaving it to the cron's next poll.
        with self.smtp_sink() as sink:
            job = self._send("email", batch_size=2, batch_interval=1)
            job.sudo().start_at = fields.Datetime.now() - timedelta(seconds=59)
            with patch.object(outbound_dispatcher, "MAX_WINDOW_WAIT", 3.0):
                self._dispatch()
        self.assertEqual(len(sink.messages), 4)
        self.assertEqual(job.state, "done")
