from odoo.tests import freeze_time, tagged
from odoo.tools import mute_logger
from odoo.tools.safe_eval import safe_eval

from .common import SendingCase

SEND_JOB_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_send_job"

MEASURES = ["is_sent", "is_failed", "is_delivered", "is_undelivered", "is_bounced", "is_replied"]


@tagged("post_install", "-at_install")
class TestMessageAnalysis(SendingCase):
    """Messages Analysis (graph, pivot) and a job's sending curve, on messages a job really sent
    (and failed) through the loopback SMTP sink at 3 per hour."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 5, email="chart{}@example.com")

    def setUp(self):
        super().setUp()
        # 09:00: chart0..2 tried, chart1 refused by the server; 10:00: chart3 and chart4.
        with self.smtp_sink(refuse={"chart1@example.com"}):
            with freeze_time("2026-11-27 09:00:00"):
                self.job = self._send(
                    "email", batch_size=3, batch_interval=1, batch_interval_unit="hours"
                )
            for now in ("2026-11-27 09:00:05", "2026-11-27 10:00:05"):
                # The refused recipient's batch warns, as it should.
                with freeze_time(now), mute_logger(SEND_JOB_LOGGER):
                    self._dispatch()
        self.Message = self.env["outbound.message"].with_context(tz="UTC")
        self.messages = self.job.outbound_message_ids.sorted("id")

    def _per_hour(self, groupby="tried_hour", measures=("__count", *MEASURES), message=None):
        """What the graph / pivot ask for: {hour: (measures)}, hours as the views group them."""
        groups = (self.Message if message is None else message).read_group(
            [("job_id", "=", self.job.id)],
            [f"{name}:sum" if name != "__count" else name for name in measures],
            [groupby],
            lazy=False,
        )
        return {
            group[groupby]: tuple(group[name] for name in measures)
            for group in groups
            if group[groupby]
        }

    def test_views_load_with_their_measures(self):
        views = self.Message.get_views([(False, "graph"), (False, "pivot"), (False, "search")])
        self.assertIn("claimed_at", views["views"]["graph"]["arch"])
        self.assertIn('interval="day"', views["views"]["pivot"]["arch"])
        fields = self.Message.fields_get(MEASURES, ["aggregator", "type"])
        for name in MEASURES:
            self.assertEqual(fields[name], {"aggregator": "sum", "type": "integer"}, name)

    def test_sent_and_failed_per_hour_equal_what_was_sent(self):
        self.assertEqual(self.job.state, "done")
        self.assertEqual(
            self._per_hour(measures=("__count", "is_sent", "is_failed")),
            {"2026-11-27 09:00": (3, 2, 1), "2026-11-27 10:00": (2, 2, 0)},
        )
        self.assertEqual(
            self._per_hour("sent_hour", measures=("__count",)),
            {"2026-11-27 09:00": (2,), "2026-11-27 10:00": (2,)},
        )
        # The record values agree with the sums (the dispatcher wrote the states in raw SQL).
        self.assertEqual(self.messages.mapped("is_sent"), [1, 0, 1, 1, 1])
        self.assertEqual(self.messages.mapped("is_failed"), [0, 1, 0, 0, 0])

    def test_what_came_back_counts_in_the_hour_it_was_tried(self):
        chart0, _chart1, chart2, chart3, _chart4 = self.messages
        chart0.write({"delivery_status": "delivered", "delivered_at": "2026-11-27 11:30:00"})
        chart2.write({"delivery_status": "bounced"})
        chart3.write({"replied_at": "2026-11-27 12:10:00", "reply_text": "call me"})
        self.assertEqual(
            self._per_hour(),
            {
                # count, sent, failed, delivered, undelivered, bounced, replied
                "2026-11-27 09:00": (3, 2, 1, 1, 0, 1, 0),
                "2026-11-27 10:00": (2, 2, 0, 0, 0, 0, 1),
            },
        )
        # ... and by the hour it came back in, as "delivered per hour" / "replies per hour".
        self.assertEqual(
            self._per_hour("delivered_hour", ("is_delivered",)), {"2026-11-27 11:00": (1,)}
        )
        self.assertEqual(
            self._per_hour("replied_hour", ("is_replied",)), {"2026-11-27 12:00": (1,)}
        )

    def test_hours_follow_the_time_zone_and_open_their_messages(self):
        brussels = self.Message.with_context(tz="Europe/Brussels")  # UTC+1 in November
        self.assertEqual(
            self._per_hour(measures=("__count",), message=brussels),
            {"2026-11-27 10:00": (3,), "2026-11-27 11:00": (2,)},
        )
        self.assertEqual(
            self.messages[0].with_context(tz="Europe/Brussels").tried_hour, "2026-11-27 10:00"
        )
        # A bar clicked opens its messages: the domain the graph builds for its group.
        clicked = brussels.search([("tried_hour", "=", "2026-11-27 10:00"), ("state", "=", "sent")])
        self.assertEqual(clicked, self.messages[0] | self.messages[2])
        self.assertEqual(
            self.Message.search_count([("job_id", "=", self.job.id), ("sent_hour", "in", [False])]),
            1,
        )

    def test_undelivered_text_is_counted(self):
        self.messages[0].write({"delivery_status": "expired"})
        totals = self.Message.read_group(
            [("job_id", "=", self.job.id)], ["is_undelivered:sum", "is_delivered:sum"], []
        )[0]
        self.assertEqual((totals["is_undelivered"], totals["is_delivered"]), (1, 0))

    def test_campaign_per_list_and_failure_reason(self):
        groups = self.Message.read_group(
            [("campaign_id", "=", self.campaign.id), ("state", "=", "failed")],
            ["is_failed:sum"],
            ["list_id", "failure_reason"],
            lazy=False,
        )
        self.assertEqual(len(groups), 1)
        self.assertEqual(groups[0]["list_id"][0], self.list_active.id)
        self.assertIn("chart1@example.com", groups[0]["failure_reason"])
        self.assertEqual(groups[0]["is_failed"], 1)

    def test_campaign_company_and_template_are_the_jobs(self):
        """Read, searched and grouped through the job: a message stores none of them."""
        message = self.messages[0]
        self.assertEqual(
            (message.campaign_id, message.company_id, message.template_id),
            (self.job.campaign_id, self.job.company_id, self.job.template_id),
        )
        for name in ("campaign_id", "company_id", "template_id"):
            with self.subTest(field=name):
                self.assertFalse(self.Message._fields[name].store)
                found = self.Message.search([(name, "=", self.job[name].id)])
                self.assertEqual(found & self.messages, self.messages)
                self.assertEqual(found.job_id.mapped(name), self.job[name])
                groups = self.Message.read_group(
                    [("job_id", "=", self.job.id)], ["is_sent:sum"], [name], lazy=False
                )
                self.assertEqual(
                    [(group[name][0], group["__count"], group["is_sent"]) for group in groups],
                    [(self.job[name].id, 5, 4)],
                )

    def test_a_message_whose_account_is_deleted_keeps_its_reference_not_its_list(self):
        message = self.messages[0]
        self.assertEqual(message.list_id, self.list_active)
        reference, address = message.account_reference, message.address
        message.account_id.unlink()
        self.assertEqual((message.account_reference, message.address), (reference, address))
        self.assertFalse(message.list_id)
        self.assertEqual(message.campaign_id, self.campaign)

    def test_sending_curve_action_and_pace(self):
        self.assertEqual(self.job.pace_display, "3 per hour")
        self.assertEqual(self.job.pace_per_hour, 3.0)
        action = self.job.action_view_sending_curve()
        self.assertEqual(action["res_model"], "outbound.message")
        self.assertEqual(action["domain"], [("job_id", "=", self.job.id)])
        self.assertIn("asked: 3 per hour", action["display_name"])
        context = safe_eval(action["context"])
        self.assertEqual(context["graph_mode"], "line")
        self.assertEqual(context["graph_groupbys"], ["tried_hour", "state"])
        self.assertEqual(context["pivot_row_groupby"], ["tried_hour"])
        self.assertEqual([view_type for _id, view_type in action["views"]][:2], ["graph", "pivot"])

    def test_pace_text(self):
        job = self.job.sudo()
        job.write({"batch_size": 500, "batch_interval": 1, "batch_interval_unit": "minutes"})
        self.assertEqual(job.pace_display, "500 per minute (30,000 per hour)")
        job.write({"batch_size": 3, "batch_interval": 2, "batch_interval_unit": "hours"})
        self.assertEqual(job.pace_display, "3 per 2 hours (1.5 per hour)")
        self.assertEqual(job.pace_per_hour, 1.5)

    def test_campaign_smart_buttons(self):
        action = self.campaign.action_view_analysis()
        self.assertEqual(action["domain"], [("campaign_id", "=", self.campaign.id)])
        self.assertEqual(action["res_model"], "outbound.message")
        self.assertEqual(action["views"][0][1], "graph")
        self.assertEqual(safe_eval(action["context"]), {"search_default_tried": 1})
        replies = self.campaign.action_view_replies()
        self.assertEqual(replies["res_model"], "outbound.inbound.sms")
        self.assertEqual(replies["domain"], [("campaign_id", "=", self.campaign.id)])
        self.assertEqual(self.campaign.reply_count, 0)

    def test_user_reads_the_analysis(self):
        """An Outbound User (read-only on messages) gets the pivot's sums."""
        groups = self.Message.with_user(self.user_outbound).read_group(
            [("job_id", "=", self.job.id)], ["is_sent:sum"], ["channel"]
        )
        self.assertEqual([(group["channel"], group["is_sent"]) for group in groups], [("email", 4)])
