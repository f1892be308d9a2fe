"""Shared setup of the security tests: four subjects, one record of every model, secrets.

Four subjects: an internal user without any Outbound group, an Outbound User, a Campaign Manager
and an Outbound Administrator. Not a test module: the ``test_security_*`` modules import it.
"""

import base64
import json

from odoo.tests import new_test_user

from .common import SendingCase

SUBJECTS = ("internal", "user", "manager", "admin")
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
