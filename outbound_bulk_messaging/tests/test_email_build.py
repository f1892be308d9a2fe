"""A job's emails are made from the first one's prototype: byte for byte what Odoo's
``ir.mail_server.build_email`` makes, and every override of the mail server still applies."""

import copy
import io
import re
from email.generator import BytesGenerator
from unittest.mock import patch

from odoo.tests import tagged

from .common import SendingCase

NAMES = ["Zoë Ñandú", "A " + "very " * 20 + "long name", "Plain Name", "Jean-Érick Dupont"]


def serialised(message):
    """What smtplib sends, Message-Id, Date and boundary aside (they are drawn per message)."""
    with io.BytesIO() as stream:
        BytesGenerator(stream).flatten(copy.copy(message), linesep="\r\n")
        raw = stream.getvalue()
    raw = re.sub(rb"(?m)^(Message-Id|Date): [^\r]*", rb"\1: -", raw)
    return re.sub(rb"={15}\d+==", b"BOUNDARY", raw)


@tagged("post_install", "-at_install")
class TestEmailBuild(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.alias_domain_id = cls.env["mail.alias.domain"].create(
            {"name": "acme.example", "bounce_alias": "bounce", "catchall_alias": "catchall"}
        )
        cls.accounts = cls._create_accounts(cls.list_active, 4, email="person{:02d}@example.com")
        for account, name in zip(cls.accounts, NAMES, strict=True):
            account.name = name
        # Not connected to in tests (ir.mail_server.connect); smtp_sink() puts its own.
        cls.campaign.mail_server_id = cls.env["ir.mail_server"].create(
            {"name": "Unused", "smtp_host": "127.0.0.1", "smtp_encryption": "none"}
        )

    def _transport(self, job, reuse_prototypes=True):
        transport = self.env["outbound.dispatcher"]._open_transport(job, {})
        transport.reuse_prototypes = reuse_prototypes
        return transport

    def _assert_made_as_built(self, job):
        dispatcher = self.env["outbound.dispatcher"]
        payloads = dispatcher._load_batch(job, job.outbound_message_ids.ids)
        made, built = self._transport(job), self._transport(job, reuse_prototypes=False)
        for message_id, payload in payloads:
            with self.subTest(message=message_id):
                self.assertEqual(
                    serialised(made._message(payload)), serialised(built._message(payload))
                )
        self.assertEqual(len(payloads), 4)
        # All but the first were made from the prototype; the reference never uses one.
        (factory,) = made.factories.values()
        self.assertIsNotNone(factory)
        self.assertFalse(built.factories)

    def test_text_emails_are_what_build_email_makes(self):
        self._assert_made_as_built(self._send("email"))

    def test_html_emails_with_the_unsubscribe_footer_are_what_build_email_makes(self):
        self.template.write(
            {
                "body_type": "html",
                "body": "<p>Dear <b>$ACCOUNT_NAME</b>, ref $ACCOUNT_REFERENCE</p>",
            }
        )
        self._assert_made_as_built(self._send("email"))

    def test_every_email_carries_its_own_ids_and_the_company_bounce_address(self):
        with self.smtp_sink() as sink:
            job = self._send("email")
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 4})
        received = {message.rcpt_tos[0]: message for message in sink.messages}
        message_ids = set()
        for message in job.outbound_message_ids:
            email = received[message.address]
            url = message._get_unsubscribe_url(message.id)
            token = url.rsplit("/", 1)[1]
            mailto = f"mailto:catchall@acme.example?subject=unsubscribe%20{token}"
            self.assertEqual(email.mail_from, "bounce@acme.example")
            self.assertEqual(dict(email.raw_items())["List-Unsubscribe"], f"<{url}>, <{mailto}>")
            self.assertEqual(email["X-Outbound-Message"], str(message.id))
            self.assertEqual(email["Message-Id"], message.provider_message_id)
            self.assertEqual(email["Subject"], f"Your renewal, {message.account_id.name}")
            message_ids.add(message.provider_message_id)
        self.assertEqual(len(message_ids), 4)

    def test_an_override_of_build_email_makes_every_email(self):
        """A staging server's override sending everything to one mailbox must not be bypassed
        by the prototype: with build_email overridden, every message goes through it."""
        server_class = type(self.env["ir.mail_server"])
        build_email = server_class.build_email
        built = []

        def redirecting_build_email(server, email_from, email_to, *args, **kwargs):
            built.append(email_to)
            return build_email(server, email_from, ["staging@example.com"], *args, **kwargs)

        with (
            self.smtp_sink() as sink,
            patch.object(server_class, "build_email", redirecting_build_email),
        ):
            job = self._send("email")
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 4})
        self.assertEqual(
            sorted(built),
            sorted([address] for address in job.mapped("outbound_message_ids.address")),
        )
        self.assertEqual(
            [message.rcpt_tos for message in sink.messages], [["staging@example.com"]] * 4
        )

    def test_prepare_email_message_and_the_from_filter_apply_to_every_email(self):
        server_class = type(self.env["ir.mail_server"])
        prepare = server_class._prepare_email_message
        prepared = []

        def counting_prepare(server, message, smtp_session):
            prepared.append(message["To"])
            return prepare(server, message, smtp_session)

        with (
            self.smtp_sink() as sink,
            patch.object(server_class, "_prepare_email_message", counting_prepare),
        ):
            # The bounce address does not pass the server's filter: the envelope is the From.
            self.campaign.mail_server_id.from_filter = "renewals@acme.example"
            job = self._send("email")
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 4})
        self.assertEqual(sorted(prepared), sorted(job.mapped("outbound_message_ids.address")))
        self.assertEqual(
            [message.mail_from for message in sink.messages], ["renewals@acme.example"] * 4
        )
