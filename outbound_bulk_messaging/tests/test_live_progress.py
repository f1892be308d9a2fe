"""Live progress on the bus: one notification per batch and per job, ids and counts only, on the
job's company channel, which only that company's Outbound users are subscribed to."""

import json
from unittest.mock import patch

from websocket import WebSocketTimeoutException

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from odoo.addons.bus.models.bus import channel_with_db, hashable
from odoo.addons.bus.tests.common import WebsocketCase

from ..models import outbound_dispatcher
from ..models.outbound_send_job import PROGRESS_FIELDS, PROGRESS_NOTIFICATION
from .common import SendingCase

PAYLOAD_KEYS = {"job_id", "campaign_id", *PROGRESS_FIELDS}


@tagged("post_install", "-at_install")
class TestLiveProgress(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_accounts(cls.list_active, 5, email="live{}@example.com")
        cls.company_b = cls.env["res.company"].create({"name": "Company B"})
        cls.user_b = new_test_user(
            cls.env,
            "ob_user_b",
            groups="outbound_bulk_messaging.group_outbound_user",
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
        )
        cls.user_internal = new_test_user(cls.env, "ob_internal", groups="base.group_user")
        cls.campaign_2 = cls.env["outbound.campaign"].create(
            {"name": "Arrears", "email_from": "arrears@acme.example"}
        )
        list_2 = cls.env["outbound.list"].create(
            {"name": "East", "campaign_id": cls.campaign_2.id, "state": "active"}
        )
        cls._create_accounts(list_2, 4, start=100, email="arrears{}@example.com")
        cls.template_2 = cls.template.copy({"campaign_id": cls.campaign_2.id})

    def setUp(self):
        super().setUp()
        self.env.cr.precommit.run()  # bus rows queued by the setup
        self.last_bus_id = self.env["bus.bus"].search([], order="id desc", limit=1).id

    def _progress_rows(self):
        """(channel, payload) of the progress notifications sent since setUp."""
        self.env.cr.precommit.run()  # bus rows are written on commit, which tests skip
        rows = self.env["bus.bus"].search([("id", ">", self.last_bus_id)], order="id")
        notifications = []
        for row in rows:
            message = json.loads(row.message)
            if message["type"] == PROGRESS_NOTIFICATION:
                notifications.append((tuple(json.loads(row.channel)), message["payload"]))
        return notifications

    def _company_channel(self, company):
        return hashable(channel_with_db(self.env.cr.dbname, (company, "outbound.send.job")))

    def test_one_notification_per_batch_with_ids_and_counts_only(self):
        channel = self._company_channel(self.env.company)
        with self.smtp_sink(), patch.object(outbound_dispatcher, "DISPATCH_BATCH", 2):
            job = self._send("email")
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 5})
        notifications = self._progress_rows()
        self.assertEqual({channel for channel, _payload in notifications}, {channel})
        # Batches of 2, 2 and 1, then the job is done (the last batch was told while it ran).
        self.assertEqual(
            [(p["count_sent"], p["count_queued"]) for _c, p in notifications],
            [(2, 3), (4, 1), (5, 0), (5, 0)],
        )
        for _channel, payload in notifications:
            self.assertEqual(set(payload), PAYLOAD_KEYS)
            ids = (payload["job_id"], payload["campaign_id"])
            self.assertEqual(ids, (job.id, self.campaign.id))
            self.assertTrue(all(isinstance(v, int | float) for v in payload.values()))
        text = json.dumps([payload for _channel, payload in notifications])
        self.assertNotIn("@example.com", text)
        self.assertNotIn("Your renewal", text)
        self.assertEqual(notifications[-1][1]["progress"], 100.0)

    def test_paced_job_one_notification_per_batch_and_per_job(self):
        hourly = {"batch_interval": 1, "batch_interval_unit": "hours"}
        with self.smtp_sink():
            self.campaign_2.mail_server_id = self.campaign.mail_server_id
            job = self._send("email", batch_size=2, **hourly)
            other = self._send(
                "email", self.campaign_2, template_id=self.template_2.id, batch_size=3, **hourly
            )
            self._dispatch()
        notifications = self._progress_rows()
        by_job = {}
        for _channel, payload in notifications:
            by_job.setdefault(payload["job_id"], []).append(payload["count_sent"])
        # One batch each in this hour's window, nothing finished: one notification per job.
        self.assertEqual(by_job, {job.id: [2], other.id: [3]})

    def test_progress_channels_of_the_users_companies(self):
        """What ir.websocket adds to a user's subscriptions (TestLiveProgressWebsocket connects)."""

        def channels(user):
            return self.env["outbound.send.job"].with_user(user)._get_progress_bus_channels()

        own = (self.env.company, "outbound.send.job")
        self.assertEqual(channels(self.user_outbound), [own])
        self.assertEqual(channels(self.user_manager), [own])
        self.assertEqual(channels(self.user_b), [(self.company_b, "outbound.send.job")])
        self.assertEqual(channels(self.user_internal), [])
        self.user_b.company_ids += self.env.company
        self.assertIn(own, channels(self.user_b))

    def test_live_panel_counts(self):
        with self.smtp_sink(), patch.object(outbound_dispatcher, "DISPATCH_BATCH", 2):
            self._send("email", batch_size=2, batch_interval=1, batch_interval_unit="hours")
            self._dispatch()
        wizard = self.env["outbound.send.wizard"].with_user(self.user_outbound)
        counts = wizard.get_live_panel_counts(self.campaign.id)
        self.assertEqual((counts["count_email_sent"], counts["count_email_awaiting"]), (2, 3))
        counts = wizard.get_live_panel_counts(self.campaign.id, self.list_passive.id)
        self.assertEqual(counts["count_email_sent"], 0)
        with self.assertRaises(AccessError):
            self.env["outbound.send.wizard"].with_user(self.user_b).get_live_panel_counts(
                self.campaign.id
            )


@tagged("post_install", "-at_install")
class TestLiveProgressWebsocket(WebsocketCase, SendingCase):
    """Through real websockets: the company's Outbound user receives the batches, a user of
    another company nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_accounts(cls.list_active, 3, email="ws{}@example.com")
        company_b = cls.env["res.company"].create({"name": "Company B"})
        cls.user_b = new_test_user(
            cls.env,
            "ob_user_b",
            groups="outbound_bulk_messaging.group_outbound_manager",
            company_id=company_b.id,
            company_ids=[(6, 0, company_b.ids)],
        )

    def _connect(self, user):
        self.session = None  # authenticate() would delete the other user's session
        session = self.authenticate(user.login, user.login)
        websocket = self.websocket_connect(cookie=f"session_id={session.sid};", timeout=2)
        self.subscribe(websocket, [], self.env["bus.bus"]._bus_last_id())
        return websocket

    def _progress_received(self, websocket):
        try:
            notifications = json.loads(websocket.recv())
        except WebSocketTimeoutException:
            return []
        return [
            n["message"]["payload"]
            for n in notifications
            if n["message"]["type"] == PROGRESS_NOTIFICATION
        ]

    def test_company_user_receives_other_company_user_does_not(self):
        websocket_a = self._connect(self.user_outbound)
        websocket_b = self._connect(self.user_b)
        with self.smtp_sink():
            job = self._send("email")
            self._dispatch()
        self.trigger_notification_dispatching([(self.env.company, "outbound.send.job")])
        received = self._progress_received(websocket_a)
        self.assertEqual([(p["job_id"], p["count_sent"]) for p in received], [(job.id, 3)] * 2)
        self.assertEqual(self._progress_received(websocket_b), [])
