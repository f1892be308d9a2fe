"""Company isolation: a Campaign Manager of company A neither sees nor sends anything of B."""

import contextlib

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .security_common import CSV_TEXT, MatrixCase


@tagged("post_install", "-at_install")
class TestMultiCompanyIsolation(MatrixCase):
    """A Campaign Manager of company A neither sees nor sends anything of company B."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.company_b = env["res.company"].create({"name": "Company B"})
        cls.gateway_b = env["outbound.sms.gateway"].create(
            {
                "name": "B gateway",
                "company_id": cls.company_b.id,
                "api_key": "b-key",
                "api_secret": "b-secret",
                "default_sender": "BCORP",
            }
        )
        cls.campaign_b = env["outbound.campaign"].create(
            {
                "name": "B campaign",
                "company_id": cls.company_b.id,
                "email_from": "b@b.example",
                "mail_server_id": cls.campaign.mail_server_id.id,
                "sms_gateway_id": cls.gateway_b.id,
            }
        )
        cls.list_b = env["outbound.list"].create(
            {"name": "B list", "campaign_id": cls.campaign_b.id, "state": "active"}
        )
        cls.accounts_b = cls._create_accounts(
            cls.list_b, 3, start=900, email="b{}@b.example", sms="07911 2000{:02d}"
        )
        cls.template_b = env["outbound.template"].create(
            {
                "name": "B template",
                "campaign_id": cls.campaign_b.id,
                "subject": "B secret subject",
                "body": "B secret body $ACCOUNT_NAME",
            }
        )
        cls.profile_b = cls.profile.copy({"name": "B profile", "company_id": cls.company_b.id})
        wizard = (
            env["outbound.send.wizard"]
            .with_context(active_model="outbound.campaign", active_id=cls.campaign_b.id)
            .create({"template_id": cls.template_b.id})
        )
        cls.job_b = env["outbound.send.job"].browse(wizard.action_send_email()["res_id"])
        cls.failed_b = cls.job_b.outbound_message_ids[:1]
        cls.failed_b.write({"state": "failed", "failure_reason": "B failure"})
        cls.manager = cls.user_manager
        cls.records_b = {
            "outbound.campaign": cls.campaign_b,
            "outbound.list": cls.list_b,
            "outbound.account": cls.accounts_b[0],
            "outbound.template": cls.template_b,
            "outbound.import.profile": cls.profile_b,
            "outbound.send.job": cls.job_b,
            "outbound.message": cls.failed_b,
            "outbound.sms.gateway": cls.gateway_b,
        }

    @contextlib.contextmanager
    def _incompatible(self):
        with self.assertRaises(UserError) as caught:
            yield
        self.assertIn("Incompatible companies", str(caught.exception))

    def _jobs_of_b(self):
        self.env.invalidate_all()
        jobs = self.env["outbound.send.job"].search([("campaign_id", "=", self.campaign_b.id)])
        return jobs, jobs.outbound_message_ids.mapped("state")

    def test_company_b_is_invisible(self):
        for model, record in self.records_b.items():
            with self.subTest(model=model):
                Model = self.env[model].with_user(self.manager)
                self.assertFalse(Model.search([("id", "=", record.id)]))
                self.assertNotIn(record.id, Model.search([]).ids)
                with self.assertRaises(AccessError):
                    record.with_user(self.manager).read(["display_name"])
        counts = self.campaign.with_user(self.manager).read(["account_count", "job_count"])[0]
        self.assertEqual((counts["account_count"], counts["job_count"]), (4, 1))

    def test_cannot_open_the_send_screen_of_company_b(self):
        """Not even the panel: its counts and sender addresses belong to company B."""
        before = self._jobs_of_b()
        for model, record in (
            ("outbound.campaign", self.campaign_b),
            ("outbound.list", self.list_b),
        ):
            with self.subTest(model=model), self.assertRaises(AccessError):
                self.env["outbound.send.wizard"].with_user(self.manager).with_context(
                    active_model=model, active_id=record.id
                ).create({})
        with self.assertRaises(AccessError):
            self.env["outbound.send.wizard"].with_user(self.manager).create(
                {"campaign_id": self.campaign_b.id, "template_id": self.template_b.id}
            )
        self.assertEqual(self._jobs_of_b(), before)

    def test_cannot_send_company_b_template_to_own_accounts(self):
        counts = self._counts()
        with self.assertRaises(AccessError):
            wizard = (
                self.env["outbound.send.wizard"]
                .with_user(self.manager)
                .with_context(active_model="outbound.campaign", active_id=self.campaign.id)
                .create({"template_id": self.template_b.id})
            )
            wizard.action_send_email()
        self.assertEqual(self._counts(), counts)

    def test_send_screen_never_offers_company_b_template(self):
        """The preselected template is one of the campaign's company, even for a campaign
        without a template of its own: company B's shared templates are no candidates."""
        # The oldest shared template is company B's; company A's own shared one comes later.
        template_b = self.template
        template_b.write({"campaign_id": False, "company_id": self.company_b.id})
        shared_a = self.env["outbound.template"].create(
            {"name": "A shared", "subject": "Hello", "body": "Hello $ACCOUNT_NAME"}
        )
        wizard = (
            self.env["outbound.send.wizard"]
            .with_user(self.manager)
            .with_context(active_model="outbound.campaign", active_id=self.campaign.id)
            .create({})
        )
        self.assertEqual(wizard.template_id, shared_a)
        self.assertIn("Hello A 0", wizard.preview_body)

    def test_cannot_run_company_b_job_buttons(self):
        before = self._jobs_of_b()
        job, failed = self.job_b.with_user(self.manager), self.failed_b.with_user(self.manager)
        for call in (
            job.action_pause,
            job.action_resume,
            job.action_cancel,
            job.action_retry_failed,
            failed.action_retry,
        ):
            with self.subTest(call=call.__name__), self.assertRaises(AccessError):
                call()
        self.assertEqual(self._jobs_of_b(), before)

    def test_cannot_use_company_b_gateway(self):
        """Pointing a company A campaign or job at B's gateway would send on B's account."""
        campaign = self.campaign.with_user(self.manager)
        with self._incompatible():
            campaign.write({"sms_gateway_id": self.gateway_b.id})
        self.assertEqual(self.campaign.sms_gateway_id, self.gateway)
        # A job's gateway is part of its history: refused before the company check.
        with self.assertRaisesRegex(AccessError, "Only the pace"):
            self.job.with_user(self.manager).write({"sms_gateway_id": self.gateway_b.id})
        with self._incompatible(), self.env.cr.savepoint():
            self.job.write({"sms_gateway_id": self.gateway_b.id})  # even as superuser
        values = {
            "campaign_id": self.campaign.id,
            "channel": "sms",
            "template_id": self.template.id,
            "sms_gateway_id": self.gateway_b.id,
        }
        # Jobs are made by the send wizard only: a manager cannot create one at all, and the
        # wizard (which creates it as superuser) still meets the company check.
        with self.assertRaises(AccessError):
            self.env["outbound.send.job"].with_user(self.manager).create(values)
        with self._incompatible(), self.env.cr.savepoint():
            self.env["outbound.send.job"].create(values)
        self.assertFalse(
            self.env["outbound.send.job"].search([("sms_gateway_id", "=", self.gateway_b.id)])
            - self.job_b
        )

    def test_cannot_attach_records_to_company_b(self):
        """A list or template of company A hooked onto B's campaign would appear in B's sends."""
        Template = self.env["outbound.template"].with_user(self.manager)
        # AccessError and ValidationError are UserErrors: any refusal will do.
        with self.assertRaises(UserError):
            Template.create(
                {
                    "name": "Intruder",
                    "campaign_id": self.campaign_b.id,
                    "company_id": self.env.company.id,
                    "body": "x",
                }
            )
        with self.assertRaises(UserError):
            self.template.with_user(self.manager).write({"campaign_id": self.campaign_b.id})
        with self.assertRaises(UserError):
            self.env["outbound.list"].with_user(self.manager).create(
                {
                    "name": "Intruder",
                    "campaign_id": self.campaign_b.id,
                    "company_id": self.env.company.id,
                }
            )
        self.assertEqual(self.campaign_b.template_ids, self.template_b)
        self.assertEqual(self.campaign_b.list_ids, self.list_b)

    def test_cannot_import_across_companies(self):
        counts = self._counts()
        for list_, profile in ((self.list_b, self.profile), (self.list_active, self.profile_b)):
            with (
                self.subTest(list=list_.name, profile=profile.name),
                self.assertRaises(AccessError),
            ):
                self._import(CSV_TEXT, list_, profile=profile, user=self.manager)
        self.assertEqual(self._counts(), counts)
