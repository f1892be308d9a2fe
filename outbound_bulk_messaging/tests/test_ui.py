import base64
import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from unittest.mock import patch

from odoo import fields, modules
from odoo.tests import HttpCase, freeze_time, tagged
from odoo.tests.common import ChromeBrowser

from .common import SendingCase
from .fakes import SmtpSink

ACCOUNT_COLUMNS = ("list_id", "reference", "name", "status", "email", "sms_number")


@tagged("post_install", "-at_install")
class TestSendUi(HttpCase, SendingCase):
    """The send screen in a real browser (static/tests/tours/outbound_send_tour.js).

    The tour checks the figures of the data below; the dispatch then runs here, against the
    loopback SMTP sink, and a second tour reads the job's progress back in the browser.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        north, south = cls.list_active, cls.list_passive
        # Default statuses (unused, call-back): 5 accounts, 4 emails, 3 numbers; with Completed:
        # 6 and 5. Emailing those 6 with a one-day resend window: N3 was emailed 2 hours ago and
        # N5 has no address, so 4 queued and 2 skipped.
        rows = [
            # list, reference, name, status, email, SMS number
            (north, "N1", "Nora Quinn", "unused", "nora@example.com", "07911 100001"),
            (north, "N2", "Omar Said", "callback", "omar@example.com", "07911 100002"),
            (north, "N3", "Pia Berg", "unused", "pia@example.com", False),
            (north, "N4", "Quinn Ross", "completed", "quinn@example.com", False),
            (north, "N5", "Raj Patel", "unused", False, "07911 100005"),
            (south, "S1", "Sara Lind", "callback", "sara@example.com", False),
            (south, "S2", "Tom Hale", "failed", "tom@example.com", False),
        ]
        accounts = cls.env["outbound.account"].create(
            [dict(zip(ACCOUNT_COLUMNS, (row[0].id, *row[1:]), strict=True)) for row in rows]
        )
        cls.mail_server = cls.env["ir.mail_server"].create(
            {"name": "Loopback sink", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )
        cls.campaign.mail_server_id = cls.mail_server
        cls._create_earlier_job(accounts.filtered(lambda account: account.reference == "N3"))

    @classmethod
    def _create_earlier_job(cls, account):
        """A job that sent the template to ``account`` two hours ago (resend window, panel)."""
        two_hours_ago = fields.Datetime.now() - timedelta(hours=2)
        job = cls.env["outbound.send.job"].create(
            {
                "campaign_id": cls.campaign.id,
                "channel": "email",
                "template_id": cls.template.id,
                "state": "done",
                "start_at": two_hours_ago,
                "done_at": two_hours_ago,
            }
        )
        cls.env["outbound.message"].create(
            {
                "job_id": job.id,
                "campaign_id": cls.campaign.id,
                "list_id": account.list_id.id,
                "company_id": cls.campaign.company_id.id,
                "template_id": cls.template.id,
                "account_id": account.id,
                "account_reference": account.reference,
                "channel": "email",
                "address": account.email,
                "state": "sent",
                "sent_at": two_hours_ago,
            }
        )

    def test_manager_sends_from_the_wizard(self):
        self.start_tour("/odoo", "outbound_send_tour", login=self.user_manager.login)

        self.env.invalidate_all()
        job = self.env["outbound.send.job"].search(
            [("campaign_id", "=", self.campaign.id), ("state", "!=", "done")]
        )
        self.assertEqual(len(job), 1, "the tour's Send Email created one job")
        self.assertEqual((job.channel, job.state, job.resend_period), ("email", "scheduled", "day"))
        self.assertEqual(
            (job.batch_size, job.batch_interval, job.batch_interval_unit), (3, 1, "hours")
        )
        self.assertEqual(
            sorted(job.account_statuses.mapped("code")), ["callback", "completed", "unused"]
        )
        self.assertEqual(self._states(job), {"queued": 4, "skipped": 2})

        # As SendingCase.smtp_sink, but the mail server had to exist before the tour, and Odoo's
        # test mode (which keeps ir.mail_server from connecting) is only lifted for the dispatch.
        with SmtpSink() as sink, patch.object(modules.module, "current_test", False):
            self.mail_server.smtp_port = sink.port
            self._dispatch()
        self.env.invalidate_all()
        self.assertEqual(self._states(job), {"sent": 3, "queued": 1, "skipped": 2})
        self.assertEqual(job.state, "running")
        self.assertEqual(
            sorted(message.rcpt_tos[0] for message in sink.messages),
            ["nora@example.com", "omar@example.com", "quinn@example.com"],
        )
        subjects = {message.rcpt_tos[0]: message["Subject"] for message in sink.messages}
        self.assertEqual(subjects["nora@example.com"], "Your renewal, Nora Quinn")
        self.assertEqual(job.next_run_at, job.start_at + timedelta(hours=1))

        self.start_tour("/odoo", "outbound_send_job_progress_tour", login=self.user_manager.login)

    def test_edit_templates_keeps_the_wizard(self):
        jobs_before = self.env["outbound.send.job"].search_count([])
        self.start_tour("/odoo", "outbound_edit_templates_tour", login=self.user_manager.login)
        self.env.invalidate_all()
        self.assertEqual(self.template.subject, "Renewal time, $ACCOUNT_NAME")
        self.assertEqual(self.env["outbound.send.job"].search_count([]), jobs_before)

    def test_a_large_scope_is_counted_once_the_wizard_is_open(self):
        self.env["ir.config_parameter"].set_param("outbound.panel_sync_limit", 3)
        self.start_tour("/odoo", "outbound_deferred_counts_tour", login=self.user_manager.login)
        self.env.invalidate_all()
        job = self.env["outbound.send.job"].search(
            [("campaign_id", "=", self.campaign.id), ("state", "!=", "done")]
        )
        self.assertEqual(len(job), 1, "the tour's Send Email created one job")
        self.assertEqual(self._states(job), {"queued": 5, "skipped": 1})

    def test_user_sees_the_wizard_without_send_buttons(self):
        self.start_tour("/odoo", "outbound_send_user_tour", login=self.user_outbound.login)
        self.assertFalse(
            self.env["outbound.send.job"].search([("state", "!=", "done")]),
            "nothing was sent",
        )


SHOT_PREFIX = "outbound-screenshot:"
DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"


@tagged("post_install", "-at_install")
class TestTemplateEditorUi(HttpCase, SendingCase):
    """A template's HTML body in Odoo's editor (tours/outbound_template_editor_tour.js)."""

    def test_placeholders_from_the_editor_menu_and_sms_only_templates(self):
        letter = self.env["outbound.template"].create(
            {
                "name": "Letter",
                "campaign_id": self.campaign.id,
                "body_type": "html",
                "subject": "Hello",
                "body": "<p>Dear $ACCOUNT_NAME,</p>",
            }
        )
        self.start_tour(
            "/odoo/action-outbound_bulk_messaging.outbound_template_action",
            "outbound_template_editor_tour",
            login=self.user_manager.login,
        )
        self.env.invalidate_all()
        self.assertIn("$ACCOUNT_REFERENCE", letter.body)
        self.assertIn("Dear $ACCOUNT_NAME,", letter.body)
        self.assertFalse(self.template.use_for_email)
        self.assertTrue(self.template.use_for_sms)


class _ScreenshotBrowser(ChromeBrowser):
    """Odoo's test browser, saving a PNG whenever the tour logs ``outbound-screenshot:<name>``.

    The capture goes through the DevTools protocol (``Page.captureScreenshot``, as Odoo's own
    failure screenshots); the tour waits until ``window.outboundScreenshots`` lists the name.
    """

    paths = {}  # name: Path, set by the test

    def _handle_console(self, type, args=None, stackTrace=None, **kw):  # pylint: disable=redefined-builtin
        message = args and args[0].get("value")
        if type == "log" and isinstance(message, str) and message.startswith(SHOT_PREFIX):
            self._save_screenshot(message.removeprefix(SHOT_PREFIX))
        return super()._handle_console(type, args=args, stackTrace=stackTrace, **kw)

    def _save_screenshot(self, name):
        path = self.paths[name]

        def saved(future):
            path.write_bytes(base64.b64decode(future.result()["data"]))
            self._logger.info("Screenshot %s saved in %s", name, path)
            self._websocket_send(
                "Runtime.evaluate",
                params={
                    "expression": "window.outboundScreenshots = "
                    f"[...(window.outboundScreenshots || []), {json.dumps(name)}]"
                },
            )

        future = self._websocket_send(
            "Page.captureScreenshot", params={"format": "png"}, with_future=True
        )
        future.add_done_callback(saved)


@tagged("-standard", "outbound_screenshots", "post_install", "-at_install")
class TestScreenshots(HttpCase):
    """PNGs for the README (docs/), on demo data: the send wizard, a send job while it sends,
    its sending curve, and the Messages Analysis as a chart and a pivot.

    Not part of the suite: ``python3 tools/screenshots.py`` installs the addon with demo data in a
    fresh database and runs this test alone. $OBM_SCREENSHOT_DIR overrides docs/; the other
    screens (lists, forms, kanban), for review, go to $OBM_REVIEW_DIR or a temporary folder.
    """

    browser_size = "1280x800"
    docs_shots = ("send_wizard", "send_job", "sending_curve", "messages_analysis", "messages_pivot")
    review_shots = (
        "campaign_list",
        "campaign_form",
        "list_list",
        "list_form",
        "import_wizard",
        "account_list",
        "account_form",
        "template_form",
        "template_preview",
        "job_list",
        "job_kanban",
        "message_list",
    )

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.campaign = cls.env.ref("outbound_bulk_messaging.campaign_winter", False)
        if not cls.campaign:
            raise RuntimeError("The screenshots need the demo data: run tools/screenshots.py")
        # Emails go to the loopback sink whatever the demo data says.
        cls.mail_server = cls.env["ir.mail_server"].create(
            {"name": "Acme outgoing mail", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )
        cls.campaign.mail_server_id = cls.mail_server
        if not cls.campaign.sms_gateway_id:
            cls.campaign.sms_gateway_id = cls.env["outbound.sms.gateway"].create(
                {"name": "Vonage (Acme)", "api_key": "demo", "api_secret": "demo"}
            )
            cls.campaign.sms_sender = cls.campaign.sms_sender or "ACME"

    def _shot_paths(self):
        docs = Path(os.environ.get("OBM_SCREENSHOT_DIR") or DOCS_DIR)
        docs.mkdir(parents=True, exist_ok=True)
        paths = {name: docs / f"{name}.png" for name in self.docs_shots}
        review = Path(os.environ.get("OBM_REVIEW_DIR") or tempfile.mkdtemp(prefix="obm-review-"))
        review.mkdir(parents=True, exist_ok=True)
        paths.update({f"review_{name}": review / f"{name}.png" for name in self.review_shots})
        return paths

    def test_screenshots(self):
        paths = self._shot_paths()
        with (
            patch.object(_ScreenshotBrowser, "paths", paths),
            patch("odoo.tests.common.ChromeBrowser", _ScreenshotBrowser),
        ):
            self.start_tour("/odoo", "outbound_screenshot_send_tour", login="admin")
            with SmtpSink() as sink, patch.object(modules.module, "current_test", False):
                self.mail_server.smtp_port = sink.port
                self.env["outbound.send.job"]._cron_dispatch()
            self.assertEqual(len(sink.messages), 10)
            self.start_tour("/odoo", "outbound_screenshot_job_tour", login="admin")
            # Two more batches, an hour apart as the pace asks, for the charts to show a curve.
            with SmtpSink() as sink, patch.object(modules.module, "current_test", False):
                self.mail_server.smtp_port = sink.port
                for hours in (1, 2):
                    with freeze_time(fields.Datetime.now() + timedelta(hours=hours, minutes=1)):
                        self.env["outbound.send.job"]._cron_dispatch()
            self.assertEqual(len(sink.messages), 14)  # the 14 messages the job had left
            self.start_tour("/odoo", "outbound_screenshot_charts_tour", login="admin")
            self.start_tour("/odoo", "outbound_screenshot_review_tour", login="admin")
        for name, path in paths.items():
            self.assertTrue(path.is_file(), f"screenshot {name} missing")
