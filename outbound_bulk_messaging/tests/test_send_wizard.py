from datetime import datetime, timedelta

import psycopg2
from lxml import html

from odoo.exceptions import AccessError, UserError
from odoo.tests import freeze_time, new_test_user, tagged, users
from odoo.tools import mute_logger

from .common import SendingCase


@tagged("post_install", "-at_install")
class TestSendWizard(SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        accounts = cls.env["outbound.account"]
        create = accounts.create
        # Active list: 3 unused/call-back with email and number, 1 completed, 1 without address.
        cls.north = create(
            [
                {
                    "list_id": cls.list_active.id,
                    "reference": "N1",
                    "status": "unused",
                    "name": "Nora",
                    "email": "n1@example.com",
                    "sms_number": "07911 100001",
                },
                {
                    "list_id": cls.list_active.id,
                    "reference": "N2",
                    "status": "callback",
                    "email": "n2@example.com",
                    "sms_number": "07911 100002",
                },
                {
                    "list_id": cls.list_active.id,
                    "reference": "N3",
                    "status": "unused",
                    "email": "shared@example.com",
                    "sms_number": "12345",
                },
                {
                    "list_id": cls.list_active.id,
                    "reference": "N4",
                    "status": "completed",
                    "email": "n4@example.com",
                },
                {"list_id": cls.list_active.id, "reference": "N5", "status": "unused"},
            ]
        )
        # Passive list: the same address as N3 (duplicate across lists), one with an SMS only.
        cls.south = create(
            [
                {
                    "list_id": cls.list_passive.id,
                    "reference": "S1",
                    "status": "unused",
                    "email": "shared@example.com",
                    "sms_number": "07911 100003",
                },
                {
                    "list_id": cls.list_passive.id,
                    "reference": "S2",
                    "status": "callback",
                    "sms_number": "+33 6 12 34 56 78",
                },
            ]
        )
        cls.campaign.mail_server_id = cls.env["ir.mail_server"].create(
            {"name": "Unused", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )
        cls.gateway_stub = cls.env["outbound.sms.gateway"].create(
            {"name": "Gateway", "api_key": "k", "api_secret": "s", "default_sender": "ACME"}
        )
        cls.campaign.sms_gateway_id = cls.gateway_stub

    def _messages(self, job):
        return {message.account_reference: message for message in job.outbound_message_ids}

    # ---- PANEL

    @users("ob_manager")
    def test_panel_counts_accounts_in_scope(self):
        wizard = self._wizard()
        self.assertEqual(
            (wizard.count_accounts, wizard.count_with_email, wizard.count_with_sms), (6, 4, 4)
        )
        self.assertEqual(wizard.email_from, "Acme <renewals@acme.example>")
        self.assertEqual(wizard.sms_sender, "ACME")
        self.assertFalse(wizard.no_address_alert)
        wizard.active_lists_only = True
        self.assertEqual(
            (wizard.count_accounts, wizard.count_with_email, wizard.count_with_sms), (4, 3, 2)
        )
        wizard.account_statuses = self.env.ref("outbound_bulk_messaging.account_status_completed")
        self.assertEqual((wizard.count_accounts, wizard.count_with_email), (1, 1))

    @users("ob_manager")
    def test_panel_from_a_list(self):
        wizard = self._wizard(self.list_passive)
        self.assertEqual(wizard.list_id, self.list_passive)
        self.assertEqual(
            (wizard.count_accounts, wizard.count_with_email, wizard.count_with_sms), (2, 1, 2)
        )

    @users("ob_manager")
    def test_panel_message_counts_follow_sending(self):
        job = self._send("email")
        wizard = self._wizard()
        self.assertEqual(
            (wizard.count_email_awaiting, wizard.count_email_sent, wizard.count_email_failed),
            (3, 0, 0),
        )
        self.assertEqual((wizard.count_sms_awaiting, wizard.count_sms_sent), (0, 0))
        messages = job.outbound_message_ids.filtered(lambda m: m.state == "queued").sudo()
        messages[0].write({"state": "sent"})
        messages[1].write({"state": "failed", "failure_reason": "550 refused"})
        wizard = self._wizard()
        self.assertEqual(
            (wizard.count_email_awaiting, wizard.count_email_sent, wizard.count_email_failed),
            (1, 1, 1),
        )
        self.assertEqual(
            (wizard.count_email_accounts_sent, wizard.count_email_accounts_failed), (1, 1)
        )
        self.assertEqual(self._wizard(self.list_passive).count_email_awaiting, 0)

    def test_alert_when_no_account_has_an_address(self):
        bare = self.env["outbound.list"].create({"name": "Bare", "campaign_id": self.campaign.id})
        self._create_accounts(bare, 3)
        wizard = self._wizard(bare)
        self.assertTrue(wizard.no_address_alert)
        self.assertFalse(wizard.can_send_email)
        self.assertFalse(wizard.can_send_sms)
        self.assertIn("no account in scope has an email address", wizard.email_blockers)
        with self.assertRaisesRegex(UserError, "email address"):
            wizard.action_send_email()

    def test_list_without_campaign_is_refused(self):
        orphan = self.env["outbound.list"].create({"name": "Orphan"})
        with self.assertRaisesRegex(UserError, "Orphan.*not assigned to a campaign"):
            self.env["outbound.send.wizard"].with_context(
                active_model="outbound.list", active_id=orphan.id
            ).create({})

    # ---- BUTTONS AND RIGHTS

    def test_buttons_need_template_server_and_gateway(self):
        html = self.env["outbound.template"].create(
            {
                "name": "HTML",
                "campaign_id": self.campaign.id,
                "body_type": "html",
                "subject": "Hi",
                "body": "<p>Hi</p>",
            }
        )
        # The SMS template is chosen apart and never defaults to an HTML one; given one anyway
        # (an RPC script), Send SMS stays blocked.
        wizard = self._wizard(template_id=html.id)
        self.assertEqual(wizard.sms_template_id, self.template)
        wizard = self._wizard(template_id=html.id, sms_template_id=html.id)
        self.assertTrue(wizard.can_send_email)
        self.assertFalse(wizard.can_send_sms)
        self.assertIn("only text templates", wizard.sms_blockers)
        self.campaign.mail_server_id = False
        self.campaign.sms_gateway_id = False
        wizard = self._wizard()
        self.assertIn("no mail server", wizard.email_blockers)
        self.assertIn("no SMS gateway", wizard.sms_blockers)
        with self.assertRaisesRegex(UserError, "mail server"):
            wizard.action_send_email()
        self.assertFalse(self.env["outbound.send.job"].search([]))

    @users("ob_user")
    def test_user_sees_panel_but_server_refuses_to_send(self):
        wizard = self._wizard()
        self.assertEqual(wizard.count_with_email, 4)
        with self.assertRaises(AccessError):
            wizard.action_send_email()
        with self.assertRaises(AccessError):
            wizard.action_send_sms()
        self.assertFalse(self.env["outbound.send.job"].sudo().search([]))

    def test_send_buttons_are_hidden_from_users(self):
        arch = (
            self.env["outbound.send.wizard"]
            .with_user(self.user_outbound)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertNotIn('name="action_send_email"', arch)
        manager_arch = (
            self.env["outbound.send.wizard"]
            .with_user(self.user_manager)
            .get_views([(False, "form")])["views"]["form"]["arch"]
        )
        self.assertIn('name="action_send_email"', manager_arch)

    # ---- RECIPIENT RULES

    @users("ob_manager")
    def test_email_job_messages_explain_every_account(self):
        job = self._send("email")
        self.assertEqual(job.state, "scheduled")
        self.assertEqual(job.channel, "email")
        messages = self._messages(job)
        self.assertEqual(sorted(messages), ["N1", "N2", "N3", "N5", "S1", "S2"])
        self.assertEqual(
            {ref: m.state for ref, m in messages.items()},
            {
                "N1": "queued",
                "N2": "queued",
                "N3": "queued",
                "N5": "skipped",
                "S1": "skipped",
                "S2": "skipped",
            },
        )
        self.assertEqual(messages["N5"].failure_reason, "no email address")
        self.assertIn("same address as account N3", messages["S1"].failure_reason)
        self.assertEqual(messages["N1"].address, "n1@example.com")
        self.assertEqual((job.count_queued, job.count_skipped), (3, 3))

    @users("ob_manager")
    def test_sms_job_skips_invalid_numbers(self):
        job = self._send("sms")
        messages = self._messages(job)
        self.assertEqual(messages["N1"].address, "+447911100001")
        self.assertEqual(messages["S2"].address, "+33612345678")
        self.assertEqual(messages["N3"].state, "skipped")
        self.assertIn("invalid SMS number", messages["N3"].failure_reason)
        self.assertEqual(messages["N5"].failure_reason, "no SMS number")
        self.assertEqual(job.count_queued, 4)

    @users("ob_manager")
    def test_statuses_and_active_lists_only(self):
        completed = self.env.ref("outbound_bulk_messaging.account_status_completed")
        job = self._send("email", account_statuses=[(6, 0, completed.ids)])
        self.assertEqual(list(self._messages(job)), ["N4"])
        job = self._send("email", active_lists_only=True)
        self.assertEqual(sorted(self._messages(job)), ["N1", "N2", "N3", "N5"])

    @users("ob_manager")
    def test_recipients_tab_says_what_each_rule_leaves_out(self):
        self.env["mail.blacklist"].sudo().create({"email": "n1@example.com"})
        self.campaign.company_id.sudo().outbound_cap_count = 5  # else the cap's row is not shown
        wizard = self._wizard()
        self.assertEqual(
            self._summary_rows(wizard),
            [
                ["Who is left out", "Email", "SMS"],
                ["Accounts of the campaign or list", "7"],
                ["Status not ticked", "-1"],
                [
                    "2 of these accounts are in passive lists: ticking Active lists only would "
                    "leave them out."
                ],
                ["Invalid address", "0", "-1"],
                ["No address", "-2", "-1"],
                ["Blacklisted", "-1", "0"],
                ["Same address as another account", "-1", "0"],
                ["Frequency cap reached", "0", "0"],
                ["To send", "2", "4"],
            ],
        )
        self.assertEqual((wizard.count_sendable_email, wizard.count_sendable_sms), (2, 4))
        wizard.active_lists_only = True
        rows = self._summary_rows(wizard)
        self.assertIn(["In passive lists (Active lists only)", "-2"], rows)
        self.assertEqual(rows[-1], ["To send", "2", "2"])

    def _summary_rows(self, wizard):
        wizard.invalidate_recordset(["recipients_summary"])
        table = html.fromstring(str(wizard.recipients_summary))
        return [
            [" ".join(cell.text_content().split()) for cell in row.xpath("./th|./td")]
            for row in table.xpath(".//tr")
        ]

    def test_blacklists(self):
        self.env["mail.blacklist"].create({"email": "N1@Example.com"})
        self.env["phone.blacklist"].create({"number": "+447911100002"})
        email_messages = self._messages(self._send("email"))
        self.assertEqual(email_messages["N1"].state, "skipped")
        self.assertIn("blacklisted", email_messages["N1"].failure_reason)
        self.assertEqual(email_messages["N2"].state, "queued")
        sms_messages = self._messages(self._send("sms"))
        self.assertEqual(sms_messages["N2"].state, "skipped")
        self.assertIn("blacklisted", sms_messages["N2"].failure_reason)
        self.assertEqual(sms_messages["N1"].state, "queued")

    def test_resend_window(self):
        with freeze_time("2026-11-20 10:00:00"):
            first = self._send("email")
            first.outbound_message_ids.filtered(lambda m: m.state == "queued").write(
                {"state": "sent", "sent_at": datetime(2026, 11, 20, 10, 0)}
            )
        self._add_newcomer()  # so that a send within the window has someone to send to
        cases = [
            # (now, resend period, account N1 queued again?)
            ("2026-11-20 10:30:00", "all", True),
            ("2026-11-20 10:30:00", "hour", False),
            ("2026-11-20 11:30:00", "hour", True),
            ("2026-11-20 20:00:00", "day", False),
            ("2026-11-25 10:00:00", "week", False),
            ("2026-11-28 10:00:00", "week", True),
            ("2026-12-15 10:00:00", "month", False),
            ("2027-01-15 10:00:00", "month", True),
            ("2027-10-01 10:00:00", "year", False),
        ]
        for now, period, queued in cases:
            with self.subTest(now=now, period=period), freeze_time(now):
                job = self._send("email", resend_period=period)
                message = self._messages(job)["N1"]
                self.assertEqual(message.state == "queued", queued, message.failure_reason)
                if not queued:
                    self.assertIn(
                        "already sent to n1@example.com on 2026-11-20", message.failure_reason
                    )
                job.action_cancel()

    def test_resend_window_skips_what_another_job_is_about_to_send(self):
        self._send("email")
        self._add_newcomer()
        job = self._send("email", resend_period="day")
        message = self._messages(job)["N1"]
        self.assertEqual(message.state, "skipped")
        self.assertIn("already queued", message.failure_reason)
        self.assertEqual(self._messages(job)["N6"].state, "queued")

    def test_send_is_blocked_when_the_rules_skip_everyone(self):
        self._send("email")
        wizard = self._wizard(resend_period="day")
        self.assertEqual((wizard.count_with_email, wizard.count_sendable_email), (4, 0))
        self.assertFalse(wizard.can_send_email)
        self.assertIn("the recipient rules skip them all", wizard.email_blockers)
        jobs = self.env["outbound.send.job"].search_count([])
        with self.assertRaisesRegex(UserError, "Cannot send EMAIL: .* skip them all"):
            wizard.action_send_email()
        # Refused once its messages said so: the job and its skipped messages are gone.
        self.assertEqual(self.env["outbound.send.job"].search_count([]), jobs)
        # SMS is another channel: the email job does not count against it.
        self.assertEqual(wizard.count_sendable_sms, 4)
        self.assertTrue(wizard.can_send_sms)

    def test_a_message_row_checks_only_its_account_foreign_key(self):
        """A job inserts a row per account, each checking every foreign key of the row: only
        the account is (campaign, company and template are read through the job, the list
        through the account, there is no create/write log, and the job is checked once per
        statement by triggers)."""
        self.env.cr.execute(
            """
            SELECT array_agg(a.attname::text ORDER BY a.attname)
              FROM pg_constraint c
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
             WHERE c.conrelid = 'outbound_message'::regclass AND c.contype = 'f'
            """
        )
        self.assertEqual(self.env.cr.fetchone()[0], ["account_id"])

    def _insert_message(self, job_id, reference="X1"):
        self.env.cr.execute(
            "INSERT INTO outbound_message (job_id, account_reference, channel, state)"
            " VALUES (%s, %s, 'email', 'queued') RETURNING id",
            [job_id, reference],
        )
        return self.env.cr.fetchone()[0]

    def test_a_message_names_an_existing_job(self):
        job = self._send("email")
        created = len(job.outbound_message_ids)
        self._insert_message(job.id)  # an existing job: accepted
        missing = job.id + 1000
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaisesRegex(
                psycopg2.errors.ForeignKeyViolation, f"send job {missing} does not exist"
            ),
            self.env.cr.savepoint(),
        ):
            self._insert_message(missing)
        # One statement of several jobs: each is checked, the first missing one named.
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaisesRegex(
                psycopg2.errors.ForeignKeyViolation, f"send job {missing} does not exist"
            ),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(
                "INSERT INTO outbound_message (job_id, channel, state)"
                " VALUES (%s, 'email', 'queued'), (%s, 'email', 'queued')",
                [job.id, missing],
            )
        self.env.cr.execute("SELECT count(*) FROM outbound_message WHERE job_id = %s", [job.id])
        self.assertEqual(self.env.cr.fetchone()[0], created + 1)  # nothing of the refused ones

    def test_a_message_never_changes_job(self):
        first, second = self._send("email"), self._send("sms")
        message = first.outbound_message_ids[0]
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaisesRegex(
                psycopg2.errors.ForeignKeyViolation,
                f"message {message.id} cannot move from send job {first.id} to {second.id}",
            ),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(
                "UPDATE outbound_message SET job_id = %s WHERE id = %s", [second.id, message.id]
            )
        # Writing its other columns (as the dispatcher does) is not checked.
        self.env.cr.execute(
            "UPDATE outbound_message SET state = 'sending' WHERE job_id = %s", [first.id]
        )
        self.assertEqual(self.env.cr.rowcount, len(first.outbound_message_ids))

    def test_deleting_a_job_deletes_its_messages(self):
        first, second, third = self._send("email"), self._send("sms"), self._send("email")
        kept = third.outbound_message_ids
        self.assertTrue(kept)
        Message = self.env["outbound.message"]
        counted = Message.search_count([("job_id", "in", (first | second).ids)])
        self.assertEqual(counted, len(first.outbound_message_ids | second.outbound_message_ids))
        (first | second).unlink()
        self.env.invalidate_all()
        self.assertEqual(Message.search_count([("job_id", "in", (first | second).ids)]), 0)
        self.assertEqual(third.outbound_message_ids, kept)
        # Through the campaign's cascade to its jobs, and in plain SQL.
        self.env.cr.execute("DELETE FROM outbound_send_job WHERE id = %s", [third.id])
        self.env.cr.execute("SELECT count(*) FROM outbound_message WHERE id = ANY(%s)", [kept.ids])
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        fourth = self._send("email")
        ids = fourth.outbound_message_ids.ids
        self.assertTrue(ids)
        lists = self.env["outbound.list"].search([("campaign_id", "=", self.campaign.id)])
        lists.campaign_id = False  # a campaign's lists keep it from being deleted
        self.campaign.unlink()
        self.env.cr.execute("SELECT count(*) FROM outbound_message WHERE id = ANY(%s)", [ids])
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def _add_newcomer(self):
        return self.env["outbound.account"].create(
            {"list_id": self.list_active.id, "reference": "N6", "email": "n6@example.com"}
        )

    # ---- SCHEDULE

    @freeze_time("2026-11-27 09:00:00")
    def test_schedule_values_reach_the_job(self):
        job = self._send(
            "email",
            use_current_time=False,
            start_at=datetime(2026, 11, 27, 14, 30),
            batch_size=50,
            batch_interval=2,
            batch_interval_unit="hours",
        )
        self.assertEqual(job.start_at, datetime(2026, 11, 27, 14, 30))
        self.assertEqual(
            (job.batch_size, job.batch_interval, job.batch_interval_unit), (50, 2, "hours")
        )
        self.assertEqual(job.next_run_at, datetime(2026, 11, 27, 14, 30))
        trigger = self.env["ir.cron.trigger"].search(
            [("cron_id", "=", self.env.ref("outbound_bulk_messaging.ir_cron_dispatch").id)],
            order="id desc",
            limit=1,
        )
        self.assertEqual(trigger.call_at, datetime(2026, 11, 27, 14, 30))

    @freeze_time("2026-11-27 09:00:00")
    def test_start_time_in_the_past_starts_now(self):
        job = self._send(
            "email", use_current_time=False, start_at=datetime.now() - timedelta(days=2)
        )
        self.assertEqual(job.start_at, datetime(2026, 11, 27, 9, 0))

    # ---- PREVIEW

    def test_preview_renders_for_a_sample_account(self):
        wizard = self._wizard()
        self.assertEqual(wizard.preview_account_id.reference, "N1")
        self.assertEqual(wizard.preview_subject, "Your renewal, Nora")
        self.assertIn("your reference is N1", wizard.preview_body)
        self.assertIn("GSM-7", wizard.preview_sms_info)
        self.assertIn("1 segment", wizard.preview_sms_info)


@tagged("post_install", "-at_install")
class TestStaleFigures(SendingCase):
    """Send recounts figures over a minute old and does not send on numbers nobody saw."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_accounts(cls.list_active, 3, email="seen{}@example.com")
        # Nothing is dispatched here: the server only has to exist for Send.
        cls.campaign.mail_server_id = cls.env["ir.mail_server"].create(
            {"name": "Unused", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )

    def _jobs(self):
        return self.env["outbound.send.job"].search([("campaign_id", "=", self.campaign.id)])

    def test_changed_figures_come_back_instead_of_sending(self):
        with freeze_time("2026-12-01 09:00:00"):
            wizard = self._wizard()
        self.assertEqual(wizard.counted_sendable_email, 3)
        self._create_accounts(self.list_active, 2, start=10, email="late{}@example.com")
        with freeze_time("2026-12-01 09:02:00"):
            action = wizard.action_send_email()
        self.assertEqual((action["res_model"], action["res_id"]), (wizard._name, wizard.id))
        self.assertFalse(self._jobs(), "nothing sent on the old figures")
        self.assertIn("5 message(s) would now be sent instead of 3", wizard.stale_warning)
        # The user saw the new figures: the next click sends them.
        with freeze_time("2026-12-01 09:02:20"):
            action = wizard.action_send_email()
        job = self.env["outbound.send.job"].browse(action["res_id"])
        self.assertEqual(job.count_queued, 5)

    def test_old_figures_that_still_hold_are_sent(self):
        with freeze_time("2026-12-01 09:00:00"):
            wizard = self._wizard()
        with freeze_time("2026-12-01 09:30:00"):
            action = wizard.action_send_email()
        self.assertEqual(action["res_model"], "outbound.send.job")
        self.assertFalse(wizard.stale_warning)

    def test_fresh_figures_are_not_recounted(self):
        with freeze_time("2026-12-01 09:00:00"):
            wizard = self._wizard()
            self._create_accounts(self.list_active, 1, start=20, email="now{}@example.com")
        with freeze_time("2026-12-01 09:00:40"):
            action = wizard.action_send_email()
        self.assertEqual(self.env["outbound.send.job"].browse(action["res_id"]).count_queued, 4)


@tagged("post_install", "-at_install")
class TestDeferredFigures(SendingCase):
    """Above the sync limit, the recipient rules' figures are counted once the wizard is open
    (get_sendable_figures, which the form's widget calls); Send waits for them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_accounts(cls.list_active, 3, email="big{}@example.com", sms="07911 2000{:02d}")
        cls._create_accounts(cls.list_active, 1, start=10)  # no address: skipped
        cls.campaign.mail_server_id = cls.env["ir.mail_server"].create(
            {"name": "Unused", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )
        cls.env["ir.config_parameter"].set_param("outbound.panel_sync_limit", 3)

    def _scope(self, wizard):
        return {
            "campaign_id": wizard.campaign_id.id,
            "list_id": wizard.list_id.id,
            "account_statuses": wizard.account_statuses.ids,
            "active_lists_only": wizard.active_lists_only,
            "resend_period": wizard.resend_period,
            "template_id": wizard.template_id.id,
            "sms_template_id": wizard.sms_template_id.id,
        }

    @users("ob_manager")
    def test_the_wizard_opens_without_counting_then_gets_the_figures(self):
        wizard = self._wizard()
        self.assertEqual(wizard.count_accounts, 4, "the panel's own counts are there at once")
        self.assertTrue(wizard.pending_counts)
        self.assertEqual((wizard.count_sendable_email, wizard.recipients_summary), (0, False))
        self.assertFalse(wizard.can_send_email)
        self.assertIn("counting the messages of 4 accounts in scope", wizard.email_blockers)

        figures = wizard.get_sendable_figures(self._scope(wizard))
        self.assertFalse(figures["pending_counts"])
        self.assertEqual(figures["count_sendable_email"], 3)
        self.assertEqual(figures["counted_sendable_email"], 3)
        self.assertTrue(figures["can_send_email"])
        self.assertIn("To send", figures["recipients_summary"])
        # The same figures as counted while opening, below the limit.
        self.env["ir.config_parameter"].sudo().set_param("outbound.panel_sync_limit", 100)
        direct = self._wizard()
        self.assertFalse(direct.pending_counts)
        for name in ("count_sendable_email", "count_sendable_sms", "email_blockers"):
            self.assertEqual(figures[name] or False, direct[name] or False, name)
        self.assertEqual(figures["recipients_summary"], str(direct.recipients_summary))

    @users("ob_manager")
    def test_send_sends_what_the_figures_said(self):
        wizard = self._wizard()
        figures = wizard.get_sendable_figures(self._scope(wizard))
        wizard.write(
            {
                "counted_at": figures["counted_at"],
                "counted_sendable_email": figures["counted_sendable_email"],
            }
        )
        action = wizard.action_send_email()
        job = self.env["outbound.send.job"].browse(action["res_id"])
        self.assertEqual((job.count_queued, job.count_skipped), (3, 1))

    def test_figures_gone_stale_are_counted_again_at_send(self):
        with freeze_time("2026-12-01 09:00:00"):
            wizard = self._wizard()
            figures = wizard.get_sendable_figures(self._scope(wizard))
            wizard.write({"counted_at": figures["counted_at"], "counted_sendable_email": 3})
        self._create_accounts(self.list_active, 2, start=20, email="late{}@example.com")
        with freeze_time("2026-12-01 09:02:00"):
            action = wizard.action_send_email()
        self.assertEqual(action["res_model"], wizard._name, "nothing sent on old figures")
        self.assertIn("5 message(s) would now be sent instead of 3", wizard.stale_warning)

    def test_only_who_may_read_the_campaign_gets_its_figures(self):
        wizard = self._wizard()
        scope = self._scope(wizard)
        stranger = new_test_user(self.env, "ob_stranger", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.env["outbound.send.wizard"].with_user(stranger).get_sendable_figures(scope)
