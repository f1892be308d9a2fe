"""What each group may read, write, create and delete, model by model.

Every right of :data:`MATRIX` is checked twice: by the ORM's answer (``has_access``) and by
really reading, writing, creating and deleting a record as each subject.
"""

import base64
import itertools

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .security_common import CSV_FILE, CSV_TEXT, SUBJECTS, MatrixCase

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
    # Jobs are made by the send wizard only, after its checks (it creates them as superuser).
    "outbound.send.job": {"internal": "", "user": "r", "manager": "rw", "admin": "rwu"},
    "outbound.message": {"internal": "", "user": "r", "manager": "r", "admin": "ru"},
    "outbound.sms.gateway": {"internal": "", "user": "r", "manager": "r", "admin": "rwcu"},
    # Texts that came back, recorded by the gateway's webhook only (as superuser).
    "outbound.inbound.sms": {"internal": "", "user": "r", "manager": "r", "admin": "ru"},
    # Prices belong to gateways: administrators set them, everyone sees the estimate's basis.
    "outbound.sms.price": {"internal": "", "user": "r", "manager": "r", "admin": "rwcu"},
    # Users may open the send screen to look at the panel; its Send buttons refuse them.
    "outbound.send.wizard": {"internal": "", "user": "rwc", "manager": "rwc", "admin": "rwc"},
    # The reason asked when a manager rejects a job waiting for approval.
    "outbound.send.job.reject": {"internal": "", "user": "", "manager": "rwc", "admin": "rwc"},
}
TRANSIENT = {"outbound.send.wizard", "outbound.account.import", "outbound.send.job.reject"}


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
            "outbound.inbound.sms": {
                "gateway_id": self.gateway.id,
                "company_id": self.gateway.company_id.id,
                "provider_message_id": f"MATRIX{next(self._serial)}",
                "sender": "+447911123456",
                "text": "Call me",
                "kind": "reply",
                "received_at": "2026-11-27 09:05:11",
            },
            "outbound.sms.price": {
                "gateway_id": self.gateway.id,
                # One price per gateway and country: a new country for every record.
                "country_id": self.env["res.country"]
                .search([], order="id", limit=1, offset=next(self._serial) % 200)
                .id,
                "price": 0.04,
            },
            "outbound.send.wizard": {"campaign_id": campaign.id, "template_id": template.id},
            "outbound.send.job.reject": {"job_ids": [Command.set(self.job.ids)], "reason": "No"},
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
        "outbound.inbound.sms": ("text", "rewritten"),
        "outbound.sms.price": ("price", 0.05),
        "outbound.send.wizard": ("batch_size", 7),
        "outbound.send.job.reject": ("reason", "Changed"),
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
        # Abstract models (the dispatcher) have no table, no records and so no access rights;
        # models only extended here (resource.calendar, res.company) keep the rights of their
        # own module.
        concrete = {
            model
            for model in models.mapped("model")
            if not self.env[model]._abstract
            and self.env[model]._original_module == "outbound_bulk_messaging"
        }
        self.assertEqual(concrete, set(MATRIX))

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

    def test_inbound_sms(self):
        self._check_model("outbound.inbound.sms")

    def test_sms_price(self):
        self._check_model("outbound.sms.price")

    def test_send_wizard(self):
        self._check_model("outbound.send.wizard")

    def test_send_job_reject_wizard(self):
        self._check_model("outbound.send.job.reject")

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
