"""Every button, clicked through the ORM by each group; a refused click leaves no job,
message or account behind."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .security_common import CSV_FILE, CSV_TEXT, SUBJECTS, MatrixCase


@tagged("post_install", "-at_install")
class TestButtonsPerGroup(MatrixCase):
    """Every button, clicked through the ORM by each subject."""

    def _refused(self, subject, call, exception=AccessError):
        with self.subTest(subject=subject), self.assertRaises(exception) as caught:
            call()
        return str(caught.exception)

    # ---- SEND WIZARD

    def test_send_buttons_only_for_managers(self):
        for subject in ("internal", "user"):
            for method in ("action_send_email", "action_send_sms", "action_send_test"):
                counts = self._counts()
                wizard = self.env(user=self.subjects[subject], su=True)["outbound.send.wizard"]
                wizard = wizard.create(
                    {
                        "campaign_id": self.campaign.id,
                        "template_id": self.template.id,
                        "test_recipient": "matrix0@example.com",
                    }
                ).with_user(self.subjects[subject])
                message = self._refused(subject, getattr(wizard, method))
                self.assertEqual(self._counts(), counts, f"{subject} {method} left records")
                if subject == "user":
                    self.assertIn("Only Campaign Managers", message)
        for subject in ("manager", "admin"):
            with self.subTest(subject=subject):
                env = self.env(user=self.subjects[subject])
                wizard = env["outbound.send.wizard"].with_context(
                    active_model="outbound.campaign", active_id=self.campaign.id
                )
                for method in ("action_send_email", "action_send_sms"):
                    action = getattr(wizard.create({"template_id": self.template.id}), method)()
                    job = env["outbound.send.job"].browse(action["res_id"])
                    self.assertEqual(job.user_id, self.subjects[subject])
                    self.assertEqual(job.count_queued, 4, method)

    def test_users_open_the_send_screen_read_only(self):
        """A User may open the send screen and read its panel: it shows what they may read."""
        wizard = (
            self.env["outbound.send.wizard"]
            .with_user(self.user_outbound)
            .with_context(active_model="outbound.list", active_id=self.list_active.id)
            .create({})
        )
        self.assertEqual(wizard.template_id, self.template)
        self.assertEqual((wizard.count_accounts, wizard.count_with_email), (4, 4))
        action = wizard.action_edit_templates()
        self.assertEqual(action["res_model"], "outbound.template")

    # ---- SEND JOB AND MESSAGES

    def _job_state(self):
        self.env.invalidate_all()
        return self.job.state, self.failed.state, self.job.count_queued

    def test_job_buttons_refused_to_users(self):
        before = self._job_state()
        for subject in ("internal", "user"):
            job, failed = self._as(subject, self.job), self._as(subject, self.failed)
            for call in (
                job.action_pause,
                job.action_resume,
                job.action_cancel,
                job.action_retry_failed,
                job.action_approve,
                job.action_reject,
                failed.action_retry,
            ):
                self._refused(subject, call)
                self.assertEqual(self._job_state(), before, f"{subject}: {call.__name__}")
        self.job.action_pause()
        self._refused("user", self._as("user", self.job).action_resume)
        self.assertEqual(self.job.state, "paused")

    def test_approval_buttons_for_managers_other_than_the_sender(self):
        """Approve and Reject: Users are refused (above), the sender too, another manager or
        an administrator decides."""
        self.campaign.require_approval = True
        for reviewer, sender in (("manager", "admin"), ("admin", "manager")):
            with self.subTest(reviewer=reviewer):
                wizard = self.env(user=self.subjects[sender])["outbound.send.wizard"]
                wizard = wizard.with_context(
                    active_model="outbound.campaign", active_id=self.campaign.id
                ).create({"template_id": self.template.id})
                job = self.env["outbound.send.job"].browse(wizard.action_send_email()["res_id"])
                as_sender = self._as(sender, job)
                for call in (as_sender.action_approve, as_sender.action_reject):
                    message = self._refused(sender, call, UserError)
                    self.assertIn("another Campaign Manager must approve", message)
                self.assertEqual(job.state, "to_approve")
                self._as(reviewer, job).action_approve()
                self.assertEqual(job.state, "scheduled")
                self.assertEqual(job.reviewer_id, self.subjects[reviewer])

    def test_job_buttons_for_managers(self):
        for subject in ("manager", "admin"):
            with self.subTest(subject=subject):
                job = self._as(subject, self._create_job())
                job.outbound_message_ids[:2].sudo().write({"state": "failed"})
                job.action_pause()
                self.assertEqual(job.state, "paused")
                self.assertIn(self.subjects[subject].name, job.state_reason)
                job.action_resume()
                self.assertEqual(job.state, "scheduled")
                job.outbound_message_ids[:1].action_retry()
                job.invalidate_recordset()
                self.assertEqual(job.count_failed, 1)
                job.action_retry_failed()
                job.invalidate_recordset()
                self.assertEqual((job.count_failed, job.count_queued), (0, 4))
                job.action_cancel()
                job.invalidate_recordset()
                self.assertEqual((job.state, job.count_skipped), ("cancelled", 4))

    def test_a_jobs_history_cannot_be_rewritten(self):
        """Once sent, only a job's pace may change: not its template, sender, author, state
        or channel, which the screen shows read-only but RPC writes through.
        """
        other = self.template.copy({"name": "Other text"})
        job = self._as("manager", self.job)
        job.write({"batch_size": 50, "batch_interval": 2})
        self.assertEqual((self.job.batch_size, self.job.batch_interval), (50, 2))
        before = self.job.read(["template_id", "email_from", "user_id", "state", "channel"])
        for field, value in (
            ("template_id", other.id),
            ("email_from", "spoofed@example.com"),
            ("user_id", self.user_admin.id),
            ("state", "done"),
            ("start_at", "2020-01-01 00:00:00"),
            ("channel", "sms"),
            ("body", "Another text than was approved"),
            ("subject", "Another subject"),
            ("reviewer_id", self.user_admin.id),
        ):
            with self.subTest(field=field), self.assertRaises(AccessError):
                job.write({field: value})
        self.job.invalidate_recordset()
        self.assertEqual(
            self.job.read(["template_id", "email_from", "user_id", "state", "channel"]), before
        )

    def test_messages_cannot_be_rewritten_through_the_orm(self):
        """No one edits what happened to a message, so a failure cannot be hidden as sent."""
        for subject in SUBJECTS:
            self._refused(
                subject, lambda s=subject: self._as(s, self.failed).write({"state": "sent"})
            )
        self.assertEqual(self.failed.state, "failed")

    # ---- IMPORT

    def test_import_only_for_managers(self):
        for subject in ("internal", "user"):
            counts = self._counts()
            wizard = self.env(user=self.subjects[subject], su=True)["outbound.account.import"]
            wizard = wizard.create(
                {"list_id": self.list_active.id, "profile_id": self.profile.id, "file": CSV_FILE}
            )
            self._refused(subject, self._as(subject, wizard).action_import)
            self._refused(
                subject,
                lambda s=subject: (
                    self.env["outbound.account.import"]
                    .with_user(self.subjects[s])
                    .create({"list_id": self.list_active.id, "profile_id": self.profile.id})
                ),
            )
            self.assertEqual(self._counts(), counts)
        for subject in ("manager", "admin"):
            with self.subTest(subject=subject):
                self.list_passive.account_ids.unlink()
                wizard = self._import(CSV_TEXT, self.list_passive, user=self.subjects[subject])
                self.assertEqual(wizard.count_created, 1)
                self.assertEqual(self.list_passive.account_ids.name, "Matrix")

    # ---- TEMPLATES AND STATUSES

    def test_template_buttons(self):
        template = self.template
        template.preview_account_id = self.accounts[0]
        for subject in ("internal", "user"):
            self._refused(subject, self._as(subject, template).action_preview_next)
            self.assertEqual(template.preview_account_id, self.accounts[0])
        self._as("manager", template).action_preview_next()
        self.assertEqual(template.preview_account_id, self.accounts[1])
        self.assertIn("R00001", template.with_user(self.user_outbound).preview_text)

    # ---- GATEWAY

    def test_gateway_test_sms_only_for_admins(self):
        with self.fake_vonage() as fake:
            self.gateway.test_number = "+447700900123"
            for subject in ("internal", "user", "manager"):
                message = self._refused(
                    subject, self._as(subject, self.gateway).action_send_test_sms, UserError
                )
                self.assertIn("Only Outbound administrators", message)
            self.assertEqual(fake.requests, [])
            action = self._as("admin", self.gateway).action_send_test_sms()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(len(fake.requests), 1)
        self.assertEqual(fake.requests[0]["form"]["to"], "447700900123")

    # ---- NAVIGATION

    def test_navigation_buttons_stay_within_the_record(self):
        """Smart buttons open actions scoped to the record; internal users cannot follow them."""
        calls = (
            (self.campaign, "action_view_lists", "outbound.list"),
            (self.campaign, "action_view_accounts", "outbound.account"),
            (self.campaign, "action_edit_templates", "outbound.template"),
            (self.campaign, "action_view_jobs", "outbound.send.job"),
            (self.campaign, "action_view_analysis", "outbound.message"),
            (self.campaign, "action_open_send_wizard", "outbound.send.wizard"),
            (self.list_active, "action_view_accounts", "outbound.account"),
            (self.list_active, "action_import_accounts", "outbound.account.import"),
            (self.list_active, "action_open_send_wizard", "outbound.send.wizard"),
            (self.job, "action_view_messages", "outbound.message"),
            (self.job, "action_view_sending_curve", "outbound.message"),
        )
        for subject in SUBJECTS:
            for record, method, model in calls:
                with self.subTest(subject=subject, method=f"{record._name}.{method}"):
                    user = self.subjects[subject]
                    try:
                        action = getattr(record.with_user(user), method)()
                    except AccessError:
                        self.assertEqual(subject, "internal")
                        continue
                    self.assertEqual(action["res_model"], model)
                    Model = self.env[model].with_user(user)
                    if subject == "internal":
                        # The action is only a description: opening it is refused.
                        self.assertFalse(Model.has_access("read"))
                        continue
                    if "domain" in action and Model.has_access("read"):
                        found = Model.search(action["domain"])
                        self.assertTrue(found, method)
                        self.assertEqual(
                            found.mapped("campaign_id") - self.campaign,
                            self.env["outbound.campaign"],
                        )
