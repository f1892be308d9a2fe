from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged, users

from .common import OutboundCase


@tagged("post_install", "-at_install")
class TestTemplate(OutboundCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(
            cls.list_active,
            2,
            email="ann@example.com",
            sms_number="07911 123456",
            data={"amount": "12.50", "Due date": "2026-12-24"},
        )
        cls.accounts[0].name = "Ann <b>Smith</b> & Co"

    def _template(self, **values):
        return self.env["outbound.template"].create(
            dict({"name": "Reminder", "campaign_id": self.campaign.id}, **values)
        )

    def test_unknown_placeholder_names_it_and_its_line(self):
        with self.assertRaisesRegex(ValidationError, r"\$ACCOUNT_AMUONT.*line 3"):
            self._template(body="Dear $ACCOUNT_NAME,\n\nYou owe $ACCOUNT_AMUONT.\n")

    def test_imported_columns_are_placeholders(self):
        template = self._template(
            subject="Reminder for $ACCOUNT_NAME",
            body="You owe $ACCOUNT_AMOUNT by $ACCOUNT_DUE_DATE ($$ accepted).",
        )
        rendered = template._render(self.accounts[1])
        self.assertEqual(rendered["subject"], "Reminder for A 1")
        self.assertEqual(rendered["body"], "You owe 12.50 by 2026-12-24 ($ accepted).")
        self.assertEqual(rendered["body_text"], rendered["body"])

    def test_jinja_syntax_error_is_refused(self):
        with self.assertRaisesRegex(ValidationError, "line 2"):
            self._template(body="Hello\n{% if account.name %}no end")

    def test_sandbox_escape_is_refused_when_saved(self):
        for body in (
            "{{ ''.__class__.__mro__ }}",
            "{{ account|attr('__class__') }}",
            "{{ '{0.__class__}'.format(account) }}",
            "{% for i in range(10**9) %}x{% endfor %}",
        ):
            with self.subTest(body=body), self.assertRaises(ValidationError) as error:
                self._template(body=body)
            self.assertNotIn("object at 0x", str(error.exception))

    def test_subject_rejects_line_breaks(self):
        with self.assertRaisesRegex(ValidationError, "subject"):
            self._template(subject="Hello\r\nBcc: victim@example.com", body="x")

    def test_html_body_escapes_account_values_and_gets_a_text_part(self):
        template = self._template(
            body_type="html",
            subject="Hi",
            body="<p>Dear <b>$ACCOUNT_NAME</b>,</p><p>See <a href='https://acme.example'>us</a></p>",
        )
        rendered = template._render(self.accounts[0])
        self.assertIn("Ann &lt;b&gt;Smith&lt;/b&gt; &amp; Co", rendered["body"])
        self.assertIn("Dear Ann <b>Smith</b> & Co,", rendered["body_text"])
        self.assertIn("https://acme.example", rendered["body_text"])
        self.assertFalse(template.use_for_sms)

    def test_only_text_templates_can_be_sms(self):
        with self.assertRaisesRegex(ValidationError, "text templates"):
            self._template(body_type="html", body="<p>x</p>", use_for_sms=True)

    def test_sms_unencodable_or_too_long_is_refused(self):
        with self.assertRaisesRegex(ValidationError, "U\\+0007"):
            self._template(body="Ring\x07 the bell")
        with self.assertRaisesRegex(ValidationError, "segments"):
            self._template(body="x" * 161, sms_max_segments=1)
        template = self._template(body="x" * 161, sms_max_segments=2)
        self.assertTrue(template.use_for_sms)

    def test_preview_shows_first_account_with_address_and_sms_info(self):
        template = self._template(body="Hi $ACCOUNT_NAME, ref $ACCOUNT_REFERENCE: ça va? 😀")
        self.assertEqual(template.preview_account_id, self.accounts[0])
        self.assertIn("Ann &lt;b&gt;Smith&lt;/b&gt; &amp; Co", template.preview_body)
        self.assertIn("UCS-2", template.preview_sms_info)
        self.assertIn("1 segment", template.preview_sms_info)
        template.action_preview_next()
        self.assertEqual(template.preview_account_id, self.accounts[1])
        self.assertIn("A 1", template.preview_text)

    def test_preview_reports_render_errors(self):
        self.accounts[1].data = {"other": "1"}
        template = self._template(body="You owe $ACCOUNT_AMOUNT")
        template.preview_account_id = self.accounts[1]
        self.assertIn("AMOUNT", template.preview_error)
        self.assertFalse(template.preview_body)

    def test_preview_of_html_is_sanitised(self):
        template = self._template(
            body_type="html", subject="x", body="<p>Hi</p><script>alert(1)</script>"
        )
        self.assertIn("<p>Hi</p>", template.preview_body)
        self.assertNotIn("<script>", template.preview_body)

    def test_edit_templates_opens_campaign_and_shared_templates(self):
        own = self._template(body="own")
        shared = self._template(body="shared", campaign_id=False)
        other_campaign = self.env["outbound.campaign"].create({"name": "Other"})
        self._template(body="other", campaign_id=other_campaign.id)
        action = self.campaign.action_edit_templates()
        found = self.env["outbound.template"].search(action["domain"])
        self.assertEqual(found, own | shared)
        self.assertEqual(action["context"]["default_campaign_id"], self.campaign.id)

    @users("ob_user")
    def test_user_reads_templates_but_cannot_edit(self):
        template = (
            self.env["outbound.template"]
            .sudo()
            .create({"name": "T", "body": "Hi"})
            .with_env(self.env)
        )
        self.assertEqual(template.body, "Hi")
        with self.assertRaises(AccessError):
            template.write({"body": "Changed"})
        with self.assertRaises(AccessError):
            self.env["outbound.template"].create({"name": "Mine", "body": "x"})

    @users("ob_manager")
    def test_manager_creates_templates(self):
        template = self.env["outbound.template"].create(
            {"name": "Mine", "campaign_id": self.campaign.id, "body": "Hi $ACCOUNT_NAME"}
        )
        self.assertEqual(template.company_id, self.campaign.company_id)

    # ---- EDITOR AND SMS-ONLY TEMPLATES

    def test_html_editor_writes_the_body_sanitised_as_mail_templates(self):
        template = self._template(body_type="html", subject="Hi", body="<p>Dear $ACCOUNT_NAME</p>")
        self.assertEqual(str(template.body_html), "<p>Dear $ACCOUNT_NAME</p>")
        template.body_html = (
            '<p style="color: red">Ref $ACCOUNT_REFERENCE</p><script>alert(1)</script>'
        )
        self.assertIn('<p style="color: red">Ref $ACCOUNT_REFERENCE</p>', template.body)
        self.assertNotIn("script", template.body)
        self.assertIn("$ACCOUNT_AMOUNT", template.placeholder_names)

    def test_jinja_blocks_keep_the_html_as_source(self):
        body = "<table>{% for i in [1] %}<tr><td>$ACCOUNT_NAME</td></tr>{% endfor %}</table>"
        template = self._template(body_type="html", subject="Hi", body=body)
        self.assertTrue(template.html_source_only)
        # What the editor would send back (the blocks moved out of the table) is not taken.
        template.body_html = "<p>{% for i in [1] %}{% endfor %}</p><table></table>"
        self.assertEqual(template.body, body)

    def test_sms_only_template_is_not_offered_for_email(self):
        template = self._template(body="Hi $ACCOUNT_NAME", use_for_email=False)
        wizard = (
            self.env["outbound.send.wizard"]
            .with_context(active_model="outbound.campaign", active_id=self.campaign.id)
            .create({})
        )
        self.assertEqual(wizard.sms_template_id, template)
        self.assertFalse(wizard.template_id, "an SMS-only template is not the email template")
        wizard.template_id = template
        self.assertIn(f"template {template.name} is for SMS only", wizard.email_blockers)
        self.assertFalse(wizard.can_send_email)

    def test_template_for_no_channel_is_refused(self):
        with self.assertRaisesRegex(ValidationError, "usable for email, for SMS or both"):
            self._template(body_type="html", subject="Hi", body="<p>x</p>", use_for_email=False)
