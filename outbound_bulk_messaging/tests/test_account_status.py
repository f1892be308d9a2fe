from odoo.tests import tagged

from ..engine import statuses
from .common import OutboundCase


@tagged("post_install", "-at_install")
class TestAccountStatus(OutboundCase):
    def _selection(self, model, field):
        return self.env[model]._fields[field]._description_selection(self.env)

    def test_every_status_has_its_record_and_every_record_its_status(self):
        records = self.env["outbound.account.status"].search([])
        expected = dict(statuses.ACCOUNT_STATUSES)
        self.assertEqual({record.code: record.name for record in records}, expected)
        for code in expected:
            record = self.env.ref(f"outbound_bulk_messaging.account_status_{code}")
            self.assertEqual(record.code, code)

    def test_every_status_field_offers_the_same_statuses(self):
        for model, field in (
            ("outbound.account", "status"),
            ("outbound.account.status", "code"),
            ("outbound.import.profile", "default_status"),
        ):
            with self.subTest(model=model, field=field):
                self.assertEqual(self._selection(model, field), list(statuses.ACCOUNT_STATUSES))
