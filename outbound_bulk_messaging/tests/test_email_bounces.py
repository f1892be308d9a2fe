from odoo.tests import tagged

from .bounce_mail import make_dsn
from .common import SendingCase


@tagged("post_install", "-at_install")
class TestEmailBounces(SendingCase):
    """Bounces the mail gateway receives (``message_process``, as the fetchmail cron runs it)
    settle the emails a job sent through the loopback SMTP sink."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alias_domain = cls.env["mail.alias.domain"].create(
            {"name": "acme.example", "bounce_alias": "bounce", "catchall_alias": "catchall"}
        )
        cls.env.company.alias_domain_id = cls.alias_domain
        cls.accounts = cls._create_accounts(cls.list_active, 3, email="person{:02d}@example.com")
        cls.account = cls.accounts[1]

    def _send_emails(self):
        """Send the campaign's email through the sink: ``{address: received message}``."""
        with self.smtp_sink() as sink:
            job = self._send("email")
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 3})
        return job, {message.rcpt_tos[0]: message for message in sink.messages}

    def _tracked(self, job, account=None):
        account = account or self.account
        return job.outbound_message_ids.filtered(lambda message: message.account_id == account)

    def _bounce(self, received, status="5.1.1", action="failed", recipient=None, diagnostic=None):
        """Feed the gateway a Postfix-style report about ``received``; returns the raw bytes."""
        address = received.rcpt_tos[0]
        diagnostic = diagnostic or f"smtp; 550 {status} <{address}>: Recipient address rejected"
        raw = make_dsn(
            received,
            self.env.company.bounce_email,
            [(recipient or address, action, status, diagnostic)],
        )
        self._process(raw)
        return raw

    def _process(self, raw):
        self.env["mail.thread"].message_process(False, raw)
        self.env.invalidate_all()

    def _bounce_notes(self, account=None):
        account = account or self.account
        return account.message_ids.filtered(lambda message: "bounced" in (message.body or ""))

    # ---- PERMANENT FAILURES

    def test_emails_go_out_with_the_company_bounce_address_as_return_path(self):
        _job, received = self._send_emails()
        self.assertEqual(self.env.company.bounce_email, "bounce@acme.example")
        self.assertEqual(
            {message.mail_from for message in received.values()}, {"bounce@acme.example"}
        )

    def test_return_path_is_the_bounce_address_of_the_job_company(self):
        """Not the one of the cron user's company: SPF aligns with the company's own domain."""
        company_b = self.env["res.company"].create({"name": "Company B"})
        company_b.alias_domain_id = self.env["mail.alias.domain"].create(
            {"name": "b.example", "bounce_alias": "bounce", "catchall_alias": "catchall"}
        )
        self.campaign = self.campaign.copy({"name": "B renewals", "company_id": company_b.id})
        list_b = self.env["outbound.list"].create(
            {"name": "B list", "campaign_id": self.campaign.id, "state": "active"}
        )
        self._create_accounts(list_b, 1, email="b{:02d}@example.com")
        self.template = self.template.copy(
            {"campaign_id": self.campaign.id, "company_id": company_b.id}
        )
        with self.smtp_sink() as sink:
            job = self._send("email")
            self._dispatch()
        self.assertEqual(job.company_id, company_b)
        self.assertEqual([message.mail_from for message in sink.messages], ["bounce@b.example"])
