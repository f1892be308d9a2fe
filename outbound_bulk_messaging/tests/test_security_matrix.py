"""What each group may read, write, create, delete and run, model by model and button by button.

Four subjects: an internal user without any Outbound group, an Outbound User, a Campaign Manager
and an Outbound Administrator. Every right of :data:`MATRIX` is checked twice: by the ORM's
answer (``has_access``) and by really reading, writing, creating and deleting a record as that
person. Buttons are clicked as each of them, through the ORM and over JSON-RPC like the web
client, and a refused click must leave no job, message or account behind.
"""

import base64
import contextlib
import itertools
import json

from odoo import Command, http
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged, users
from odoo.tools import mute_logger

from .common import SendingCase

SEND_JOB_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_send_job"
SUBJECTS = ("internal", "user", "manager", "admin")
OPERATIONS = {"r": "read", "w": "write", "c": "create", "u": "unlink"}
# The intended policy (README "Security"), not a copy of the CSV: Users read, Campaign Managers
# edit what a campaign is made of and send, Administrators configure gateways and statuses and
# may delete jobs and messages (the audit trail of what was sent).
MATRIX = {
    "outbound.campaign": {"internal": "", "user": "r", "manager": "rwcu", "admin": "rwcu"},
    "outbound.list": {"internal": "", "user": "r", "manager": "rwcu", "admin": "rwcu"},
    "outbound.account": {"internal": "", "user": "r", "manager": "rwcu", "admin": "rwcu"},
    "outbound.account.status": {"internal": "", "user": "r", "manager": "r", "admin": "rw"},
    "outbound.import.profile": {"internal": "", "user": "r", "manager": "rwcu", "admin": "rwcu"},
    "outbound.account.import": {"internal": "", "user": "", "manager": "rwcu", "admin": "rwcu"},
    "outbound.template": {"internal": "", "user": "r", "manager": "rwcu", "admin": "rwcu"},
    "outbound.send.job": {"internal": "", "user": "r", "manager": "rwc", "admin": "rwcu"},
    "outbound.message": {"internal": "", "user": "r", "manager": "r", "admin": "ru"},
    "outbound.sms.gateway": {"internal": "", "user": "r", "manager": "r", "admin": "rwcu"},
    # Users may open the send screen to look at the panel; its Send buttons refuse them.
    "outbound.send.wizard": {"internal": "", "user": "rwc", "manager": "rwc", "admin": "rwc"},
}
TRANSIENT = {"outbound.send.wizard", "outbound.account.import"}
CSV_TEXT = "reference,name,status,email,mobile\nM1,Matrix,unused,,\n"
CSV_FILE = base64.b64encode(CSV_TEXT.encode())


class MatrixCase(SendingCase):
    """Subjects, and one record of every model: a job with messages, one of them failed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_internal = new_test_user(cls.env, "ob_internal", groups="base.group_user")
        cls.subjects = {
            "internal": cls.user_internal,
            "user": cls.user_outbound,
            "manager": cls.user_manager,
            "admin": cls.user_admin,
        }
        cls.accounts = cls._create_accounts(
            cls.list_active, 4, email="matrix{}@example.com", sms="07911 1000{:02d}"
        )
        cls.campaign.mail_server_id = cls.env["ir.mail_server"].create(
            {"name": "Never used", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )
        cls.gateway = cls.env["outbound.sms.gateway"].create(
            {"name": "Matrix gateway", "api_key": "k", "api_secret": "s", "default_sender": "ACME"}
        )
        cls.campaign.sms_gateway_id = cls.gateway
        cls.job = cls._create_job()
        cls.failed = cls.job.outbound_message_ids[:1]
        cls.failed.write({"state": "failed", "failure_reason": "mailbox full"})

    @classmethod
    def _create_job(cls, channel="email"):
        wizard = (
            cls.env["outbound.send.wizard"]
            .with_context(active_model="outbound.campaign", active_id=cls.campaign.id)
            .create({"template_id": cls.template.id})
        )
        action = wizard.action_send_email() if channel == "email" else wizard.action_send_sms()
        return cls.env["outbound.send.job"].browse(action["res_id"])

    def _as(self, subject, records):
        return records.with_user(self.subjects[subject])

    def _counts(self):
        """What a refused click must not change: jobs, messages, accounts."""
        self.env.invalidate_all()
        return {
            model: self.env[model].search_count([])
            for model in ("outbound.send.job", "outbound.message", "outbound.account")
        }


@tagged("post_install", "-at_install")
class TestAccessMatrix(MatrixCase):
    """``MATRIX`` against the ORM's answers and against real reads, writes, creates, deletes."""

    _serial = itertools.count()

    def _create_vals(self, model):
        campaign, template = self.campaign, self.template
        return {
            "outbound.campaign": {"name": "Matrix campaign"},
            "outbound.list": {"name": "Matrix list", "campaign_id": campaign.id},
            "outbound.account": {
                "list_id": self.list_active.id,
                "reference": f"MATRIX{next(self._serial)}",
            },
            "outbound.account.status": {"code": "unused", "name": "Again"},
            "outbound.import.profile": {"name": "Matrix profile"},
            "outbound.account.import": {
                "list_id": self.list_active.id,
                "profile_id": self.profile.id,
                "file": CSV_FILE,
                "filename": "matrix.csv",
            },
            "outbound.template": {
                "name": "Matrix template",
                "campaign_id": campaign.id,
                "subject": "Hi",
                "body": "Hello $ACCOUNT_NAME",
            },
            "outbound.send.job": {
                "campaign_id": campaign.id,
                "channel": "email",
                "template_id": template.id,
            },
            "outbound.message": {"job_id": self.job.id, "channel": "email", "address": "x@y.z"},
            "outbound.sms.gateway": {"name": "Matrix gateway 2", "api_key": "k2"},
            "outbound.send.wizard": {"campaign_id": campaign.id, "template_id": template.id},
        }[model]

    # A harmless change per model, and the value read back to see whether it happened.
    WRITES = {
        "outbound.campaign": ("description", "changed"),
        "outbound.list": ("name", "Renamed list"),
        "outbound.account": ("name", "Renamed account"),
        "outbound.account.status": ("name", "Fresh"),
        "outbound.import.profile": ("delimiter", ";"),
        "outbound.account.import": ("filename", "renamed.csv"),
        "outbound.template": ("name", "Renamed template"),
        "outbound.send.job": ("batch_size", 7),
        "outbound.message": ("failure_reason", "rewritten"),
        "outbound.sms.gateway": ("default_sender", "OTHER"),
        "outbound.send.wizard": ("batch_size", 7),
    }

    def _victim(self, model, subject):
        """A record for ``subject`` to act on; a wizard belongs to whoever opened it."""
        if model == "outbound.account.status":
            return self.env.ref("outbound_bulk_messaging.account_status_callback")
        if model == "outbound.message":
            return self.job.outbound_message_ids[-1]
        env = self.env
        if model in TRANSIENT:
            env = self.env(user=self.subjects[subject], su=True)
        return env[model].create(self._create_vals(model))

    def _check_model(self, model):
        for subject in SUBJECTS:
            expected = MATRIX[model][subject]
            for letter, operation in OPERATIONS.items():
                allowed = letter in expected
                with self.subTest(model=model, subject=subject, operation=operation):
                    answer = self.env[model].with_user(self.subjects[subject]).has_access(operation)
                    self.assertEqual(answer, allowed, "has_access() disagrees with the policy")
                    getattr(self, f"_try_{operation}")(model, subject, allowed)

    def _try_read(self, model, subject, allowed):
        record = self._as(subject, self._victim(model, subject))
        if allowed:
            self.assertEqual(record.read(["display_name"])[0]["id"], record.id)
            self.assertIn(record, record.search([("id", "=", record.id)]))
        else:
            with self.assertRaises(AccessError):
                record.read(["display_name"])
            with self.assertRaises(AccessError):
                record.search([("id", "=", record.id)])

    def _try_write(self, model, subject, allowed):
        victim = self._victim(model, subject)
        field, value = self.WRITES[model]
        before = victim[field]
        if allowed:
            self._as(subject, victim).write({field: value})
            self.assertEqual(victim.sudo()[field], value)
        else:
            with self.assertRaises(AccessError):
                self._as(subject, victim).write({field: value})
            victim.invalidate_recordset()
            self.assertEqual(victim.sudo()[field], before)

    def _try_create(self, model, subject, allowed):
        Model = self.env[model].with_user(self.subjects[subject])
        count = self.env[model].sudo().search_count([])
        if allowed:
            record = Model.with_context(
                active_model="outbound.campaign", active_id=self.campaign.id
            ).create(self._create_vals(model))
            self.assertTrue(record.sudo().exists())
        else:
            with self.assertRaises(AccessError):
                Model.create(self._create_vals(model))
            self.assertEqual(self.env[model].sudo().search_count([]), count)

    def _try_unlink(self, model, subject, allowed):
        victim = self._victim(model, subject)
        if allowed:
            self._as(subject, victim).unlink()
            self.assertFalse(victim.exists())
        else:
            with self.assertRaises(AccessError):
                self._as(subject, victim).unlink()
            self.assertTrue(victim.exists())

    def test_matrix_covers_every_model_of_the_addon(self):
        data = self.env["ir.model.data"].search(
            [("module", "=", "outbound_bulk_messaging"), ("model", "=", "ir.model")]
        )
        models = self.env["ir.model"].browse(data.mapped("res_id"))
        self.assertEqual(set(models.mapped("model")), set(MATRIX))

    def test_campaign(self):
        self._check_model("outbound.campaign")

    def test_list(self):
        self._check_model("outbound.list")

    def test_account(self):
        self._check_model("outbound.account")

    def test_account_status(self):
        self._check_model("outbound.account.status")

    def test_import_profile(self):
        self._check_model("outbound.import.profile")

    def test_account_import_wizard(self):
        self._check_model("outbound.account.import")

    def test_template(self):
        self._check_model("outbound.template")

    def test_send_job(self):
        self._check_model("outbound.send.job")

    def test_message(self):
        self._check_model("outbound.message")

    def test_sms_gateway(self):
        self._check_model("outbound.sms.gateway")

    def test_send_wizard(self):
        self._check_model("outbound.send.wizard")

    def test_wizards_of_another_company_are_out_of_reach(self):
        """Wizards are shared within a company, never across: an import wizard holds the
        uploaded file (names, addresses, numbers), a send wizard counts a campaign."""
        company_b = self.env["res.company"].create({"name": "Company B"})
        manager_b = new_test_user(
            self.env,
            "ob_manager_b",
            groups="outbound_bulk_messaging.group_outbound_manager",
            company_id=company_b.id,
            company_ids=[Command.set(company_b.ids)],
        )
        imports = self.env["outbound.account.import"].with_user(self.user_manager)
        upload = imports.create(
            {"list_id": self.list_active.id, "profile_id": self.profile.id, "file": CSV_FILE}
        )
        send = (
            self.env["outbound.send.wizard"]
            .with_user(self.user_manager)
            .create({"campaign_id": self.campaign.id, "template_id": self.template.id})
        )
        attachment = self.env["ir.attachment"].search(
            [
                ("res_model", "=", upload._name),
                ("res_id", "=", upload.id),
                ("res_field", "=", "file"),
            ]
        )
        self.assertEqual(base64.b64decode(attachment.datas), CSV_TEXT.encode())
        counts = self._counts()
        for record, fields in ((upload, ["file", "filename"]), (send, ["count_accounts"])):
            with self.subTest(model=record._name):
                self.assertFalse(record.with_user(manager_b).search([("id", "=", record.id)]))
                with self.assertRaises(AccessError):
                    record.with_user(manager_b).read(fields)
        with self.assertRaises(AccessError):
            attachment.with_user(manager_b).read(["datas"])
        with self.assertRaises(AccessError):
            upload.with_user(manager_b).action_import()
        with self.assertRaises(AccessError):
            send.with_user(manager_b).action_send_email()
        self.assertEqual(self._counts(), counts)


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
            for method in ("action_send_email", "action_send_sms"):
                counts = self._counts()
                wizard = self.env(user=self.subjects[subject], su=True)["outbound.send.wizard"]
                wizard = wizard.create(
                    {"campaign_id": self.campaign.id, "template_id": self.template.id}
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
                failed.action_retry,
            ):
                self._refused(subject, call)
                self.assertEqual(self._job_state(), before, f"{subject}: {call.__name__}")
        self.job.action_pause()
        self._refused("user", self._as("user", self.job).action_resume)
        self.assertEqual(self.job.state, "paused")

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
            (self.campaign, "action_open_send_wizard", "outbound.send.wizard"),
            (self.list_active, "action_view_accounts", "outbound.account"),
            (self.list_active, "action_import_accounts", "outbound.account.import"),
            (self.list_active, "action_open_send_wizard", "outbound.send.wizard"),
            (self.job, "action_view_messages", "outbound.message"),
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
        with self._incompatible():
            self.env["outbound.send.job"].with_user(self.manager).create(
                {
                    "campaign_id": self.campaign.id,
                    "channel": "sms",
                    "template_id": self.template.id,
                    "sms_gateway_id": self.gateway_b.id,
                }
            )
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


@tagged("post_install", "-at_install")
class TestRpcAccess(MatrixCase, HttpCase):
    """The buttons over JSON-RPC, as the web client calls them, with a real session."""

    def _rpc(self, model, method, args, kwargs=None, route="call_kw"):
        """POST to /web/dataset/<route>; return (result, error) as the web client gets them."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }
        with mute_logger("odoo.http"):  # a refused call is logged as a warning, on purpose
            response = self.url_open(
                f"/web/dataset/{route}/{model}/{method}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
        self.assertEqual(response.status_code, 200)
        body = response.json()
        return body.get("result"), body.get("error")

    def _rpc_refused(self, *args, error="odoo.exceptions.AccessError", **kwargs):
        result, failure = self._rpc(*args, **kwargs)
        self.assertIsNone(result)
        self.assertIsNotNone(failure, f"{args[:2]} was not refused")
        self.assertEqual(failure["data"]["name"], error, failure["data"]["message"])
        return failure["data"]["message"]

    def _open_wizard(self):
        """The send screen saved over RPC, as the web client does before a button runs."""
        context = {"active_model": "outbound.campaign", "active_id": self.campaign.id}
        saved, failure = self._rpc(
            "outbound.send.wizard",
            "web_save",
            [[], {"template_id": self.template.id}],
            {"specification": {"count_accounts": {}}, "context": context},
        )
        self.assertIsNone(failure)
        return saved[0]["id"], saved[0]["count_accounts"]

    def test_user_cannot_send_over_rpc(self):
        self.authenticate("ob_user", "ob_userx")
        wizard_id, count = self._open_wizard()
        self.assertEqual(count, 4)
        counts = self._counts()
        for method in ("action_send_email", "action_send_sms"):
            for route in ("call_kw", "call_button"):
                with self.subTest(method=method, route=route):
                    message = self._rpc_refused(
                        "outbound.send.wizard", method, [[wizard_id]], route=route
                    )
                    self.assertIn("Only Campaign Managers", message)
        self.assertEqual(self._counts(), counts)

    def test_internal_user_cannot_open_or_send_over_rpc(self):
        self.authenticate("ob_internal", "ob_internal")
        wizard = self.env(user=self.user_internal, su=True)["outbound.send.wizard"].create(
            {"campaign_id": self.campaign.id, "template_id": self.template.id}
        )
        counts = self._counts()
        self._rpc_refused(
            "outbound.send.wizard",
            "create",
            [{"campaign_id": self.campaign.id}],
        )
        self._rpc_refused("outbound.send.wizard", "action_send_email", [[wizard.id]])
        self._rpc_refused("outbound.campaign", "search_read", [[], ["name"]])
        self.assertEqual(self._counts(), counts)

    def test_user_cannot_run_job_buttons_over_rpc(self):
        self.authenticate("ob_user", "ob_userx")
        before = (self.job.state, self.failed.state)
        for model, method, args in (
            ("outbound.send.job", "action_pause", [[self.job.id]]),
            ("outbound.send.job", "action_cancel", [[self.job.id]]),
            ("outbound.send.job", "action_retry_failed", [[self.job.id]]),
            ("outbound.send.job", "write", [[self.job.id], {"state": "cancelled"}]),
            ("outbound.message", "action_retry", [[self.failed.id]]),
            ("outbound.message", "write", [[self.failed.id], {"state": "sent"}]),
            ("outbound.campaign", "write", [[self.campaign.id], {"sms_gateway_id": False}]),
        ):
            with self.subTest(method=f"{model}.{method}"):
                self._rpc_refused(model, method, args)
        self.env.invalidate_all()
        self.assertEqual((self.job.state, self.failed.state), before)
        self.assertEqual(self.campaign.sms_gateway_id, self.gateway)

    def test_user_cannot_import_or_test_gateway_over_rpc(self):
        self.authenticate("ob_user", "ob_userx")
        counts = self._counts()
        vals = {"list_id": self.list_active.id, "profile_id": self.profile.id}
        self._rpc_refused("outbound.account.import", "create", [dict(vals, file=CSV_FILE.decode())])
        message = self._rpc_refused(
            "outbound.sms.gateway",
            "action_send_test_sms",
            [[self.gateway.id]],
            error="odoo.exceptions.UserError",
        )
        self.assertIn("Only Outbound administrators", message)
        self.assertEqual(self._counts(), counts)

    def test_private_methods_are_not_callable(self):
        self.authenticate("ob_manager", "ob_manager")
        for model, method, args in (
            ("outbound.send.job", "_cron_dispatch", []),
            ("outbound.send.job", "_create_messages", [[self.job.id]]),
            ("outbound.send.wizard", "_action_send", [[], "email"]),
            ("outbound.sms.gateway", "_get_adapter", [[self.gateway.id]]),
            ("outbound.send.job", "init", []),
        ):
            with self.subTest(method=method):
                message = self._rpc_refused(model, method, args)
                self.assertIn("Private methods", message)

    def test_manager_sends_over_rpc(self):
        """The refusals above are the policy, not a broken route: a manager's click works."""
        self.authenticate("ob_manager", "ob_manager")
        wizard_id, _count = self._open_wizard()
        action, failure = self._rpc(
            "outbound.send.wizard", "action_send_email", [[wizard_id]], route="call_button"
        )
        self.assertIsNone(failure)
        job = self.env["outbound.send.job"].browse(action["res_id"])
        self.assertEqual((job.user_id, job.count_queued), (self.user_manager, 4))


# Admin-only fields of the gateway, with values unlikely to appear anywhere by chance.
SECRET_VALUES = {
    "api_key": "KEY-5f1c0de",
    "api_secret": "SECRET-9b2e77",
    "signature_secret": "SIGN-77aa31",
    "test_number": "+447700900777",
    "rest_host": "secret-host.invalid:8443",
    "ca_file": "/secret/ca-bundle-8d1.pem",
}
ADMIN_ONLY = (*SECRET_VALUES, "signature_method", "timeout")


class SecretsCase(MatrixCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateway.write(dict(SECRET_VALUES, signature_method="sha256", timeout=7))
        cls.user_manager.groups_id += cls.env.ref("base.group_allow_export")
        cls.user_outbound.groups_id += cls.env.ref("base.group_allow_export")

    def assertNoSecret(self, payload):
        """Nothing in ``payload`` (any JSON-able value or text) holds a secret's value."""
        text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
        for field, value in SECRET_VALUES.items():
            self.assertNotIn(value, text, f"the value of {field} leaked")


@tagged("post_install", "-at_install")
class TestGatewaySecrets(SecretsCase):
    """Gateway secrets through the ORM calls the web client makes, as Manager and as User."""

    @users("ob_manager", "ob_user")
    def test_read_omits_secrets_and_refuses_them_by_name(self):
        gateway = self.gateway.with_env(self.env)
        values = gateway.read()[0]
        self.assertEqual(values["name"], "Matrix gateway")
        self.assertFalse(set(ADMIN_ONLY) & set(values))
        self.assertNoSecret(values)
        self.assertNoSecret(gateway.search_read([], []))
        for field in ADMIN_ONLY:
            with self.subTest(field=field):
                with self.assertRaises(AccessError):
                    gateway.read([field])
                with self.assertRaises(AccessError):
                    getattr(gateway, field)
                with self.assertRaises(AccessError):
                    gateway.search_read([], ["name", field])
                with self.assertRaises(AccessError):
                    gateway.web_search_read([], {"name": {}, field: {}})
                with self.assertRaises(AccessError):
                    gateway.web_read({field: {}})

    @users("ob_manager", "ob_user")
    def test_secrets_cannot_be_searched_sorted_or_grouped(self):
        """A domain on a secret is an oracle: ``=like 'K%'`` reveals it letter by letter."""
        Gateway = self.env["outbound.sms.gateway"]
        for field, value in SECRET_VALUES.items():
            with self.subTest(field=field):
                for domain in ([(field, "=", value)], [(field, "=like", value[:1] + "%")]):
                    with self.assertRaises(AccessError):
                        Gateway.search(domain)
                    with self.assertRaises(AccessError):
                        Gateway.search_count(domain)
                with self.assertRaises(AccessError):
                    Gateway.search([], order=field)
                with self.assertRaises(AccessError):
                    Gateway.read_group([], [f"{field}:count_distinct"], [])
                with self.assertRaises(AccessError):
                    Gateway.web_read_group([], ["__count"], [field])
                # Through a relation: campaigns and jobs filtered on their gateway's secret.
                for model in ("outbound.campaign", "outbound.send.job"):
                    with self.assertRaises(AccessError):
                        self.env[model].search([(f"sms_gateway_id.{field}", "=like", "%")])
        self.assertEqual(Gateway.name_search(SECRET_VALUES["api_key"]), [])

    @users("ob_manager", "ob_user")
    def test_export_refuses_secrets(self):
        gateway = self.gateway.with_env(self.env)
        self.assertEqual(
            gateway.export_data(["name", "default_sender"])["datas"], [["Matrix gateway", "ACME"]]
        )
        for field in ADMIN_ONLY:
            with self.subTest(field=field):
                with self.assertRaises(AccessError):
                    gateway.export_data(["name", field])
                with self.assertRaises(AccessError):
                    self.campaign.with_env(self.env).export_data([f"sms_gateway_id/{field}"])

    @users("ob_manager", "ob_user")
    def test_field_descriptions_and_views_hide_secrets(self):
        Gateway = self.env["outbound.sms.gateway"]
        self.assertFalse(set(ADMIN_ONLY) & set(Gateway.fields_get()))
        self.assertEqual(Gateway.fields_get(["api_key", "api_secret"]), {})
        self.assertIn("default_sender", Gateway.fields_get())
        views = Gateway.get_views([(False, "form"), (False, "list"), (False, "search")])
        for view_type, view in views["views"].items():
            with self.subTest(view=view_type):
                for field in ADMIN_ONLY:
                    self.assertNotIn(f'name="{field}"', view["arch"])
        self.assertIn('name="default_sender"', views["views"]["form"]["arch"])
        self.assertNotIn("action_send_test_sms", views["views"]["form"]["arch"])
        for model, description in views["models"].items():
            if model == "outbound.sms.gateway":
                self.assertFalse(set(ADMIN_ONLY) & set(description["fields"]))

    @users("ob_manager", "ob_user")
    def test_campaign_and_job_do_not_leak_their_gateway_secrets(self):
        campaign, job = self.campaign.with_env(self.env), self.job.with_env(self.env)
        job.sudo().sms_gateway_id = self.gateway
        for record in (campaign, job):
            with self.subTest(model=record._name):
                self.assertNoSecret(record.read())
                spec = {"sms_gateway_id": {"fields": {"display_name": {}, "default_sender": {}}}}
                values = record.web_read(spec)[0]
                self.assertEqual(values["sms_gateway_id"]["display_name"], "Matrix gateway")
                self.assertNoSecret(values)
                for field in ADMIN_ONLY:
                    with self.assertRaises(AccessError):
                        record.web_read({"sms_gateway_id": {"fields": {field: {}}}})
                    with self.assertRaises(AccessError):
                        getattr(record.sms_gateway_id, field)
        form = self.env["outbound.campaign"].get_views([(False, "form")])
        self.assertNoSecret(form)

    @users("ob_manager", "ob_user")
    def test_onchange_does_not_leak_secrets(self):
        """The web client's form onchange on a gateway, with a specification naming secrets."""
        gateway = self.gateway.with_env(self.env)
        spec = {"name": {}, "api_key": {}, "api_secret": {}, "rest_host": {}}
        try:
            result = gateway.onchange({"name": "Renamed"}, ["name"], spec)
        except AccessError:
            return
        self.assertNoSecret(result)

    @users("ob_admin")
    def test_admins_read_and_search_secrets(self):
        gateway = self.gateway.with_env(self.env)
        values = gateway.read(list(ADMIN_ONLY))[0]
        self.assertEqual({field: values[field] for field in SECRET_VALUES}, SECRET_VALUES)
        self.assertEqual(gateway.search([("api_key", "=", SECRET_VALUES["api_key"])]), gateway)
        self.assertIn("api_secret", gateway.fields_get())
        arch = gateway.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="api_secret"', arch)

    def test_failure_reasons_do_not_carry_credentials(self):
        """What the provider answers ends up in texts every User reads: no key or secret."""
        self.template.body_type = "text"
        with self.fake_vonage(reject_with_401=True) as fake:
            self.gateway.write({"api_key": SECRET_VALUES["api_key"], "api_secret": "wrong"})
            fake.api_secret = "right"
            job = self._create_job("sms")
            with mute_logger("vonage", SEND_JOB_LOGGER):  # the pause is logged as a warning
                self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertTrue(fake.requests)
        job = job.with_user(self.user_outbound)
        texts = [job.state_reason, *job.outbound_message_ids.mapped("failure_reason")]
        texts += job.message_ids.mapped("body")
        self.assertIn("401", job.state_reason)
        for text in filter(None, texts):
            self.assertNotIn(SECRET_VALUES["api_key"], text)
            self.assertNotIn("wrong", text)


@tagged("post_install", "-at_install")
class TestGatewaySecretsRpc(SecretsCase, HttpCase):
    """The same secrets through the web client's routes, with a Campaign Manager's session."""

    def setUp(self):
        super().setUp()
        self.authenticate("ob_manager", "ob_manager")

    def _call(self, model, method, args, kwargs=None):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }
        with mute_logger("odoo.http"):
            response = self.url_open(
                f"/web/dataset/call_kw/{model}/{method}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
        self.assertEqual(response.status_code, 200)
        return response.json()

    def test_rpc_read_and_search(self):
        gateway_id = self.gateway.id
        body = self._call("outbound.sms.gateway", "read", [[gateway_id]])
        self.assertEqual(body["result"][0]["name"], "Matrix gateway")
        self.assertNoSecret(body)
        for method, args, kwargs in (
            ("read", [[gateway_id], ["api_secret"]], {}),
            ("web_read", [[gateway_id]], {"specification": {"api_key": {}}}),
            ("web_search_read", [], {"domain": [], "specification": {"test_number": {}}}),
            ("search_read", [[("api_key", "=like", "K%")], ["name"]], {}),
            ("export_data", [[gateway_id], ["api_secret"]], {}),
        ):
            with self.subTest(method=method):
                body = self._call("outbound.sms.gateway", method, args, kwargs)
                self.assertNotIn("result", body)
                self.assertEqual(body["error"]["data"]["name"], "odoo.exceptions.AccessError")
                self.assertNoSecret(body)

    def test_export_route_and_content_route(self):
        data = {
            "model": "outbound.sms.gateway",
            "fields": [{"name": "name", "label": "Name"}, {"name": "api_key", "label": "Key"}],
            "ids": [self.gateway.id],
            "domain": [],
            "import_compat": False,
        }
        with mute_logger("odoo.http", "odoo.addons.web.controllers.export"):
            response = self.url_open(
                "/web/export/csv",
                data={"data": json.dumps(data), "csrf_token": http.Request.csrf_token(self)},
            )
        self.assertEqual(response.status_code, 500)
        self.assertIn("odoo.exceptions.AccessError", response.text)
        self.assertNoSecret(response.text)
        data["fields"].pop()
        response = self.url_open(
            "/web/export/csv",
            data={"data": json.dumps(data), "csrf_token": http.Request.csrf_token(self)},
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("Matrix gateway", response.text)
        for field in ("api_key", "api_secret", "ca_file"):
            with self.subTest(field=field), mute_logger("odoo.http"):
                response = self.url_open(
                    f"/web/content/outbound.sms.gateway/{self.gateway.id}/{field}"
                )
                self.assertNotEqual(response.status_code, 200)
                self.assertNoSecret(response.text)
        fields = self.make_jsonrpc_request(
            "/web/export/get_fields",
            {"model": "outbound.sms.gateway", "domain": [], "import_compat": False},
        )
        names = {field["id"] for field in fields}
        self.assertIn("default_sender", names)
        self.assertFalse(set(ADMIN_ONLY) & names)
