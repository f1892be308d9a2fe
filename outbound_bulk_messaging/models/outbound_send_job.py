import logging
import re
import time
from datetime import timedelta

import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, formatLang

from ..channels import TransportBusy, channel_selection, get_channel
from ..engine import caps, dispatch, pacing, send_hours
from ..engine.errors import OutboundError, TemplateError
from .outbound_dispatcher import DISPATCH_CRON, commit
from .outbound_message import MESSAGE_STATES, OUTCOME_TALLIES
from .outbound_template import BODY_TYPES

_logger = logging.getLogger(__name__)

# The formats of the outcome report (controllers/report.py).
REPORT_FORMATS = ("csv", "xlsx")
# Characters of the first failure reason quoted in the warning of a batch.
LOGGED_REASON_LENGTH = 300

JOB_STATES = [
    ("to_approve", "To Approve"),
    ("scheduled", "Scheduled"),
    ("running", "Running"),
    ("paused", "Paused"),
    ("done", "Done"),
    ("cancelled", "Cancelled"),
    ("rejected", "Rejected"),
]
# States after which a job never sends again.
FINISHED_STATES = ("done", "cancelled", "rejected")
RESEND_PERIODS = [
    ("all", "All (send again)"),
    ("hour", "Not within the last hour"),
    ("day", "Not within the last day"),
    ("week", "Not within the last week"),
    ("month", "Not within the last month"),
    ("year", "Not within the last year"),
]
RESEND_DELTAS = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
# Tries of a job row write that lost a race with another dispatcher.
UPDATE_ATTEMPTS = 5
# What a Campaign Manager may still change on a job: its pace. The rest is its history, changed
# only by the job's own actions (which check the rights, then write as superuser).
EDITABLE_FIELDS = frozenset({"batch_size", "batch_interval", "batch_interval_unit"})
INTERVAL_UNITS = [("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")]
# A named placeholder of a translated text: %(name)s
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
USER_GROUP = "outbound_bulk_messaging.group_outbound_user"
# Live progress on the bus: one channel per company, ``(res.company, PROGRESS_CHANNEL)``, which
# ir.websocket subscribes the company's Outbound users to; the notification says which job and
# how far it got, never what was sent to whom.
PROGRESS_CHANNEL = "outbound.send.job"
PROGRESS_NOTIFICATION = "outbound.send.job/progress"
PROGRESS_FIELDS = (
    "count_total",
    "count_queued",
    "count_sending",
    "count_sent",
    "count_failed",
    "count_skipped",
    "progress",
)


class OutboundSendJob(models.Model):
    """A bulk send: who gets which template on which channel, at what pace.

    The job is created by the send wizard with one ``outbound.message`` per recipient (skipped
    ones included, with their reason) and then dispatched batch by batch by a cron.
    """

    _name = "outbound.send.job"
    _description = "Outbound Send Job"
    _inherit = ["mail.thread"]
    _order = "id desc"
    # The cron sends as superuser: the job must not point at another company's gateway,
    # template or list (it would send on that company's account or with its text).
    _check_company_auto = True

    name = fields.Char(required=True, readonly=True, default="/", copy=False)
    campaign_id = fields.Many2one(
        "outbound.campaign", required=True, readonly=True, index=True, ondelete="cascade"
    )
    list_id = fields.Many2one(
        "outbound.list",
        readonly=True,
        ondelete="set null",
        check_company=True,
        help="Empty: all lists of the campaign.",
    )
    company_id = fields.Many2one(
        related="campaign_id.company_id", store=True, index=True, readonly=True
    )
    user_id = fields.Many2one(
        "res.users", string="Sent By", readonly=True, default=lambda self: self.env.user
    )
    channel = fields.Selection(channel_selection(), required=True, readonly=True)
    # The job sends its own copy of the text (below), so the template may be edited or deleted
    # without changing a message of it; the link stays for the resend window and the history.
    template_id = fields.Many2one(
        "outbound.template", readonly=True, ondelete="set null", check_company=True
    )
    subject = fields.Char(readonly=True, help="The template's subject when the job was created.")
    body = fields.Text(readonly=True, help="The template's text when the job was created.")
    body_type = fields.Selection(BODY_TYPES, readonly=True)
    sms_max_segments = fields.Integer(string="Max SMS Segments", readonly=True)
    preview_account_id = fields.Many2one(
        "outbound.account", string="Preview For", compute="_compute_preview"
    )
    preview_subject = fields.Char(compute="_compute_preview")
    preview_body = fields.Html(compute="_compute_preview", sanitize=True)
    preview_error = fields.Char(compute="_compute_preview")
    account_statuses = fields.Many2many("outbound.account.status", readonly=True)
    resend_period = fields.Selection(RESEND_PERIODS, default="all", required=True, readonly=True)
    active_lists_only = fields.Boolean(readonly=True)
    start_at = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    batch_size = fields.Integer(string="How Many?", required=True, default=500)
    batch_interval = fields.Integer(string="How Often?", required=True, default=1)
    batch_interval_unit = fields.Selection(INTERVAL_UNITS, default="minutes", required=True)
    pace_display = fields.Char(
        string="Pace Asked",
        compute="_compute_pace",
        help="The pace asked, as the sending curve (per hour) can be compared with it.",
    )
    pace_per_hour = fields.Float(string="Asked per Hour", compute="_compute_pace", digits=(16, 1))
    state = fields.Selection(
        JOB_STATES, default="scheduled", required=True, readonly=True, tracking=True
    )
    state_reason = fields.Text(
        string="Paused Because",
        readonly=True,
        help="Why the job was paused, in the provider's words.",
    )
    # Four-eyes rule (campaign's Require Approval): who let the job go, or stopped it, and why.
    reviewer_id = fields.Many2one("res.users", string="Reviewed By", readonly=True)
    reviewed_at = fields.Datetime(readonly=True)
    rejection_reason = fields.Text(readonly=True)
    email_from = fields.Char(readonly=True)
    mail_server_id = fields.Many2one("ir.mail_server", readonly=True)
    sms_sender = fields.Char(string="SMS Sender", readonly=True)
    sms_gateway_id = fields.Many2one(
        "outbound.sms.gateway", string="SMS Gateway", readonly=True, check_company=True
    )
    send_calendar_id = fields.Many2one(
        "resource.calendar",
        string="Sending Hours",
        readonly=True,
        help="The campaign's sending hours when the job was created, read in each recipient's "
        "time zone. Empty: any time.",
    )
    send_hours_status = fields.Text(
        string="Waiting For Sending Hours",
        compute="_compute_send_hours_status",
        help="The queued messages whose recipients' sending hours are closed now, by time zone, "
        "and when they open.",
    )
    send_hours_next_at = fields.Datetime(
        string="Next Opening",
        compute="_compute_send_hours_status",
        help="When the sending hours next open for a message that waits for them.",
    )
    outbound_message_ids = fields.One2many("outbound.message", "job_id", string="Outbound Messages")
    count_total = fields.Integer(compute="_compute_counts", string="Total Messages")
    count_queued = fields.Integer(compute="_compute_counts", string="Awaiting")
    count_sending = fields.Integer(compute="_compute_counts", string="Sending")
    count_sent = fields.Integer(compute="_compute_counts", string="Sent")
    count_failed = fields.Integer(compute="_compute_counts", string="Failed")
    count_skipped = fields.Integer(compute="_compute_counts", string="Skipped")
    count_delivered = fields.Integer(compute="_compute_counts", string="Delivered")
    count_undelivered = fields.Integer(
        compute="_compute_counts",
        string="Undelivered",
        help="Texts the carrier did not deliver: undelivered, expired or rejected.",
    )
    count_bounced = fields.Integer(compute="_compute_counts", string="Bounced")
    count_replied = fields.Integer(compute="_compute_counts", string="Replies")
    progress = fields.Float(compute="_compute_counts", string="Progress (%)")
    next_run_at = fields.Datetime(string="Next Batch", readonly=True)
    error_streak = fields.Integer(
        readonly=True,
        help="Sends in a row whose outcome is unknown (timeout, dropped connection, server "
        "error); the job pauses when it reaches the campaign's or the gateway's limit.",
    )
    done_at = fields.Datetime(readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    # Floats, not Monetary: a segment costs fractions of a cent, a total rounded to cents would
    # no longer be the sum of the provider's prices.
    sms_cost_estimate = fields.Float(
        string="Estimated SMS Cost",
        digits=(16, 5),
        readonly=True,
        help="What the send screen estimated before sending: each account's own text in "
        "segments, times the gateway's price per segment in its country.",
    )
    sms_cost = fields.Float(
        string="SMS Cost",
        digits=(16, 5),
        compute="_compute_sms_cost",
        help="The sum of the prices the provider reported for the texts it accepted.",
    )

    _sql_constraints = [
        ("batch_size_positive", "CHECK(batch_size > 0)", "How Many? must be at least 1."),
        ("batch_interval_positive", "CHECK(batch_interval > 0)", "How Often? must be at least 1."),
    ]

    def _compute_counts(self):
        counts = self._get_message_counts()
        for job in self:
            job_counts = counts.get(job.id, {})
            values = {
                f"count_{state}": job_counts.get(state, 0)
                for state in ("queued", "sending", "sent", "failed", "skipped")
            }
            values["count_total"] = sum(values.values())
            to_send = values["count_total"] - values["count_skipped"]
            finished = values["count_sent"] + values["count_failed"]
            values["progress"] = 100.0 * finished / to_send if to_send else 100.0
            values.update({name: job_counts.get(name, 0) for name in OUTCOME_TALLIES})
            job.update(values)

    @api.depends("batch_size", "batch_interval", "batch_interval_unit")
    def _compute_pace(self):
        for job in self:
            if job.batch_size < 1 or job.batch_interval < 1 or not job.batch_interval_unit:
                job.update({"pace_display": False, "pace_per_hour": 0.0})
                continue
            per_hour = job.batch_size * 3600 / job._get_interval().total_seconds()
            pace = self.env._(
                "%(size)s per %(interval)s", size=job.batch_size, interval=job._get_pace_text()
            )
            if job._get_interval() != timedelta(hours=1):
                pace = self.env._(
                    "%(pace)s (%(per_hour)s per hour)",
                    pace=pace,
                    per_hour=formatLang(self.env, per_hour, digits=0 if per_hour >= 10 else 1),
                )
            job.update({"pace_display": pace, "pace_per_hour": per_hour})

    def _get_pace_text(self):
        """The pace's interval as a sentence says it: "minute", "5 minutes"."""
        if self.batch_interval == 1:
            return {
                "minutes": self.env._("minute"),
                "hours": self.env._("hour"),
                "days": self.env._("day"),
            }[self.batch_interval_unit]
        units = {
            "minutes": self.env._("minutes"),
            "hours": self.env._("hours"),
            "days": self.env._("days"),
        }
        return f"{self.batch_interval} {units[self.batch_interval_unit]}"

    def _compute_preview(self):
        """The job's own text rendered for its first recipient: what a reviewer approves."""
        for job in self:
            values = dict.fromkeys(("preview_subject", "preview_body", "preview_error"), False)
            account = job._get_preview_account()
            if account and job.body:
                try:
                    rendered = self.env["outbound.template"]._render_context(
                        job._compile(), account._get_render_context()
                    )
                except TemplateError as error:
                    values["preview_error"] = str(error)
                else:
                    preview = self.env["outbound.template"]._format_preview(rendered)
                    values.update(preview_subject=preview["subject"], preview_body=preview["body"])
            job.update(dict(values, preview_account_id=account))

    def _get_preview_account(self):
        if not self.id:
            return self.env["outbound.account"]
        message = self.env["outbound.message"].search(
            [("job_id", "=", self.id), ("state", "!=", "skipped"), ("account_id", "!=", False)],
            order="id",
            limit=1,
        )
        return message.account_id

    def _compute_sms_cost(self):
        costs = {}
        if self.ids:
            self.env["outbound.message"].flush_model(["job_id", "sms_price"])
            self.env.cr.execute(
                SQL(
                    "SELECT job_id, sum(sms_price) FROM outbound_message"
                    " WHERE job_id = ANY(%s) AND sms_price IS NOT NULL GROUP BY job_id",
                    self.ids,
                )
            )
            costs = dict(self.env.cr.fetchall())
        for job in self:
            job.sms_cost = costs.get(job.id, 0.0)

    def _get_message_counts(self):
        """{job id: {state: count, outcome count field: count}}: the messages by state and what
        came back (:data:`OUTCOME_TALLIES`), summed from the running counts (outbound.tally),
        not counted: a few rows per job whatever its size."""
        if not self.ids:
            return {}
        columns = {
            state: SQL("coalesce(sum(n) FILTER (WHERE state = %s), 0)::bigint", state)
            for state, _label in MESSAGE_STATES
        } | OUTCOME_TALLIES
        rows = self.env["outbound.tally"]._read(
            "message",
            SQL("t.job_id = ANY(%s)", self.ids),
            [SQL("t.job_id")],
            list(columns.values()),
        )
        return {job_id: dict(zip(columns, row, strict=True)) for job_id, *row in rows}

    def _compute_send_hours_status(self):
        now = fields.Datetime.now()
        for job in self:
            waiting = []
            if job.send_calendar_id and job.state in ("scheduled", "running"):
                try:
                    waiting = [item for item in job._get_zone_states(now) if not item[0].is_open]
                except UserError as error:
                    job.send_hours_next_at, job.send_hours_status = False, str(error)
                    continue
            waiting.sort(key=lambda item: item[0].opens_at or now + send_hours.SEARCH_HORIZON)
            opens = [state.opens_at for state, _count in waiting if state.opens_at]
            job.send_hours_next_at = min(opens, default=False)
            job.send_hours_status = "\n".join(job._describe_waiting(*item) for item in waiting)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("outbound.send.job") or "/"
            if "state" not in vals and vals.get("campaign_id"):
                campaign = self.env["outbound.campaign"].browse(vals["campaign_id"])
                vals["state"] = "to_approve" if campaign.require_approval else "scheduled"
            if vals.get("template_id") and "body" not in vals:
                template = self.env["outbound.template"].browse(vals["template_id"])
                for name, value in template._get_frozen_values().items():
                    vals.setdefault(name, value)
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su and not set(vals) <= EDITABLE_FIELDS:
            raise AccessError(
                self.env._(
                    "Only the pace of a send job can be changed (%(fields)s); the rest is "
                    "its history.",
                    fields=", ".join(sorted(set(vals) - EDITABLE_FIELDS)),
                )
            )
        return super().write(vals)

    # ---- ACTIONS

    def action_pause(self):
        self._check_can_manage()
        for job in self.filtered(lambda job: job.state in ("scheduled", "running")):
            job._pause(self.env._("Paused by %s.", self.env.user.name), by_user=True)
        return True

    def action_resume(self):
        self._check_can_manage()
        for job in self.filtered(lambda job: job.state == "paused"):
            job.sudo().write({"state": "scheduled", "state_reason": False, "error_streak": 0})
            job._schedule_dispatch(max(job.start_at, fields.Datetime.now()))
        return True

    def action_cancel(self):
        """Stop the job: what is still queued is skipped, nothing already sent is touched."""
        self._check_can_manage()
        jobs = self.filtered(lambda job: job.state not in FINISHED_STATES)
        if not jobs:
            return True
        jobs._skip_queued()
        jobs.sudo().write({"state": "cancelled", "done_at": fields.Datetime.now()})
        return True

    def action_approve(self):
        """Another Campaign Manager lets a job waiting for approval go: it is scheduled."""
        self._check_can_review()
        now = fields.Datetime.now()
        for job in self:
            job.sudo().write(
                {"state": "scheduled", "reviewer_id": self.env.uid, "reviewed_at": now}
            )
            job.message_post(body=self.env._("Approved by %s.", self.env.user.name))
            job._schedule_dispatch(max(job.start_at, now))
        return True

    def action_reject(self, reason=None):
        """Another Campaign Manager refuses a job waiting for approval, saying why: nothing of
        it is sent. Without ``reason`` (the button), opens the dialog that asks for it."""
        self._check_can_review()
        reason = (reason or "").strip()
        if not reason:
            return self._get_reject_action()
        self._skip_queued(self.env._("job rejected: %s", reason))
        self.sudo().write(
            {
                "state": "rejected",
                "reviewer_id": self.env.uid,
                "reviewed_at": fields.Datetime.now(),
                "rejection_reason": reason,
                "done_at": fields.Datetime.now(),
            }
        )
        for job in self:
            job.message_post(
                body=self.env._(
                    "Rejected by %(user)s: %(reason)s", user=self.env.user.name, reason=reason
                )
            )
        return True

    def action_view_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "outbound_bulk_messaging.outbound_message_action"
        )
        action["domain"] = [("job_id", "=", self.id)]
        action["context"] = {"search_default_group_by_state": 1}
        return action

    def action_view_sending_curve(self):
        """The job's messages per hour they were tried (line chart, one line per state), named
        with the pace asked to compare them with."""
        self.ensure_one()
        return self.env["outbound.message"]._get_analysis_action(
            [("job_id", "=", self.id)],
            name=self.env._(
                "Sending Curve of %(job)s (asked: %(pace)s)", job=self.name, pace=self.pace_display
            ),
            hourly=True,
        )

    def action_download_report(self):
        """Download the outcome report: one row per message, CSV or XLSX
        (``report_format`` in the context); the route checks the right to read the job."""
        self.ensure_one()
        file_format = self.env.context.get("report_format")
        file_format = file_format if file_format in REPORT_FORMATS else "csv"
        return {
            "type": "ir.actions.act_url",
            "url": f"/outbound/job/{self.id}/report.{file_format}",
            "target": "download",
        }

    def action_retry_failed(self):
        """Requeue every failed message of the job ("Retry failed")."""
        self.ensure_one()
        failed = self.env["outbound.message"].search(
            [("job_id", "=", self.id), ("state", "=", "failed")]
        )
        if not failed:
            raise UserError(self.env._("Job %s has no failed message.", self.name))
        return failed.action_retry()

    def _skip_queued(self, reason=None):
        """Skip what is still queued in these jobs: it will not be sent."""
        self.env.cr.execute(
            """
            UPDATE outbound_message SET state = 'skipped', failure_reason = %s
             WHERE job_id = ANY(%s) AND state = 'queued'
            """,
            [reason or self.env._("job cancelled before it was sent"), self.ids],
        )
        self.env["outbound.message"].invalidate_model(["state", "failure_reason"])

    def _check_can_manage(self):
        """Only those who may edit the campaign's properties may send, pause or cancel."""
        self.campaign_id.check_access("write")
        self.check_access("write")

    def _check_can_review(self):
        """Approve or reject: a Campaign Manager other than the one who sent the job, while it
        waits for approval. The rows are locked first: two reviewers cannot both decide."""
        self._check_can_manage()
        self.env.cr.execute(
            SQL("SELECT id FROM outbound_send_job WHERE id = ANY(%s) FOR UPDATE", self.ids)
        )
        self.invalidate_recordset(["state"])
        for job in self:
            if job.state != "to_approve":
                raise UserError(self.env._("Job %s is not waiting for approval.", job.name))
            if self.env.user in job.user_id | job.create_uid:
                raise UserError(
                    self.env._(
                        "You sent job %s: another Campaign Manager must approve or reject it.",
                        job.name,
                    )
                )

    def _get_reject_action(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reject Send Job"),
            "res_model": "outbound.send.job.reject",
            "view_mode": "form",
            "target": "new",
            "context": {"default_job_ids": self.ids},
        }

    def _submit(self):
        """After creation: due for dispatch at its start, or waiting for approval."""
        self.ensure_one()
        if self.state == "to_approve":
            self.message_post(
                body=self.env._("Waiting for the approval of another Campaign Manager.")
            )
            return
        self._schedule_dispatch(self.start_at)

    # ---- RECIPIENTS

    def _create_messages(self):
        """Insert one message per account in scope, in one set-based statement.

        Accounts that cannot be sent to get a ``skipped`` message with the reason, so every
        figure on the status panel can be explained message by message.
        """
        self.ensure_one()
        self.env.flush_all()
        self.env.cr.execute(self._get_recipients_query())
        count = self.env.cr.rowcount
        self.env["outbound.message"].invalidate_model()
        _logger.info("Send job %s: %d messages created", self.name, count)
        return count

    def _get_recipients_query(self):
        """The ``INSERT … SELECT`` of this job's messages, as one :class:`~odoo.tools.SQL`.

        Ordered by account: the messages are claimed in id order, so they go out in the order
        of the accounts.
        """
        return SQL(
            """
            INSERT INTO outbound_message (
                job_id, account_id, account_reference, channel, address, recipient_tz, state,
                failure_reason)
            SELECT %(job)s, account_id, reference, %(channel)s, address, recipient_tz,
                   CASE WHEN reason IS NULL THEN 'queued' ELSE 'skipped' END, reason
              FROM (%(recipients)s) AS verdict
             ORDER BY account_id
            """,
            recipients=self._get_recipients_select(),
            job=self.id,
            channel=self.channel,
        )

    def _get_recipients_select(self, verdict=None):
        """Every account in scope with its address and its skip reason (NULL: it is sent to),
        or ``verdict`` (an SQL expression over ``r``) in place of the reason.

        The one definition of who a job sends to: the job inserts its rows and the send wizard
        counts them before sending (on a job not yet created, ``new()``), so the panel's
        "sendable" figure is what the job will queue.
        """
        channel = get_channel(self.channel)
        scope = self.env["outbound.account"]._get_scope_sql(
            self.campaign_id, self.list_id, self.account_statuses, self.active_lists_only
        )
        return SQL(
            """
            WITH scope AS (
                SELECT a.id AS account_id, a.list_id, a.reference, %(address)s AS address,
                       a.email_error, a.sms_number, a.sms_number_error,
                       %(time_zone)s AS recipient_tz
                  FROM outbound_account a
                  JOIN outbound_list l ON l.id = a.list_id
                 WHERE %(scope)s
            ),
            r AS (
                SELECT scope.*,
                       first_value(reference) OVER same_address AS first_reference,
                       row_number() OVER same_address AS rank
                  FROM scope
                WINDOW same_address AS (PARTITION BY address ORDER BY account_id)
            )
            SELECT r.account_id, r.reference, r.address, r.recipient_tz,
                   %(reason)s AS reason
              FROM r
            """,
            address=channel.address_sql("a"),
            time_zone=self._get_recipient_tz_sql(channel),
            scope=scope,
            reason=self._get_skip_reason_sql() if verdict is None else verdict,
        )

    def _get_recipient_tz_sql(self, channel):
        """The zone(s) a message's sending hours are read in, over the account ``a``: the
        channel's (the number's zones, the imported zone), else the calendar's own."""
        column = channel.time_zone_sql("a")
        if not self.send_calendar_id.tz:
            return column
        return SQL("coalesce(%s, %s)", column, self.send_calendar_id.tz)

    def _count_sendable(self):
        """How many messages this job queues (or would queue, on a ``new()`` job)."""
        return self._count_by_rule()[None]

    def _count_by_rule(self):
        """{rule label: accounts it leaves out, None: accounts sent to}, rules in their order
        (first match wins, as in the job), a rule that leaves nobody out counted 0."""
        specs = [(label, rule) for label, rule in self._get_recipient_rule_specs() if rule]
        counts = dict.fromkeys([label for label, _rule in specs], 0)
        counts[None] = 0
        verdict = SQL("NULL::int")
        if specs:
            verdict = SQL(
                "CASE %s END",
                SQL(" ").join(
                    SQL("WHEN %s THEN %s", rule[0], index) for index, (_l, rule) in enumerate(specs)
                ),
            )
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT reason, count(*) FROM (%s) AS verdict GROUP BY reason",
                self._get_recipients_select(verdict),
            )
        )
        for index, count in self.env.cr.fetchall():
            counts[None if index is None else specs[index][0]] = count
        return counts

    def _get_skip_reason_sql(self):
        """``CASE`` giving each recipient row ``r`` its skip reason (NULL: it is sent to)."""
        rules = [rule for rule in self._get_recipient_rules() if rule]
        if not rules:
            return SQL("NULL::text")
        branches = SQL(" ").join(
            SQL("WHEN %s THEN %s", condition, reason) for condition, reason in rules
        )
        return SQL("CASE %s END", branches)

    def _get_recipient_rules(self):
        """Each rule is ``(condition, reason)`` over the recipient row ``r``, first match wins;
        ``None`` for a rule that does not apply to this job."""
        return [rule for _label, rule in self._get_recipient_rule_specs()]

    def _get_recipient_rule_specs(self):
        """``(label, rule)`` of each recipient rule, in order: the label names the rule on the
        wizard's Recipients tab. Another addon adds a rule by extending this list or one of the
        ``_rule_*`` methods (which return ``None`` when they do not apply)."""
        return [
            (self.env._("Invalid address"), self._rule_invalid_address()),
            (self.env._("No address"), self._rule_no_address()),
            (self.env._("Blacklisted"), self._rule_blacklisted()),
            (self.env._("Same address as another account"), self._rule_duplicate()),
            (self.env._("Already sent within the resend window"), self._rule_sent_recently()),
            (self.env._("Already queued in another job"), self._rule_queued_elsewhere()),
            (self.env._("Frequency cap reached"), self._rule_frequency_cap()),
        ]

    def _sql_id(self):
        """This job's id in the rules' SQL; 0 for a job not created yet (the wizard's count)."""
        return self.id or 0

    def _rule_invalid_address(self):
        channel = get_channel(self.channel)
        return (
            SQL("r.address IS NULL AND %s", channel.invalid_sql("r")),
            _sql_text(channel.invalid_reason(self.env), error=channel.invalid_detail_sql("r")),
        )

    def _rule_no_address(self):
        return SQL("r.address IS NULL"), SQL(
            "%s", get_channel(self.channel).no_address_reason(self.env)
        )

    def _rule_blacklisted(self):
        channel = get_channel(self.channel)
        blacklist = self.env[channel.blacklist_model]
        condition = SQL(
            "EXISTS (SELECT 1 FROM %s b WHERE %s = r.address AND b.active)",
            SQL.identifier(blacklist._table),
            SQL.identifier("b", channel.blacklist_column),
        )
        return condition, _sql_text(
            self.env._("%(address)s is blacklisted"), address=SQL("r.address")
        )

    def _rule_duplicate(self):
        return SQL("r.rank > 1"), _sql_text(
            self.env._("same address as account %(reference)s in this job"),
            reference=SQL("r.first_reference"),
        )

    def _rule_sent_recently(self):
        if self.resend_period == "all":
            return None
        # The address's texts sent in the window (outbound_message_sent_address_idx), then
        # their jobs' template.
        sent = SQL(
            """
            SELECT max(m.sent_at) FROM outbound_message m
              JOIN outbound_send_job j ON j.id = m.job_id
             WHERE m.address = r.address AND m.channel = %(channel)s
               AND m.state = 'sent' AND m.sent_at >= %(cutoff)s
               AND j.template_id = %(template)s AND j.id != %(job)s
            """,
            template=self.template_id.id,
            channel=self.channel,
            job=self._sql_id(),
            cutoff=fields.Datetime.now() - RESEND_DELTAS[self.resend_period],
        )
        period = dict(self._fields["resend_period"]._description_selection(self.env))
        reason = _sql_text(
            self.env._(
                "this template was already sent to %(address)s on %(date)s "
                "(resend window: %(period)s)"
            ),
            address=SQL("r.address"),
            date=SQL("to_char((%s), 'YYYY-MM-DD HH24:MI')", sent),
            period=SQL("%s", period[self.resend_period]),
        )
        return SQL("(%s) IS NOT NULL", sent), reason

    def _rule_queued_elsewhere(self):
        # Also skip an address another job is about to send this template to: two jobs
        # created in a row must not send it twice within the window.
        if self.resend_period == "all":
            return None
        # The address's pending messages (outbound_message_pending_address_idx), then their
        # jobs' template.
        pending = SQL(
            """
            SELECT j.name FROM outbound_message m JOIN outbound_send_job j ON j.id = m.job_id
             WHERE m.address = r.address AND m.channel = %(channel)s
               AND m.state IN ('queued', 'sending')
               AND j.template_id = %(template)s AND j.id != %(job)s
             ORDER BY m.id LIMIT 1
            """,
            template=self.template_id.id,
            channel=self.channel,
            job=self._sql_id(),
        )
        reason = _sql_text(
            self.env._("this template is already queued for %(address)s in job %(job)s"),
            address=SQL("r.address"),
            job=SQL("(%s)", pending),
        )
        return SQL("(%s) IS NOT NULL", pending), reason

    def _rule_frequency_cap(self):
        """Skip an address that already got the company's cap of messages on this channel in
        the current period, from any campaign. What other jobs still have queued counts too:
        two campaigns sent the same day must not both pass under the cap.

        The capped addresses are aggregated once (PostgreSQL hashes the uncorrelated ``IN``),
        not counted row by row: a job of 100 000 recipients pays one scan of the period's
        messages of the company's jobs on the channel, through the job's partial indexes of
        ``outbound.message`` (sent, by time; still to send, by state).
        """
        company = self.company_id
        cap = company.outbound_cap_count
        if cap <= 0:
            return None
        jobs = SQL(
            "SELECT j.id FROM outbound_send_job j"
            " WHERE j.company_id = %s AND j.channel = %s AND j.id != %s",
            company.id,
            self.channel,
            self._sql_id(),
        )
        capped = SQL(
            """
            SELECT x.address FROM (
                SELECT m.address FROM outbound_message m
                 WHERE m.job_id IN (%(jobs)s) AND m.state = 'sent' AND m.sent_at >= %(start)s
                UNION ALL
                SELECT m.address FROM outbound_message m
                 WHERE m.job_id IN (%(jobs)s) AND m.state IN ('queued', 'sending')
            ) AS x
             GROUP BY x.address HAVING count(*) >= %(cap)s
            """,
            jobs=jobs,
            start=caps.period_start(company.outbound_cap_period, fields.Datetime.now()),
            cap=cap,
        )
        periods = dict(company._fields["outbound_cap_period"]._description_selection(self.env))
        reason = _sql_text(
            self.env._(
                "frequency cap: %(address)s already has %(cap)s message(s) on this channel, "
                "sent this %(period)s or queued"
            ),
            address=SQL("r.address"),
            cap=SQL("%s::text", cap),
            period=SQL("%s", periods[company.outbound_cap_period].lower()),
        )
        return SQL("r.address IN (%s)", capped), reason

    # ---- SCHEDULING

    def _get_interval(self):
        self.ensure_one()
        return pacing.interval(self.batch_interval, self.batch_interval_unit)

    def _schedule_dispatch(self, when=None):
        """Wake the dispatch cron when this job's next batch is due, not a cron interval later."""
        when = when or fields.Datetime.now()
        if self.next_run_at == when and when > fields.Datetime.now():
            return  # already planned: a waiting job must not pile up triggers
        self.sudo().write({"next_run_at": when})
        for cron in self._get_dispatch_crons():
            cron._trigger(at=when)

    @api.model
    def _get_dispatch_crons(self, active=True):
        """The scheduled actions that dispatch, the shipped one first, then its copies by id.

        Odoo runs one scheduled action in one worker at a time; *Settings > Outbound >
        Dispatchers* keeps that many copies active so that several workers or servers send at
        once (``outbound.dispatcher._sync_dispatch_crons``), and every copy is woken when a
        batch is due. Copies an administrator made by hand count as well.
        """
        crons = (
            self.env["ir.cron"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("model_id.model", "=", self._name),
                    ("code", "=", "model._cron_dispatch()"),
                    ("active", "=", active),
                ],
                order="id",
            )
        )
        shipped = self.env.ref(DISPATCH_CRON, raise_if_not_found=False)
        return crons.sorted(lambda cron: cron != shipped)

    def _pause(self, reason, by_user=False):
        self.ensure_one()
        if not by_user:
            _logger.warning("Send job %s paused: %s", self.name, reason)
        self.sudo().write({"state": "paused", "state_reason": reason})
        self.message_post(body=self.env._("Job paused: %s", reason))

    def _requeued(self, messages):
        self.ensure_one()
        self.message_post(
            body=self.env._(
                "%(count)s failed message(s) requeued by %(user)s.",
                count=len(messages),
                user=self.env.user.name,
            )
        )
        # A paused job stays paused until resumed; any other is reopened for these messages.
        if self.state != "paused":
            self.sudo().write({"state": "scheduled", "done_at": False})
            self._schedule_dispatch()

    def _window_room(self, now):
        """(window, messages the pace still allows in it), counted from the messages claimed."""
        window = pacing.window(self.start_at, self._get_interval(), now)
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT count(*) FROM outbound_message WHERE job_id = %s AND claimed_at >= %s",
                self.id,
                window.start,
            )
        )
        used = self.env.cr.fetchone()[0]
        return window, pacing.allowance(self.batch_size, used, due=window.due)

    # ---- DISPATCH (the work is done by outbound.dispatcher)

    def init(self):
        # Numbers of dispatch batches; each is an advisory lock key, so int4 and cycling.
        self.env.cr.execute(
            "CREATE SEQUENCE IF NOT EXISTS outbound_message_batch_seq MAXVALUE 2147483647 CYCLE"
        )
        # Jobs created before jobs kept their own text: they freeze their template's now.
        self.env.cr.execute(
            """
            UPDATE outbound_send_job j
               SET subject = t.subject, body = t.body, body_type = t.body_type,
                   sms_max_segments = t.sms_max_segments
              FROM outbound_template t
             WHERE t.id = j.template_id AND j.body IS NULL
            """
        )

    def _compile(self):
        """The job's own copy of the text, compiled: what it sends whatever became of the
        template since (edited, deleted)."""
        self.ensure_one()
        # Without its template the job accepts any $ACCOUNT_<COLUMN>: one an account lacks
        # fails that message when rendered.
        columns = self.template_id._get_known_columns() if self.template_id else None
        text = {"subject": self.subject, "body": self.body, "body_type": self.body_type}
        return self.env["outbound.template"]._compile_text(text, columns)

    @api.model
    def _cron_dispatch(self):
        """Scheduled action *Outbound: send due batches*: see ``outbound.dispatcher._run``."""
        return self.env["outbound.dispatcher"]._run()

    @api.model
    def _count_ready_messages(self):
        return self.env["outbound.dispatcher"]._count_ready_messages()

    @api.model
    def _recover_interrupted(self):
        return self.env["outbound.dispatcher"]._recover_interrupted()

    def _update_job(self, values=None, pause=None, finish=False):
        """Write this job's row in a transaction of its own, again if another dispatcher won."""
        for attempt in range(1, UPDATE_ATTEMPTS + 1):
            try:
                # Locked first: from then on nobody else can change the row under this
                # transaction's snapshot. Losing the race is expected, hence no error log.
                self.env.cr.execute(
                    "SELECT id FROM outbound_send_job WHERE id = %s FOR UPDATE",
                    [self.id],
                    log_exceptions=False,
                )
                self.invalidate_recordset()
                if values:
                    self.sudo().write(values)
                if pause and self.state in ("scheduled", "running"):
                    self._pause(pause)
                if finish:
                    self._finish_or_reschedule()
                commit(self.env.cr)
                return
            except psycopg2.errors.SerializationFailure:
                if attempt == UPDATE_ATTEMPTS:
                    raise
                self.env.cr.rollback()
                time.sleep(0.05 * attempt)

    def _log_failed_batch(self, batch_id, result):
        """One warning per batch that failed messages: the job, how many, their ids and the first
        reason, rather than a line per message (every reason is on its message and in the
        outcome report). Logged here, with the job's other warnings (a pause)."""
        failed = [outcome for outcome in result.outcomes if outcome.state == dispatch.FAILED]
        if not failed:
            return
        # On one line, however many lines the provider's reply had.
        reason = " ".join(str(failed[0].reason or "").split())
        if len(reason) > LOGGED_REASON_LENGTH:
            reason = reason[: LOGGED_REASON_LENGTH - 1] + "…"
        _logger.warning(
            "Send job %s (id %s): %d of %d messages failed in batch %s: ids %s — first reason: %s",
            self.name,
            self.id,
            len(failed),
            len(result.outcomes),
            batch_id,
            ", ".join(str(outcome.message_id) for outcome in failed),
            reason,
        )

    def _finish_or_reschedule(self):
        if self.state == "cancelled":
            # A batch in flight when the job was cancelled put its untried messages back.
            self._skip_queued()
            return
        if self.state not in ("scheduled", "running"):
            return
        counts = self._get_message_counts().get(self.id, {})
        if not counts.get("queued") and not counts.get("sending"):
            self.sudo().write(
                {"state": "done", "done_at": fields.Datetime.now(), "next_run_at": False}
            )
            self.message_post(body=self._get_done_summary(counts))
            # The last batch's notification was read while the job still ran: say it is done,
            # in this transaction (a retry of _update_job sends it again).
            self._send_progress()
            return
        now = fields.Datetime.now()
        window, room = self._window_room(now)
        when = now if room and counts.get("queued") else window.end
        if counts.get("queued"):
            when = self._get_send_hours_opening(when) or when
        self._schedule_dispatch(when)

    # ---- SENDING HOURS

    def _get_zone_states(self, now):
        """``[(ZoneState, queued count)]`` of each zone value still queued in the job.

        One aggregate query (the partial index on queued (job, zone) serves it), then the engine
        decides once per distinct value: a job of 100 000 messages has a handful of them.
        """
        self.ensure_one()
        if not self.send_calendar_id:
            return []
        self.env["outbound.message"].flush_model(["job_id", "state", "recipient_tz"])
        self.env.cr.execute(
            SQL(
                "SELECT recipient_tz, count(*) FROM outbound_message"
                " WHERE job_id = %s AND state = 'queued' GROUP BY recipient_tz",
                self.id,
            )
        )
        counts = dict(self.env.cr.fetchall())
        hours = self.send_calendar_id._get_outbound_send_hours(now)
        states = send_hours.zone_states(hours, counts, now, self.send_calendar_id.tz)
        return [(states[value], count) for value, count in counts.items()]

    def _get_send_gate(self, now):
        """The engine's :class:`~..engine.send_hours.Gate` at ``now``; ``None``: no hours."""
        if not self.send_calendar_id:
            return None
        return send_hours.gate(state for state, _count in self._get_zone_states(now))

    def _get_send_hours_opening(self, when):
        """The first instant from ``when`` at which a queued message's hours are open (``None``
        without sending hours, or when none opens within the engine's horizon)."""
        if not self.send_calendar_id:
            return None
        opens = [state.opens_at for state, _count in self._get_zone_states(when) if state.opens_at]
        return min(opens, default=None)

    def _describe_waiting(self, state, count):
        zones = " + ".join(state.zones)
        if not state.opens_at:
            return self.env._(
                "%(count)s message(s) wait for sending hours: %(zones)s does not open within a "
                "year (check the calendar's hours and holidays)",
                count=formatLang(self.env, count, digits=0),
                zones=zones,
            )
        local = send_hours.local_time(state.opens_at, state.zones[0])
        return self.env._(
            "%(count)s message(s) wait for sending hours: %(zones)s opens at %(time)s on "
            "%(date)s (local time)",
            count=formatLang(self.env, count, digits=0),
            zones=zones,
            time=local.strftime("%H:%M"),
            date=local.strftime("%Y-%m-%d"),
        )

    def _send_test(self, address, account):
        """Send ``account``'s message of this job to ``address`` alone, marked as a test, through
        the transport a dispatch uses. No message row is written: no panel, resend window or
        cap counts it. Used on an unsaved job (``new``) by the send wizard."""
        self.ensure_one()
        payload = {
            "id": "test",
            "address": address,
            "context": account._get_render_context(),
            "test": True,
        }
        transport = None
        try:
            transport = self.env["outbound.dispatcher"]._open_transport(self, {})
            return transport.send(payload)
        except TransportBusy as error:
            raise UserError(
                self.env._("The SMS gateway is sending a job: try the test again in a moment.")
            ) from error
        except OutboundError as error:
            raise UserError(
                self.env._(
                    "Test to %(recipient)s not sent: %(error)s", recipient=address, error=error
                )
            ) from error
        finally:
            if transport:
                transport.close()

    # ---- LIVE PROGRESS

    @api.model
    def _get_progress_bus_channels(self):
        """The progress channels the current user listens to: those of their allowed companies,
        for Outbound users (the jobs they may read once they switch to that company)."""
        user = self.env.user
        if not user._is_internal() or not user.has_group(USER_GROUP):
            return []
        return [(company, PROGRESS_CHANNEL) for company in user.company_ids]

    def _get_progress_bus_channel(self):
        self.ensure_one()
        return (self.company_id, PROGRESS_CHANNEL)

    def _get_progress_payload(self):
        """Ids and counts only: the channel is read by every Outbound user of the company."""
        self.ensure_one()
        return {
            "job_id": self.id,
            "campaign_id": self.campaign_id.id,
            **{name: self[name] for name in PROGRESS_FIELDS},
        }

    def _send_progress(self):
        """Queue a progress notification per job; the bus row is written when the transaction
        commits, and listeners are woken after it."""
        self.invalidate_recordset(PROGRESS_FIELDS)
        for job in self:
            self.env["bus.bus"]._sendone(
                job._get_progress_bus_channel(), PROGRESS_NOTIFICATION, job._get_progress_payload()
            )

    def _notify_progress(self):
        """Tell the company's Outbound users how far the jobs got, after a batch was committed:
        committed here at once, so the screens reloading on it read the batch's outcomes."""
        self._send_progress()
        commit(self.env.cr)

    # ---- SUMMARIES

    def _get_done_summary(self, counts):
        return self.env._(
            "Job done: %(sent)s sent, %(failed)s failed, %(skipped)s skipped.",
            sent=counts.get("sent", 0),
            failed=counts.get("failed", 0),
            skipped=counts.get("skipped", 0),
        )

    def _get_creation_summary(self):
        self.ensure_one()
        return self.env._(
            "%(queued)s message(s) queued, %(skipped)s skipped, starting %(start)s at "
            "%(size)s per %(interval)s %(unit)s.",
            queued=self.count_queued,
            skipped=self.count_skipped,
            start=self.start_at,
            size=self.batch_size,
            interval=self.batch_interval,
            unit=self.batch_interval_unit,
        )

    def _get_form_action(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }


def _sql_text(text, **expressions):
    """SQL concatenating the pieces of translated ``text`` with the SQL ``expressions`` that
    fill its ``%(name)s`` placeholders.

    The text's pieces are bound values, never part of an SQL or ``format()`` template, so any
    character a translator writes (``%`` included) is safe.
    """
    parts, position = [], 0
    for match in PLACEHOLDER.finditer(text):
        parts += [SQL("%s", text[position : match.start()]), expressions[match.group(1)]]
        position = match.end()
    parts.append(SQL("%s", text[position:]))
    return SQL("concat(%s)", SQL(", ").join(parts))
