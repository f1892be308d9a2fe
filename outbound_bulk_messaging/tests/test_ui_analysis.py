from datetime import datetime, timedelta

from odoo.tests import HttpCase, tagged

from .common import SendingCase


@tagged("post_install", "-at_install")
class TestAnalysisUi(HttpCase, SendingCase):
    """Messages Analysis and the sending curve in a real browser
    (static/tests/tours/outbound_analysis_tour.js), on a job whose messages went out on
    27 November: 3 sent, 1 failed, one delivered, one replied."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        accounts = cls._create_accounts(cls.list_active, 4, email="ui{}@example.com")
        tried = datetime(2026, 11, 27, 9, 0)
        job = cls.env["outbound.send.job"].create(
            {
                "campaign_id": cls.campaign.id,
                "channel": "email",
                "template_id": cls.template.id,
                "state": "done",
                "start_at": tried,
                "done_at": tried + timedelta(minutes=1),
                "batch_size": 500,
            }
        )
        outcomes = [
            {"state": "sent", "delivery_status": "delivered", "delivered_at": tried},
            {"state": "sent", "replied_at": tried + timedelta(hours=1)},
            {"state": "sent"},
            {"state": "failed", "failure_reason": "refused"},
        ]
        cls.env["outbound.message"].create(
            [
                {
                    "job_id": job.id,
                    "campaign_id": cls.campaign.id,
                    "list_id": account.list_id.id,
                    "company_id": cls.campaign.company_id.id,
                    "template_id": cls.template.id,
                    "account_id": account.id,
                    "channel": "email",
                    "address": account.email,
                    "claimed_at": tried,
                    "sent_at": tried if outcome["state"] == "sent" else False,
                    **outcome,
                }
                for account, outcome in zip(accounts, outcomes, strict=True)
            ]
        )

    def test_manager_opens_the_analysis_from_the_campaign(self):
        self.start_tour("/odoo", "outbound_analysis_tour", login=self.user_manager.login)
