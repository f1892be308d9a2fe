"""The send wizard's test send: the real message of the preview account, to one tester."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import SendingCase


@tagged("post_install", "-at_install")
class TestSendTest(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(
            cls.list_active, 2, email="tested{}@example.com", sms="+44 7911 1250{:02d}"
        )

    def _panel(self, wizard):
        wizard.invalidate_recordset()
        # Every figure of the panel, per channel, the sendable counts included.
        return {name: wizard[name] for name in wizard._fields if name.startswith("count_")}

    def test_email_test_reaches_the_server_and_counts_nothing(self):
        with self.smtp_sink() as sink:
            # The tester is one of the accounts: the resend window must still send to it.
            wizard = self._wizard(test_recipient=" Tested0@Example.com ", resend_period="day")
            self.assertEqual(wizard.preview_account_id, self.accounts[0])
            panel = self._panel(wizard)
            action = wizard.action_send_test()
            self.assertEqual(len(sink.messages), 1)
            test = sink.messages[0]
            self.assertEqual(test.rcpt_tos, ["tested0@example.com"])
            self.assertEqual(test["Subject"], "[TEST] Your renewal, A 0")
            self.assertEqual(test["X-Outbound-Test"], "1")
            self.assertIn("your reference is R00000", test.get_content())
            self.assertEqual(action["params"]["type"], "success")
            self.assertIn("tested0@example.com", action["params"]["message"])
            self.assertFalse(self.env["outbound.message"].search([]))
            self.assertFalse(self.env["outbound.send.job"].search([]))
            self.assertEqual(self._panel(wizard), panel)

            job = self._send("email", resend_period="day")
            self.assertEqual(self._states(job), {"queued": 2})
            self._dispatch()
        self.assertEqual(
            sorted(message.rcpt_tos[0] for message in sink.messages[1:]),
            ["tested0@example.com", "tested1@example.com"],
        )
        self.assertNotIn("[TEST]", sink.messages[1]["Subject"])

    def test_sms_test_reaches_the_gateway_and_counts_nothing(self):
        with self.fake_vonage() as fake:
            wizard = self._wizard(test_recipient="07911 125099")
            action = wizard.action_send_test()
        self.assertEqual(len(fake.requests), 1)
        form = fake.requests[0]["form"]
        self.assertEqual(form["to"], "447911125099")
        self.assertEqual(form["text"], "Dear A 0, your reference is R00000.")
        self.assertEqual(form["client-ref"], "test")
        self.assertIn("+447911125099", action["params"]["message"])
        self.assertFalse(self.env["outbound.message"].search([]))

    def test_unusable_recipients_are_refused_clearly(self):
        with self.smtp_sink(refuse={"nobody@example.com"}) as sink:
            for recipient, expected in (
                ("", "Enter an email address or an SMS number"),
                ("someone@", "someone@"),
                ("12", "12"),
                ("nobody@example.com", "Test to nobody@example.com not sent: .*550"),
            ):
                with self.subTest(recipient=recipient), self.assertRaisesRegex(UserError, expected):
                    self._wizard(test_recipient=recipient).action_send_test()
        self.assertFalse(sink.messages)

    def test_gateway_error_names_the_recipient(self):
        with self.fake_vonage(mode="invalid") as fake:
            wizard = self._wizard(test_recipient="+447911125098")
            with self.assertRaisesRegex(UserError, r"Test to \+447911125098 not sent"):
                wizard.action_send_test()
        self.assertEqual(len(fake.requests), 1)

    def test_only_managers_send_tests(self):
        with self.smtp_sink() as sink:
            wizard = self._wizard(test_recipient="tested0@example.com")
            with self.assertRaisesRegex(AccessError, "Only Campaign Managers"):
                wizard.with_user(self.user_outbound).action_send_test()
            wizard.with_user(self.user_manager).action_send_test()
        self.assertEqual(len(sink.messages), 1)
