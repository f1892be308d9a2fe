"""What an SMS send will cost, and what the send screen says before sending: prices per gateway
and country (typed, imported, fetched from Vonage), the estimate from each account's own text,
the provider's actual total, unknown placeholders, texts over the segment limit, senders by
country."""

from unittest.mock import patch

import psycopg2.errors

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools import float_compare, mute_logger

from ..wizard import outbound_send_wizard as send_wizard
from .common import SendingCase
from .fake_vonage import PRICE, _sms_parts

SEND_JOB_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_send_job"

SMS_BODY = "Hi $ACCOUNT_NAME, $ACCOUNT_NOTE"


@tagged("post_install", "-at_install")
class TestSendCost(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # (reference, name, number, note): the text is "Hi <name>, <note>". Counted by hand:
        cls.people = [
            ("GB1", "Ann", "+447400100001", "a" * 150),  # 158 GSM-7 septets: 1 segment
            ("GB2", "Bob", "+447400100002", "b" * 200),  # 208 septets: 2 of 153
            ("FR1", "Zoë", "+33612345671", "c" * 70),  # ë is not GSM-7: 78 UCS-2 units, 2 of 67
            ("FR2", "Léa", "+33612345672", "€" * 10),  # é is GSM-7, € 2 septets: 28, 1 segment
            ("US1", "Al", "+14155550101", "ok"),  # 1 segment
            ("DE1", "Udo", "+4915112345678", "x"),  # 1 segment, no price for Germany
            ("GB3", "Cy", "+447400100003", "z" * 500),  # 508 septets: 4 segments > max 3
        ]
        cls.costed = cls.env["outbound.list"].create(
            {"name": "Costed", "campaign_id": cls.campaign.id, "state": "active"}
        )
        cls.env["outbound.account"].create(
            [
                {
                    "list_id": cls.costed.id,
                    "reference": reference,
                    "name": name,
                    "sms_number": number,
                    "data": {"note": note},
                }
                for reference, name, number, note in cls.people
            ]
        )
        cls.sms_template = cls.env["outbound.template"].create(
            {"name": "Text", "campaign_id": cls.campaign.id, "body": SMS_BODY}
        )

    def _prices(self, gateway, **prices):
        self.env["outbound.sms.price"].create(
            [
                {"gateway_id": gateway.id, "country_id": self.env.ref(xmlid).id, "price": price}
                for xmlid, price in prices.items()
            ]
        )

    def _cost_wizard(self, **values):
        return self._wizard(self.costed, sms_template_id=self.sms_template.id, **values)

    # ---- ESTIMATE

    def test_estimate_is_each_text_in_segments_times_its_country_price(self):
        with self.fake_vonage() as fake:
            fake.prices = {}
            self._prices(self.gateway, **{"base.uk": 0.04, "base.fr": 0.07, "base.us": 0.01})
            wizard = self._cost_wizard()
            # GB 1 + 2, FR 2 + 1, US 1 priced; DE 1 unpriced; GB3 over the limit.
            expected = 3 * 0.04 + 3 * 0.07 + 1 * 0.01
            self.assertEqual(float_compare(wizard.sms_cost_estimate, expected, 6), 0)
            self.assertEqual(wizard.sms_segments, 8)
            self.assertEqual(wizard.count_sms_over_limit, 1)
            self.assertEqual(wizard.sms_unpriced_countries, "Germany (1 account(s))")
            self.assertEqual(wizard.count_sendable_sms, 7)
            self.assertTrue(wizard.can_send_sms, "over the limit is a warning, not a blocker")
            job = self._send("sms", self.costed, sms_template_id=self.sms_template.id)
            self.assertEqual(float_compare(job.sms_cost_estimate, expected, 6), 0)
            with mute_logger(SEND_JOB_LOGGER):  # GB3's text is over the limit: its batch warns
                self._dispatch()
        messages = {m.account_reference: m for m in job.outbound_message_ids}
        self.assertEqual(messages["GB3"].state, "failed")
        self.assertIn("4 SMS segments, the template allows 3", messages["GB3"].failure_reason)
        # The actual cost: the sum of what the provider billed for every part it accepted.
        billed = sum(
            _sms_parts(r["form"]["text"], r["form"]["type"]) * float(PRICE)
            for r in fake.requests
            if r["path"] == "/sms/json"
        )
        self.assertEqual(len(fake.requests), 6)
        self.assertEqual(
            float_compare(job.sms_cost, billed, 6),
            0,
            (
                job.sms_cost,
                billed,
                [(m.account_reference, m.sms_parts, m.sms_price) for m in messages.values()],
            ),
        )
        self.assertEqual(
            float_compare(job.sms_cost, sum(messages[r].sms_price for r in messages), 6), 0
        )

    def test_estimate_follows_the_recipient_rules(self):
        self._prices(self.gateway_for_tests(), **{"base.uk": 0.04})
        self.env["phone.blacklist"].create({"number": "+447400100002"})
        wizard = self._cost_wizard()
        self.assertEqual(wizard.count_sendable_sms, 6)
        self.assertEqual(float_compare(wizard.sms_cost_estimate, 1 * 0.04, 6), 0)

    def test_estimate_reads_its_accounts_a_chunk_at_a_time(self):
        """Read through an SQL cursor in chunks (here 2 rows, 7 accounts: 4 fetches), the
        estimate is the same, twice in one transaction (each read has its own cursor)."""
        self._prices(self.gateway_for_tests(), **{"base.uk": 0.04, "base.fr": 0.07})
        whole = self._cost_wizard()
        figures = (whole.sms_segments, whole.sms_cost_estimate, whole.count_sms_over_limit)
        self.assertEqual(whole.sms_segments, 8)
        with patch.object(send_wizard, "SMS_ESTIMATE_CHUNK", 2):
            for _try in range(2):
                chunked = self._cost_wizard()
                self.assertEqual(
                    (chunked.sms_segments, chunked.sms_cost_estimate, chunked.count_sms_over_limit),
                    figures,
                )
        self.env.cr.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE 'outbound_sms_%'")
        self.assertEqual(self.env.cr.fetchone()[0], 0, "every cursor read to the end is closed")

    def test_without_a_gateway_segments_are_counted_and_nothing_priced(self):
        self.campaign.sms_gateway_id = False
        wizard = self._cost_wizard()
        self.assertEqual((wizard.sms_segments, wizard.sms_cost_estimate), (8, 0.0))
        self.assertFalse(wizard.sms_unpriced_countries)
        self.assertIn("no SMS gateway", wizard.sms_blockers)

    def test_jinja_template_is_rendered_for_the_estimate(self):
        self._prices(self.gateway_for_tests(), **{"base.uk": 0.1, "base.fr": 0.2})
        self.sms_template.body = "{% if ACCOUNT_NAME == 'Bob' %}{{ ACCOUNT_NOTE }}{% endif %}Hi"
        wizard = self._cost_wizard()
        # Bob's text: 200 b + "Hi" = 202 septets, 2 segments; everyone else "Hi", 1 segment.
        self.assertEqual(wizard.sms_segments, 8)
        self.assertEqual(float_compare(wizard.sms_cost_estimate, 4 * 0.1 + 2 * 0.2, 6), 0)
        self.assertEqual(wizard.count_sms_over_limit, 0)

    def gateway_for_tests(self):
        gateway = self.env["outbound.sms.gateway"].create(
            {"name": "Priced", "api_key": "k", "api_secret": "s", "default_sender": "+4477009"}
        )
        self.campaign.write({"sms_gateway_id": gateway.id, "sms_sender": False})
        return gateway

    # ---- PRICES

    def test_fetch_prices_from_vonage_for_the_accounts_countries(self):
        with self.fake_vonage() as fake:
            fake.currency = self.env.company.currency_id.name
            self.gateway.with_user(self.user_admin).action_fetch_prices()
            countries = sorted(r["form"]["country"] for r in fake.requests)
        self.assertEqual(countries, ["DE", "FR", "GB", "US"])
        prices = {p.country_id.code: p.price for p in self.gateway.price_ids}
        self.assertEqual(prices, {"GB": 0.0333, "FR": 0.0745, "US": 0.0081})
        self.assertEqual(self.gateway.price_ids.currency_id, self.env.company.currency_id)
        with self.fake_vonage() as fake:
            fake.currency = self.env.company.currency_id.name
            gateway = self.gateway.with_user(self.user_admin)
            gateway.with_context(outbound_all_countries=True).action_fetch_prices()
            self.assertEqual(
                [r["path"] for r in fake.requests], ["/account/get-full-pricing/outbound/sms"]
            )

    def test_only_administrators_fetch_prices(self):
        gateway = self.gateway_for_tests()
        with self.assertRaisesRegex(UserError, "Only Outbound administrators"):
            gateway.with_user(self.user_manager).action_fetch_prices()

    def test_prices_import_with_odoo_import(self):
        gateway = self.gateway_for_tests()
        csv = (
            f"gateway_id,country_id,price\n{gateway.name},France,0.07\n{gateway.name},Spain,0.05\n"
        )
        importer = (
            self.env["base_import.import"]
            .with_user(self.user_admin)
            .create(
                {"res_model": "outbound.sms.price", "file": csv.encode(), "file_type": "text/csv"}
            )
        )
        options = {"has_headers": True, "quoting": '"', "separator": ",", "encoding": "utf-8"}
        preview = importer.parse_preview(options)
        self.assertFalse(preview.get("error"))
        result = importer.execute_import(
            ["gateway_id", "country_id", "price"], preview["headers"], options
        )
        self.assertFalse(result["messages"], result["messages"])
        prices = {p.country_id.code: p.price for p in gateway.price_ids}
        self.assertEqual(prices, {"FR": 0.07, "ES": 0.05})

    def test_one_price_per_gateway_and_country(self):
        gateway = self.gateway_for_tests()
        self._prices(gateway, **{"base.fr": 0.07})
        with (
            self.assertRaises(psycopg2.errors.UniqueViolation),
            mute_logger("odoo.sql_db"),
            self.cr.savepoint(),
        ):
            self._prices(gateway, **{"base.fr": 0.08})

    # ---- BLOCKERS AND WARNINGS

    def test_unknown_placeholder_for_a_list_in_scope_blocks_send(self):
        self.gateway_for_tests()
        self.env["outbound.account"].create(
            {
                "list_id": self.list_active.id,
                "reference": "AG1",
                "sms_number": "+447400100009",
                "data": {"agent": "Jo"},
            }
        )
        self.sms_template.body = "Agent $ACCOUNT_AGENT will call you"
        wizard = self._wizard(sms_template_id=self.sms_template.id)
        self.assertFalse(wizard.can_send_sms)
        self.assertIn("$ACCOUNT_AGENT", wizard.sms_blockers)
        self.assertIn("in list Costed", wizard.sms_blockers)
        self.assertNotIn("North", wizard.sms_blockers)
        with self.assertRaisesRegex(UserError, "ACCOUNT_AGENT"):
            wizard.action_send_sms()
        # From the list that has the column, it can be sent.
        wizard = self._wizard(self.list_active, sms_template_id=self.sms_template.id)
        self.assertTrue(wizard.can_send_sms, wizard.sms_blockers)

    def test_alphanumeric_sender_warning_names_countries_and_accounts(self):
        with self.fake_vonage():
            wizard = self._cost_wizard()
            self.assertEqual(wizard.sms_sender, "ACME")
            self.assertIn("ACME", wizard.sms_sender_warning)
            self.assertIn("United States (1 account(s))", wizard.sms_sender_warning)
            self.campaign.sms_sender = "+447700900999"
            self.assertFalse(self._cost_wizard().sms_sender_warning)
