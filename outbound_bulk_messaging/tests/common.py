import base64
import contextlib
import csv
import io
import tempfile
import zipfile
from unittest.mock import patch

from odoo import modules
from odoo.tests import TransactionCase, new_test_user

from .fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from .fakes import FakeVonage, SmtpSink, make_tls_files


class OutboundCase(TransactionCase):
    """Shared setup: one user per Outbound group and a campaign with two lists."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.env.company.country_id = cls.env.ref("base.uk")
        cls.user_outbound = new_test_user(
            cls.env, "ob_user", groups="outbound_bulk_messaging.group_outbound_user"
        )
        cls.user_manager = new_test_user(
            cls.env, "ob_manager", groups="outbound_bulk_messaging.group_outbound_manager"
        )
        cls.user_admin = new_test_user(
            cls.env, "ob_admin", groups="outbound_bulk_messaging.group_outbound_admin"
        )
        cls.campaign = cls.env["outbound.campaign"].create(
            {"name": "Renewals", "email_from": "Acme <renewals@acme.example>"}
        )
        cls.list_active = cls.env["outbound.list"].create(
            {"name": "North", "campaign_id": cls.campaign.id, "state": "active"}
        )
        cls.list_passive = cls.env["outbound.list"].create(
            {"name": "South", "campaign_id": cls.campaign.id, "state": "passive"}
        )
        cls.profile = cls.env["outbound.import.profile"].create(
            {
                "name": "Dialler CSV",
                "reference_column": "reference",
                "name_column": "name",
                "status_column": "status",
                "email_column": "email",
                "sms_column": "mobile",
                "default_country_id": cls.env.ref("base.uk").id,
            }
        )

    @classmethod
    def _create_accounts(cls, outbound_list, count, start=0, email=None, sms=None, **values):
        """``count`` accounts R<start>…; ``email`` / ``sms`` are formats of the account index."""
        vals_list = []
        for index in range(count):
            vals = {"list_id": outbound_list.id, "reference": f"R{start + index:05d}"}
            vals["name"] = f"A {index}"
            if email:
                vals["email"] = email.format(index)
            if sms:
                vals["sms_number"] = sms.format(index)
            vals_list.append(dict(vals, **values))
        return cls.env["outbound.account"].create(vals_list)

    def _import(
        self, content, outbound_list=None, profile=None, filename="accounts.csv", user=None
    ):
        """Run the import wizard as ``user`` and return it (state done)."""
        env = self.env(user=user) if user else self.env
        if isinstance(content, str):
            content = content.encode()
        wizard = env["outbound.account.import"].create(
            {
                "list_id": (outbound_list or self.list_active).id,
                "profile_id": (profile or self.profile).id,
                "file": base64.b64encode(content),
                "filename": filename,
            }
        )
        wizard.action_import()
        return wizard

    def _report_rows(self, wizard):
        """The import report as a list of dicts (BOM stripped, unzipped when large)."""
        raw = wizard.report_attachment_id.raw
        if wizard.report_attachment_id.mimetype == "application/zip":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                raw = archive.read(archive.namelist()[0])
        return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


class SendingCase(OutboundCase):
    """Adds a template, the loopback SMTP sink and the HTTPS fake Vonage as context managers."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.template = cls.env["outbound.template"].create(
            {
                "name": "Reminder",
                "campaign_id": cls.campaign.id,
                "subject": "Your renewal, $ACCOUNT_NAME",
                "body": "Dear $ACCOUNT_NAME, your reference is $ACCOUNT_REFERENCE.",
            }
        )
        cls.statuses_default = cls.env["outbound.account.status"].search(
            [("code", "in", ["unused", "callback"])]
        )

    @contextlib.contextmanager
    def smtp_sink(self, **options):
        """A real SMTP server on loopback, used by the campaign's mail server while it runs."""
        with SmtpSink(**options) as sink, patch.object(modules.module, "current_test", False):
            self.campaign.mail_server_id = self.env["ir.mail_server"].create(
                {
                    "name": "Loopback sink",
                    "smtp_host": sink.host,
                    "smtp_port": sink.port,
                    "smtp_encryption": "none",
                    "smtp_user": options["auth"][0] if options.get("auth") else False,
                    "smtp_pass": options["auth"][1] if options.get("auth") else False,
                }
            )
            yield sink

    @contextlib.contextmanager
    def fake_vonage(self, **options):
        """The HTTPS fake Vonage endpoint with its own CA, and a campaign gateway using it."""
        credentials = {"api_key": "test-key", "api_secret": "test-secret", "default_sender": "ACME"}
        with self._fake_gateway(FakeVonage, "vonage", credentials, options) as fake:
            yield fake

    @contextlib.contextmanager
    def fake_twilio(self, **options):
        """The HTTPS fake Twilio endpoint with its own CA, and a campaign gateway using it."""
        credentials = {
            "api_key": ACCOUNT_SID,
            "api_secret": AUTH_TOKEN,
            "default_sender": "+447700900999",
        }
        with self._fake_gateway(FakeTwilio, "twilio", credentials, options) as fake:
            yield fake

    @contextlib.contextmanager
    def _fake_gateway(self, fake_class, provider, credentials, options):
        with tempfile.TemporaryDirectory() as directory:
            tls_files = make_tls_files(directory)
            with fake_class(tls_files=tls_files, **options) as fake:
                self.gateway = self.env["outbound.sms.gateway"].create(
                    {
                        "name": f"Fake {provider}",
                        "provider": provider,
                        "rest_host": fake.rest_host,
                        "ca_file": fake.ca_file,
                        "timeout": 1,
                        "messages_per_second": 0,
                        **credentials,
                    }
                )
                sender = credentials["default_sender"]
                self.campaign.write({"sms_gateway_id": self.gateway.id, "sms_sender": sender})
                yield fake

    def _wizard(self, record=None, **values):
        record = record or self.campaign
        return (
            self.env["outbound.send.wizard"]
            .with_context(active_model=record._name, active_id=record.id)
            .create(dict({"template_id": self.template.id}, **values))
        )

    def _send(self, channel="email", record=None, **values):
        """Send from a new wizard; the panel's sendable count must be what the job queued."""
        wizard = self._wizard(record, **values)
        sendable = wizard[f"count_sendable_{channel}"]
        action = wizard.action_send_email() if channel == "email" else wizard.action_send_sms()
        job = self.env["outbound.send.job"].browse(action["res_id"])
        self.assertSendableIsQueued(sendable, job)
        return job

    def assertSendableIsQueued(self, sendable, job):
        """The panel said ``sendable`` before ``job`` was created: it must have queued that."""
        self.assertEqual(
            sendable,
            job.count_queued,
            f"the panel counted {sendable} to send, job {job.name} queued {job.count_queued}",
        )

    def _dispatch(self, job=None):
        """Run the dispatch cron once (as the cron does, in the test transaction)."""
        return self.env["outbound.send.job"]._cron_dispatch()

    def _states(self, job):
        groups = job.outbound_message_ids.grouped("state")
        return {state: len(messages) for state, messages in groups.items()}
