from email.utils import make_msgid

from odoo.tests import tagged

from .bounce_mail import make_dsn, make_plain_bounce
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

    def test_permanent_bounce_records_invalidates_notes_and_sets_the_status(self):
        self.campaign.undelivered_status = "callback"
        job, received = self._send_emails()
        address = self.account.email
        diagnostic = f"smtp; 550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        self._bounce(received[address], diagnostic=diagnostic)
        message = self._tracked(job)
        self.assertEqual(
            (message.delivery_status, message.delivery_error, message.delivery_detail),
            ("bounced", "5.1.1", diagnostic),
        )
        self.assertEqual(message.state, "sent")
        self.assertFalse(self.account.email)
        self.assertEqual(self.account.email_error, f"bounced: 5.1.1 {diagnostic} ({address})")
        self.assertEqual(self.account.status, "callback")
        note = self._bounce_notes()
        self.assertEqual(len(note), 1)
        for text in ("Renewals", address, "5.1.1", "User unknown", "later emails skip it"):
            self.assertIn(text, note.body)
        others = job.outbound_message_ids - message
        self.assertFalse(any(others.mapped("delivery_status")))
        self.assertEqual((self.accounts - self.account).mapped("status"), ["unused", "unused"])

    def test_status_is_left_alone_without_an_undelivered_status(self):
        job, received = self._send_emails()
        self._bounce(received[self.account.email])
        self.assertEqual(self._tracked(job).delivery_status, "bounced")
        self.assertEqual(self.account.status, "unused")
        self.assertEqual(len(self._bounce_notes()), 1)

    def test_next_email_job_skips_the_bounced_address_as_invalid(self):
        _job, received = self._send_emails()
        self._bounce(received[self.account.email])
        self.template = self.template.copy({"name": "Second reminder"})  # a new resend window
        with self.smtp_sink() as sink:
            job = self._send("email")
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 2, "skipped": 1})
        skipped = self._tracked(job)
        self.assertEqual(skipped.state, "skipped")
        self.assertIn("invalid email address: bounced: 5.1.1", skipped.failure_reason)
        self.assertEqual(len(sink.messages), 2)

    def test_plain_text_bounce_quoting_the_original_is_recorded(self):
        job, received = self._send_emails()
        address = self.account.email
        text = (
            "Hi. This is the qmail-send program at mx.example.net.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
            f"<{address}>:\nRemote host said: 550 5.1.1 <{address}>... User unknown\n"
        )
        self._process(make_plain_bounce(received[address], self.env.company.bounce_email, text))
        message = self._tracked(job)
        self.assertEqual((message.delivery_status, message.delivery_error), ("bounced", "5.1.1"))
        self.assertEqual(
            message.delivery_detail, f"Remote host said: 550 5.1.1 <{address}>... User unknown"
        )
        self.assertIn("bounced: 5.1.1", self.account.email_error)

    # ---- TRANSIENT FAILURES, REPLAYS, REPORTS ABOUT OTHERS

    def test_transient_bounce_is_recorded_but_keeps_the_address(self):
        self.campaign.undelivered_status = "callback"
        job, received = self._send_emails()
        address = self.account.email
        self._bounce(received[address], status="4.2.2", action="delayed")
        message = self._tracked(job)
        self.assertEqual((message.delivery_status, message.delivery_error), ("bounced", "4.2.2"))
        self.assertEqual((self.account.email, self.account.email_error), (address, False))
        self.assertEqual(self.account.status, "unused")  # the remote server is still trying
        self.assertIn("Not a permanent failure", self._bounce_notes().body)

    def test_transient_failure_then_permanent_one_invalidates(self):
        job, received = self._send_emails()
        self._bounce(received[self.account.email], status="4.4.7")
        self.assertTrue(self.account.email)
        self._bounce(received[self.account.email], status="5.1.1")
        self.assertEqual(self._tracked(job).delivery_error, "5.1.1")
        self.assertFalse(self.account.email)
        self.assertEqual(len(self._bounce_notes()), 2)

    def test_replayed_bounce_is_recorded_once(self):
        self.campaign.undelivered_status = "callback"
        job, received = self._send_emails()
        raw = self._bounce(received[self.account.email])
        self.account.status = "completed"  # someone worked the account since
        self._process(raw)
        self._bounce(received[self.accounts[0].email], status="4.2.2")  # another one, later
        self._process(raw)
        self.assertEqual(len(self._bounce_notes()), 1)
        self.assertEqual(self.account.status, "completed")
        self.assertEqual(self._tracked(job).delivery_error, "5.1.1")
        self.assertEqual(len(self._bounce_notes(self.accounts[0])), 1)

    def test_report_about_another_recipient_only_leaves_a_note(self):
        self.campaign.undelivered_status = "callback"
        job, received = self._send_emails()
        address = self.account.email
        self._bounce(received[address], recipient="forwarded@elsewhere.example")
        message = self._tracked(job)
        self.assertEqual((message.delivery_status, message.delivery_error), ("bounced", "5.1.1"))
        self.assertEqual((self.account.email, self.account.email_error), (address, False))
        self.assertEqual(self.account.status, "unused")
        self.assertIn("forwarded@elsewhere.example", self._bounce_notes().body)

    def test_bounce_after_the_address_was_corrected_keeps_the_new_one(self):
        job, received = self._send_emails()
        old_address = self.account.email
        self.account.email = "corrected@example.com"
        self._bounce(received[old_address])
        self.assertEqual(self._tracked(job).delivery_status, "bounced")
        self.assertEqual(self.account.email, "corrected@example.com")
        self.assertFalse(self.account.email_error)

    def test_bounces_of_two_campaigns_emails_note_each(self):
        first_job, first = self._send_emails()
        self.template = self.template.copy({"name": "Second reminder"})
        second_job, second = self._send_emails()
        address = self.account.email
        self._bounce(first[address])
        self._bounce(second[address])
        self.assertEqual(
            (first_job | second_job)
            .outbound_message_ids.filtered(lambda message: message.account_id == self.account)
            .mapped("delivery_status"),
            ["bounced", "bounced"],
        )
        notes = self._bounce_notes()
        self.assertEqual(len(notes), 2)
        self.assertIn("already invalid", notes[0].body)  # newest first
        self.assertIn(address, self.account.email_error)

    def test_bounce_of_an_email_that_is_not_ours_changes_nothing_of_ours(self):
        partner = self.env["res.partner"].create({"name": "P", "email": "person01@example.com"})
        job, received = self._send_emails()
        stranger = received[self.account.email]
        del stranger["Message-Id"]
        stranger["Message-Id"] = make_msgid(domain="elsewhere.example")
        self._bounce(stranger)
        self.assertFalse(any(job.outbound_message_ids.mapped("delivery_status")))
        self.assertEqual(self.accounts.mapped("email_error"), [False] * 3)
        self.assertFalse(self._bounce_notes())
        # Odoo's own bounce handling still ran.
        self.assertEqual(partner.message_bounce, 1)

    def test_odoo_bounce_handling_still_runs_for_our_emails(self):
        partner = self.env["res.partner"].create({"name": "P", "email": "person01@example.com"})
        _job, received = self._send_emails()
        self._bounce(received[self.account.email])
        self.assertEqual(partner.message_bounce, 1)
