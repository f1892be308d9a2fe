"""Four-eyes rule: a campaign's jobs wait until another Campaign Manager approves them."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import SendingCase

MANAGER = "outbound_bulk_messaging.group_outbound_manager"


@tagged("post_install", "-at_install")
class TestApproval(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 3, email="four{}@example.com")
        cls.campaign.require_approval = True
        cls.reviewer = new_test_user(cls.env, "ob_reviewer", groups=MANAGER)
        cls.campaign.mail_server_id = cls.env["ir.mail_server"].create(
            {"name": "Never used", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )

    def _send_as(self, user):
        wizard = (
            self.env(user=user)["outbound.send.wizard"]
            .with_context(active_model="outbound.campaign", active_id=self.campaign.id)
            .create({"template_id": self.template.id})
        )
        return self.env["outbound.send.job"].browse(wizard.action_send_email()["res_id"])

    def _chatter(self, job):
        return "\n".join(job.message_ids.mapped("body"))

    def test_nothing_is_sent_before_another_manager_approves(self):
        with self.smtp_sink() as sink:
            job = self._send_as(self.user_manager)
            self.assertEqual(job.state, "to_approve")
            self.assertEqual(job.count_queued, 3)
            self.assertIn("Waiting for the approval", self._chatter(job))
            self._dispatch()
            self.assertFalse(sink.messages)
            self.assertEqual(job.state, "to_approve")
            # Queued, never claimed: the dispatcher does not touch a job waiting for approval.
            self.assertEqual(self._states(job), {"queued": 3})
            self.assertFalse(any(job.outbound_message_ids.mapped("claimed_at")))
            self.assertEqual(self.env["outbound.send.job"]._count_ready_messages(), 0)

            job.with_user(self.reviewer).action_approve()
            self.assertEqual(job.state, "scheduled")
            self.assertEqual(job.reviewer_id, self.reviewer)
            self.assertTrue(job.reviewed_at)
            self.assertIn(f"Approved by {self.reviewer.name}", self._chatter(job))
            self._dispatch()
        self.assertEqual(job.state, "done")
        self.assertEqual(len(sink.messages), 3)

    def test_the_sender_cannot_approve_or_reject_their_own_job(self):
        for sender in (self.user_manager, self.user_admin):
            job = self._send_as(sender)
            job_as_sender = job.with_user(sender)
            for call in (job_as_sender.action_approve, job_as_sender.action_reject):
                with (
                    self.subTest(sender=sender.login, call=call.__name__),
                    self.assertRaisesRegex(UserError, "another Campaign Manager must"),
                ):
                    call()
            self.assertEqual(job.state, "to_approve")

    def test_a_plain_user_cannot_approve_or_reject(self):
        job = self._send_as(self.user_manager)
        for call in (
            job.with_user(self.user_outbound).action_approve,
            job.with_user(self.user_outbound).action_reject,
        ):
            with self.subTest(call=call.__name__), self.assertRaises(AccessError):
                call()
        self.assertEqual(job.state, "to_approve")

    def test_an_administrator_approves_a_managers_job(self):
        job = self._send_as(self.user_manager)
        job.with_user(self.user_admin).action_approve()
        self.assertEqual((job.state, job.reviewer_id), ("scheduled", self.user_admin))
        with self.assertRaisesRegex(UserError, "not waiting for approval"):
            job.with_user(self.reviewer).action_approve()

    def test_reject_asks_why_and_nothing_is_sent(self):
        job = self._send_as(self.user_manager)
        action = job.with_user(self.reviewer).action_reject()
        self.assertEqual(action["res_model"], "outbound.send.job.reject")
        dialog = (
            self.env["outbound.send.job.reject"]
            .with_user(self.reviewer)
            .with_context(**action["context"])
            .create({"reason": "Wrong list: these accounts paid last week"})
        )
        dialog.action_reject()
        self.assertEqual(job.state, "rejected")
        self.assertEqual(job.reviewer_id, self.reviewer)
        self.assertEqual(job.rejection_reason, "Wrong list: these accounts paid last week")
        self.assertIn(
            f"Rejected by {self.reviewer.name}: Wrong list: these accounts paid last week",
            self._chatter(job),
        )
        self.assertEqual(self._states(job), {"skipped": 3})
        self.assertIn("job rejected: Wrong list", job.outbound_message_ids[0].failure_reason)
        with self.smtp_sink() as sink:
            self._dispatch()
        self.assertFalse(sink.messages)
        with self.assertRaisesRegex(UserError, "not waiting for approval"):
            job.with_user(self.user_admin).action_approve()

    def test_without_the_rule_a_job_is_scheduled_at_once(self):
        self.campaign.require_approval = False
        job = self._send_as(self.user_manager)
        self.assertEqual(job.state, "scheduled")
        with self.assertRaisesRegex(UserError, "not waiting for approval"):
            job.with_user(self.reviewer).action_approve()

    def test_only_administrators_lift_the_rule(self):
        with self.assertRaisesRegex(AccessError, "Only Outbound Administrators"):
            self.campaign.with_user(self.user_manager).require_approval = False
        self.assertTrue(self.campaign.require_approval)
        self.campaign.with_user(self.user_admin).require_approval = False
        self.assertFalse(self.campaign.require_approval)
        self.campaign.with_user(self.user_manager).require_approval = True
        self.assertTrue(self.campaign.require_approval)

    def test_the_job_form_shows_what_will_be_sent(self):
        job = self._send_as(self.user_manager).with_user(self.reviewer)
        self.assertEqual(job.preview_account_id, self.accounts[0])
        self.assertEqual(job.preview_subject, "Your renewal, A 0")
        self.assertIn("your reference is R00000", job.preview_body)
        self.assertEqual(job.subject, "Your renewal, $ACCOUNT_NAME")
