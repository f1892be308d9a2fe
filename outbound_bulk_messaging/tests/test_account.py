from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import OutboundCase


@tagged("post_install", "-at_install")
class TestAccount(OutboundCase):
    def _account(self, **values):
        return self.env["outbound.account"].create(
            dict({"list_id": self.list_active.id, "reference": "A1"}, **values)
        )

    def test_email_is_normalised(self):
        account = self._account(email="  Jane.Doe@Example.COM ")
        self.assertEqual(account.email, "jane.doe@example.com")
        account.email = "Other@Example.org"
        self.assertEqual(account.email, "other@example.org")

    def test_invalid_email_is_refused_with_the_reference(self):
        with self.assertRaisesRegex(ValidationError, "A1.*jane@"):
            self._account(email="jane@")
        account = self._account(email="ok@example.com")
        with self.assertRaisesRegex(ValidationError, "A1"):
            account.email = "not an email"
        self.assertEqual(account.email, "ok@example.com")

    def test_sms_number_is_normalised_with_its_country(self):
        account = self._account(sms_number="07911 123456")  # company country: GB
        self.assertEqual(account.sms_number_e164, "+447911123456")
        self.assertFalse(account.sms_number_error)
        account.write(
            {"sms_number": "06 12 34 56 78", "sms_country_id": self.env.ref("base.fr").id}
        )
        self.assertEqual(account.sms_number_e164, "+33612345678")
        self.assertEqual(account.sms_number, "06 12 34 56 78")

    def test_invalid_number_keeps_the_reason(self):
        account = self._account(sms_number="12345")
        self.assertFalse(account.sms_number_e164)
        self.assertIn("12345", account.sms_number_error)
        self.assertEqual(account.sms_number, "12345")

    def test_reference_unique_per_list(self):
        self._account()
        self.env["outbound.account"].create({"list_id": self.list_passive.id, "reference": "A1"})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.cr.savepoint():
            self._account()

    def test_counts(self):
        self._create_accounts(self.list_active, 3)
        self._create_accounts(self.list_passive, 2)
        self.assertEqual(self.list_active.account_count, 3)
        self.assertEqual(self.campaign.list_count, 2)
        self.assertEqual(self.campaign.account_count, 5)
        action = self.campaign.action_view_accounts()
        self.assertEqual(self.env["outbound.account"].search_count(action["domain"]), 5)

    def test_data_is_displayed_escaped(self):
        account = self._account(data={"note": "<b>late</b>", "amount": "12.50"})
        self.assertIn("&lt;b&gt;late&lt;/b&gt;", account.data_display)
        self.assertIn("12.50", account.data_display)

    def test_campaign_sender_is_validated(self):
        with self.assertRaisesRegex(ValidationError, "Renewals"):
            self.campaign.email_from = "Acme <not-an-address>"

    def test_list_company_must_match_campaign(self):
        other = self.env["res.company"].create({"name": "Other"})
        with self.assertRaisesRegex(ValidationError, "North"):
            self.list_active.company_id = other

    def test_odoo_company_check_is_not_shadowed(self):
        # BaseModel._check_company(fnames) is Odoo's multi-company check, called with field names.
        self.list_active._check_company(["campaign_id"])
