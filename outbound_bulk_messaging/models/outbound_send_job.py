import logging
import threading
import time
from datetime import timedelta

import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.base.models.ir_cron import MAX_BATCH_PER_CRON_JOB

from ..engine import dispatch, pacing, render, sms
from ..engine.errors import GatewayError, TemplateError
from ..engine.gateways import SmsRequest
from ..engine.smtp import classify_connect_error, classify_smtp_error

_logger = logging.getLogger(__name__)

JOB_STATES = [
    ("scheduled", "Scheduled"),
    ("running", "Running"),
    ("paused", "Paused"),
    ("done", "Done"),
    ("cancelled", "Cancelled"),
]
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
# Messages claimed and committed together. A crash can leave at most one such batch with an
# unknown outcome, so it stays small; large enough that a commit per batch costs little.
DISPATCH_BATCH = 100
# Seconds to wait before sending a throttled message again; then it goes back to the queue.
THROTTLE_WAITS = (1, 2, 4)
# pg advisory lock namespaces (first key of the two-int form).
BATCH_LOCK = 0x0B0A
GATEWAY_LOCK = 0x0B0B
JOB_LOCK = 0x0B0C
# Sends are spaced 2 % above 1 / messages_per_second: up to 20 ms of network jitter then cannot
# put one request more than the cap into any second at the provider.
RATE_SLACK = 0.02
# Tries of a job row write that lost a race with another dispatcher.
UPDATE_ATTEMPTS = 5
# Seconds to wait when another dispatcher is claiming a batch of the same job.
CLAIM_WAIT = 0.01
# What a Campaign Manager may still change on a job: its pace. The rest is its history, changed
# only by the job's own actions (which check the rights, then write as superuser).
EDITABLE_FIELDS = frozenset({"batch_size", "batch_interval", "batch_interval_unit"})
INTERVAL_UNITS = [("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")]
CHANNELS = [("email", "Email"), ("sms", "SMS")]


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
    channel = fields.Selection(CHANNELS, required=True, readonly=True)
    template_id = fields.Many2one(
        "outbound.template", required=True, readonly=True, ondelete="restrict", check_company=True
    )
    account_statuses = fields.Many2many("outbound.account.status", readonly=True)
    resend_period = fields.Selection(RESEND_PERIODS, default="all", required=True, readonly=True)
    active_lists_only = fields.Boolean(readonly=True)
    start_at = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    batch_size = fields.Integer(string="How Many?", required=True, default=500)
    batch_interval = fields.Integer(string="How Often?", required=True, default=1)
    batch_interval_unit = fields.Selection(INTERVAL_UNITS, default="minutes", required=True)
    state = fields.Selection(
        JOB_STATES, default="scheduled", required=True, readonly=True, tracking=True
    )
    state_reason = fields.Text(
        string="Paused Because",
        readonly=True,
        help="Why the job was paused, in the provider's words.",
    )
    email_from = fields.Char(readonly=True)
    mail_server_id = fields.Many2one("ir.mail_server", readonly=True)
    sms_sender = fields.Char(string="SMS Sender", readonly=True)
    sms_gateway_id = fields.Many2one(
        "outbound.sms.gateway", string="SMS Gateway", readonly=True, check_company=True
    )
    outbound_message_ids = fields.One2many("outbound.message", "job_id", string="Outbound Messages")
    count_total = fields.Integer(compute="_compute_counts", string="Total Messages")
    count_queued = fields.Integer(compute="_compute_counts", string="Awaiting")
    count_sending = fields.Integer(compute="_compute_counts", string="Sending")
    count_sent = fields.Integer(compute="_compute_counts", string="Sent")
    count_failed = fields.Integer(compute="_compute_counts", string="Failed")
    count_skipped = fields.Integer(compute="_compute_counts", string="Skipped")
    progress = fields.Float(compute="_compute_counts", string="Progress (%)")
    next_run_at = fields.Datetime(string="Next Batch", readonly=True)
    done_at = fields.Datetime(readonly=True)

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
            job.update(values)

    def _get_message_counts(self):
        """{job id: {state: count}} in one aggregate query."""
        if not self.ids:
            return {}
        self.env["outbound.message"].flush_model(["job_id", "state"])
        self.env.cr.execute(
            "SELECT job_id, state, count(*) FROM outbound_message "
            "WHERE job_id = ANY(%s) GROUP BY job_id, state",
            [self.ids],
        )
        counts = {}
        for job_id, state, count in self.env.cr.fetchall():
            counts.setdefault(job_id, {})[state] = count
        return counts

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("outbound.send.job") or "/"
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
            job.sudo().write({"state": "scheduled", "state_reason": False})
            job._schedule_dispatch(max(job.start_at, fields.Datetime.now()))
        return True

    def action_cancel(self):
        """Stop the job: what is still queued is skipped, nothing already sent is touched."""
        self._check_can_manage()
        jobs = self.filtered(lambda job: job.state not in ("done", "cancelled"))
        if not jobs:
            return True
        jobs._skip_queued()
        jobs.sudo().write({"state": "cancelled", "done_at": fields.Datetime.now()})
        return True

    def action_view_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "outbound_bulk_messaging.outbound_message_action"
        )
        action["domain"] = [("job_id", "=", self.id)]
        action["context"] = {"search_default_group_by_state": 1}
        return action

    def action_retry_failed(self):
        """Requeue every failed message of the job ("Retry failed")."""
        self.ensure_one()
        failed = self.env["outbound.message"].search(
            [("job_id", "=", self.id), ("state", "=", "failed")]
        )
        if not failed:
            raise UserError(self.env._("Job %s has no failed message.", self.name))
        return failed.action_retry()

    def _skip_queued(self):
        """Skip what is still queued in these jobs: it will not be sent."""
        self.env.cr.execute(
            """
            UPDATE outbound_message SET state = 'skipped', failure_reason = %s,
                   write_uid = %s, write_date = now() AT TIME ZONE 'UTC'
             WHERE job_id = ANY(%s) AND state = 'queued'
            """,
            [self.env._("job cancelled before it was sent"), self.env.uid, self.ids],
        )
        self.env["outbound.message"].invalidate_model(["state", "failure_reason"])

    def _check_can_manage(self):
        """Only those who may edit the campaign's properties may send, pause or cancel."""
        self.campaign_id.check_access("write")
        self.check_access("write")

    # ---- RECIPIENTS

    def _create_messages(self):
        """Insert one message per account in scope, in one set-based statement.

        Accounts that cannot be sent to get a ``skipped`` message with the reason, so every
        figure on the status panel can be explained message by message.
        """
        self.ensure_one()
        self.env.flush_all()
        query, params = self._get_recipients_query()
        self.env.cr.execute(query, params)
        count = self.env.cr.rowcount
        self.env["outbound.message"].invalidate_model()
        _logger.info("Send job %s: %d messages created", self.name, count)
        return count

    def _get_recipients_query(self):
        address = "a.email" if self.channel == "email" else "a.sms_number_e164"
        scope, scope_params = self.env["outbound.account"]._get_scope_sql(
            self.campaign_id, self.list_id, self.account_statuses, self.active_lists_only
        )
        params = dict(self._get_recipients_params(), **scope_params)
        query = f"""
            WITH scope AS (
                SELECT a.id AS account_id, a.list_id, a.reference, {address} AS address,
                       a.email_error, a.sms_number, a.sms_number_error
                  FROM outbound_account a
                  JOIN outbound_list l ON l.id = a.list_id
                 WHERE {scope}
            ),
            ranked AS (
                SELECT scope.*,
                       first_value(reference) OVER same_address AS first_reference,
                       row_number() OVER same_address AS rank
                  FROM scope
                WINDOW same_address AS (PARTITION BY address ORDER BY account_id)
            ),
            verdict AS (
                SELECT r.*, {self._get_skip_reason_sql()} AS reason
                  FROM ranked r
                  {self._get_blacklist_join_sql()}
                  {self._get_recent_join_sql()}
            )
            INSERT INTO outbound_message (
                job_id, campaign_id, list_id, company_id, template_id, account_id,
                account_reference, channel, address, state, failure_reason,
                create_uid, create_date, write_uid, write_date)
            SELECT %(job_id)s, %(campaign_id)s, list_id, %(company_id)s, %(template_id)s,
                   account_id, reference, %(channel)s, address,
                   CASE WHEN reason IS NULL THEN 'queued' ELSE 'skipped' END, reason,
                   %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
              FROM verdict
             ORDER BY account_id
        """
        return query, params

    def _get_recipients_params(self):
        cutoff = None
        if self.resend_period != "all":
            cutoff = fields.Datetime.now() - RESEND_DELTAS[self.resend_period]
        no_address = (
            self.env._("no email address")
            if self.channel == "email"
            else self.env._("no SMS number")
        )
        return {
            "job_id": self.id,
            "campaign_id": self.campaign_id.id,
            "company_id": self.company_id.id,
            "template_id": self.template_id.id,
            "channel": self.channel,
            "uid": self.env.uid,
            "cutoff": cutoff,
            "no_address": no_address,
            "invalid_email": self.env._("invalid email address: %s"),
            "invalid_number": self.env._("invalid SMS number: %s"),
            "blacklisted": self.env._("%s is blacklisted"),
            "duplicate": self.env._("same address as account %s in this job"),
            "recent": self.env._(
                "this template was already sent to %(address)s on %(date)s "
                "(resend window: %(period)s)"
            ),
            "pending": self.env._("this template is already queued for %(address)s in job %(job)s"),
            "period": dict(self._fields["resend_period"]._description_selection(self.env))[
                self.resend_period
            ],
        }

    def _get_skip_reason_sql(self):
        invalid = (
            "format(%(invalid_email)s, r.email_error)"
            if self.channel == "email"
            else "format(%(invalid_number)s, coalesce(r.sms_number_error, r.sms_number))"
        )
        invalid_test = (
            "r.email_error IS NOT NULL" if self.channel == "email" else "r.sms_number IS NOT NULL"
        )
        recent = ""
        if self.resend_period != "all":
            sent = _fill_sql(
                "%(recent)s",
                address="r.address",
                date="to_char(recent.sent_at, 'YYYY-MM-DD HH24:MI')",
                period="%(period)s",
            )
            pending = _fill_sql("%(pending)s", address="r.address", job="recent.job_name")
            recent = f"""
                WHEN recent.state = 'sent' THEN {sent}
                WHEN recent.state IS NOT NULL THEN {pending}"""
        return f"""CASE
                WHEN r.address IS NULL AND {invalid_test} THEN {invalid}
                WHEN r.address IS NULL THEN %(no_address)s
                WHEN blacklist.id IS NOT NULL THEN format(%(blacklisted)s, r.address)
                WHEN r.rank > 1 THEN format(%(duplicate)s, r.first_reference){recent}
            END"""

    def _get_blacklist_join_sql(self):
        if self.channel == "email":
            return (
                "LEFT JOIN mail_blacklist blacklist "
                "ON blacklist.email = r.address AND blacklist.active"
            )
        return (
            "LEFT JOIN phone_blacklist blacklist "
            "ON blacklist.number = r.address AND blacklist.active"
        )

    def _get_recent_join_sql(self):
        if self.resend_period == "all":
            return ""
        # Also skip an address another job is about to send this template to: two jobs
        # created in a row must not send it twice within the window.
        return """
            LEFT JOIN LATERAL (
                SELECT m.state, m.sent_at, j.name AS job_name
                  FROM outbound_message m
                  JOIN outbound_send_job j ON j.id = m.job_id
                 WHERE m.template_id = %(template_id)s AND m.channel = %(channel)s
                   AND m.address = r.address AND m.job_id != %(job_id)s
                   AND ((m.state = 'sent' AND m.sent_at >= %(cutoff)s)
                        OR m.state IN ('queued', 'sending'))
                 ORDER BY m.state = 'sent' DESC, m.sent_at DESC
                 LIMIT 1
            ) recent ON true"""

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
    def _get_dispatch_crons(self):
        """The scheduled actions that dispatch: the shipped one and any copy of it.

        Odoo runs one scheduled action in one worker at a time; an administrator who wants
        several workers or servers to send at once duplicates the action, and every copy is
        woken when a batch is due.
        """
        return (
            self.env["ir.cron"]
            .sudo()
            .search([("model_id.model", "=", self._name), ("code", "=", "model._cron_dispatch()")])
        )

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

    # ---- DISPATCH
    #
    # Several dispatchers (cron threads, Odoo servers) may work on one job. They never write
    # the job row while claiming: claims are serialised by an advisory lock on the job, the
    # pace is counted from the messages' claimed_at, and the few writes of the job row (state,
    # next run) go through _update_job, which retries when another dispatcher wrote it first
    # (Odoo runs transactions in REPEATABLE READ).

    def init(self):
        # Numbers of dispatch batches; each is an advisory lock key, so int4 and cycling.
        self.env.cr.execute(
            "CREATE SEQUENCE IF NOT EXISTS outbound_message_batch_seq MAXVALUE 2147483647 CYCLE"
        )

    @api.model
    def _cron_dispatch(self):
        """Scheduled action: send what the pace allows now for every due job, within a budget.

        While messages remain, Odoo runs the action again at once, up to MAX_BATCH_PER_CRON_JOB
        times in the same turn of the cron worker, and the worker's time limit applies to the
        whole turn: each run gets that share of the budget.
        """
        self._recover_interrupted()
        share = self._get_time_budget() / MAX_BATCH_PER_CRON_JOB
        deadline = time.monotonic() + share
        limiters = {}
        processed = 0
        for job in self._get_due_jobs():
            processed += job._dispatch(deadline, limiters)
            if time.monotonic() >= deadline:
                break
        remaining = self._count_ready_messages()
        if time.monotonic() >= deadline + share:
            # One send outlasted the run's share (a provider stalling until its timeout): end
            # the worker's turn, the next one starts at the cron's next call.
            remaining = 0
        self.env["ir.cron"]._notify_progress(done=processed, remaining=remaining)
        return processed

    @api.model
    def _get_time_budget(self):
        """Seconds one turn of the cron worker may spend sending (below its time limit)."""
        param = self.env["ir.config_parameter"].sudo().get_param("outbound.dispatch_time_budget")
        return float(param or 60)

    @api.model
    def _get_due_jobs(self):
        now = fields.Datetime.now()
        return self.search(
            [("state", "in", ("scheduled", "running")), ("start_at", "<=", now)],
            order="start_at, id",
        )

    @api.model
    def _count_ready_messages(self):
        """Queued messages that could go now (their window has room): the cron's 'remaining'."""
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT count(*) FROM outbound_message m JOIN outbound_send_job j ON j.id = m.job_id
             WHERE m.state = 'queued' AND j.state IN ('scheduled', 'running')
               AND j.start_at <= %(now)s AND coalesce(j.next_run_at, j.start_at) <= %(now)s
            """,
            {"now": fields.Datetime.now()},
        )
        return self.env.cr.fetchone()[0]

    def _dispatch(self, deadline, limiters):
        """Send this job's claimable batches until its window is used up or time runs out."""
        self.ensure_one()
        processed, channel = 0, None
        try:
            while time.monotonic() < deadline:
                batch_id, message_ids = self._claim_batch()
                if message_ids is None:
                    time.sleep(CLAIM_WAIT)  # another dispatcher is claiming: its turn is short
                    continue
                if not message_ids:
                    break
                try:
                    channel = channel or self._open_channel(limiters)
                except (GatewayError, TemplateError) as error:
                    self._release_batch(batch_id, message_ids)
                    self._update_job(pause=str(error))
                    break
                except _GatewayBusy:
                    self._release_batch(batch_id, message_ids)
                    break
                result = self._send_batch(batch_id, message_ids, channel, deadline)
                processed += len(message_ids)
                if result.pause_reason:
                    self._update_job(pause=result.pause_reason)
                if result.pause_reason or result.throttled:
                    break
        finally:
            if channel:
                channel.close()
        self._update_job(finish=True)
        return processed

    def _window_room(self, now):
        """(window, messages the pace still allows in it), counted from the messages claimed."""
        window = pacing.window(self.start_at, self._get_interval(), now)
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT count(*) FROM outbound_message WHERE job_id = %s AND claimed_at >= %s",
            [self.id, window.start],
        )
        used = self.env.cr.fetchone()[0]
        return window, pacing.allowance(self.batch_size, used, due=window.due)

    def _claim_batch(self):
        """Claim the next batch the pace allows and commit the claim before anything is sent.

        Returns ``(batch id, message ids)``: no ids when there is nothing to send now, ``None``
        when another dispatcher is claiming for this job at this very moment.
        """
        cr = self.env.cr
        # A session lock, committed before claiming: the claim's snapshot then sees everything
        # the previous holder committed (a transaction-level lock would be taken after it).
        cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [JOB_LOCK, self.id])
        locked = cr.fetchone()[0]
        self._commit()
        if not locked:
            return None, None
        try:
            return self._claim_locked_batch()
        finally:
            cr.execute("SELECT pg_advisory_unlock(%s, %s)", [JOB_LOCK, self.id])

    def _claim_locked_batch(self):
        cr = self.env.cr
        self.invalidate_recordset()
        if self.state not in ("scheduled", "running"):
            return None, []
        now = fields.Datetime.now()
        count = min(self._window_room(now)[1], DISPATCH_BATCH)
        if not count:
            return None, []
        cr.execute("SELECT nextval('outbound_message_batch_seq')")
        batch_id = cr.fetchone()[0]
        # Held by this connection until the batch's outcomes are committed: a dispatcher that
        # dies releases it, which is how recovery tells a dead batch from a live one.
        cr.execute("SELECT pg_advisory_lock(%s, %s)", [BATCH_LOCK, batch_id])
        cr.execute(
            """
            UPDATE outbound_message
               SET state = 'sending', batch_id = %(batch)s, claimed_at = %(now)s
             WHERE id IN (SELECT id FROM outbound_message
                           WHERE job_id = %(job)s AND state = 'queued'
                           ORDER BY id LIMIT %(count)s FOR UPDATE SKIP LOCKED)
            RETURNING id
            """,
            {"batch": batch_id, "job": self.id, "count": count, "now": now},
        )
        message_ids = sorted(row[0] for row in cr.fetchall())
        self.env["outbound.message"].invalidate_model(["state", "batch_id", "claimed_at"])
        self._commit()
        if not message_ids:
            self._unlock_batch(batch_id)
        elif self.state == "scheduled":
            self._update_job(values={"state": "running"})
        return batch_id, message_ids

    def _send_batch(self, batch_id, message_ids, channel, deadline=None):
        started = time.monotonic()
        try:
            rows = self._load_batch(message_ids)
            result = dispatch.send_batch(
                rows,
                channel.send,
                limiter=channel.limiter,
                throttle_waits=THROTTLE_WAITS,
                deadline=deadline,
            )
            self._record(result)
            self._commit()
        finally:
            self._unlock_batch(batch_id)
        _logger.info(
            "Send job %s: batch %s: %d sent, %d failed, %d requeued in %.2fs",
            self.name,
            batch_id,
            result.count(dispatch.SENT),
            result.count(dispatch.FAILED),
            result.count(dispatch.QUEUED),
            time.monotonic() - started,
        )
        return result

    def _load_batch(self, message_ids):
        """(message id, payload) pairs: the address and the plain data the template sees."""
        self.env.cr.execute(
            """
            SELECT m.id, m.address, m.account_id, a.reference, a.name, a.email, a.sms_number,
                   a.sms_number_e164, a.status, a.data, l.name AS list_name
              FROM outbound_message m
              LEFT JOIN outbound_account a ON a.id = m.account_id
              LEFT JOIN outbound_list l ON l.id = a.list_id
             WHERE m.id = ANY(%s) ORDER BY m.id
            """,
            [message_ids],
        )
        fetched = self.env.cr.dictfetchall()  # before any other query reuses the cursor
        accounts = self.env["outbound.account"]
        labels = accounts._get_status_labels()
        campaign_name = self.campaign_id.name
        rows = []
        for row in fetched:
            payload = {"id": row["id"], "address": row["address"], "context": None}
            if row["account_id"]:
                values = accounts._row_render_values(row, labels)
                payload["context"] = render.make_context(
                    values, list_name=row["list_name"], campaign_name=campaign_name
                )
            rows.append((row["id"], payload))
        return rows

    def _record(self, result):
        """Write a batch's outcomes in one statement; requeued ones no longer count in the pace."""
        outcomes = result.outcomes
        for outcome in outcomes:
            if outcome.state == dispatch.FAILED:
                _logger.info(
                    "Send job %s: message %s failed: %s",
                    self.name,
                    outcome.message_id,
                    outcome.reason,
                )
        self.env.cr.execute(
            """
            UPDATE outbound_message m
               SET state = v.state, failure_reason = v.reason, sent_at = v.sent_at,
                   provider_message_id = v.provider_id, sms_parts = v.parts, sms_price = v.price,
                   claimed_at = CASE WHEN v.state = 'queued' THEN NULL ELSE m.claimed_at END,
                   outcome_unknown = v.unknown,
                   write_uid = %s, write_date = now() AT TIME ZONE 'UTC'
              FROM unnest(%s::int[], %s::varchar[], %s::text[], %s::timestamp[], %s::varchar[],
                          %s::int[], %s::float[], %s::boolean[])
                   AS v(id, state, reason, sent_at, provider_id, parts, price, unknown)
             WHERE m.id = v.id AND m.state = 'sending'
            """,
            [
                self.env.uid,
                [outcome.message_id for outcome in outcomes],
                [outcome.state for outcome in outcomes],
                [outcome.reason for outcome in outcomes],
                [outcome.sent_at for outcome in outcomes],
                [outcome.provider_id for outcome in outcomes],
                [outcome.parts for outcome in outcomes],
                [outcome.price for outcome in outcomes],
                [outcome.unknown for outcome in outcomes],
            ],
        )
        self.env["outbound.message"].invalidate_model()

    def _release_batch(self, batch_id, message_ids):
        """Put a claimed batch back in the queue: nothing of it was tried."""
        self.env.cr.execute(
            "UPDATE outbound_message SET state = 'queued', batch_id = NULL, claimed_at = NULL "
            "WHERE id = ANY(%s) AND state = 'sending'",
            [message_ids],
        )
        self.env["outbound.message"].invalidate_model(["state", "batch_id", "claimed_at"])
        self._commit()
        self._unlock_batch(batch_id)

    def _unlock_batch(self, batch_id):
        self.env.cr.execute("SELECT pg_advisory_unlock(%s, %s)", [BATCH_LOCK, batch_id])

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
                self._commit()
                return
            except psycopg2.errors.SerializationFailure:
                if attempt == UPDATE_ATTEMPTS:
                    raise
                self.env.cr.rollback()
                time.sleep(0.05 * attempt)

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
            return
        now = fields.Datetime.now()
        window, room = self._window_room(now)
        self._schedule_dispatch(now if room and counts.get("queued") else window.end)

    @api.model
    def _recover_interrupted(self):
        """Fail the messages a dead dispatcher left 'sending': never resend them automatically."""
        self.env.flush_all()
        cr = self.env.cr
        cr.execute("SELECT DISTINCT batch_id FROM outbound_message WHERE state = 'sending'")
        for (batch_id,) in cr.fetchall():
            try:
                self._recover_batch(batch_id)
            except psycopg2.errors.SerializationFailure:
                # Another dispatcher recovered it first.
                cr.rollback()
        self.env["outbound.message"].invalidate_model()

    @api.model
    def _recover_batch(self, batch_id):
        cr = self.env.cr
        cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [BATCH_LOCK, batch_id])
        if not cr.fetchone()[0]:
            return  # a live dispatcher is sending this batch
        cr.execute(
            """
            UPDATE outbound_message SET state = 'failed', failure_reason = %s,
                   outcome_unknown = true, write_date = now() AT TIME ZONE 'UTC'
             WHERE batch_id = %s AND state = 'sending'
            """,
            [
                self.env._(
                    "interrupted: outcome unknown (the dispatcher stopped while sending "
                    "batch %s); not resent automatically, check before retrying",
                    batch_id,
                ),
                batch_id,
            ],
        )
        if cr.rowcount:
            _logger.warning(
                "Outbound batch %s was interrupted: %d message(s) marked failed (outcome unknown)",
                batch_id,
                cr.rowcount,
            )
        self._commit()

    def _commit(self):
        # A test runs in one transaction that must not be committed.
        if not getattr(threading.current_thread(), "testing", False):
            # Committed batch by batch on purpose: a claim must be durable before the send,
            # and an outcome as soon as it is known (at most once, nothing lost).
            self.env.cr.commit()  # pylint: disable=invalid-commit

    # ---- CHANNELS

    def _open_channel(self, limiters):
        compiled = self.template_id._compile()
        if self.channel == "email":
            return _EmailChannel(self, compiled)
        return _SmsChannel(self, compiled, limiters)

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


def _fill_sql(template, **values):
    """SQL filling the named ``%(name)s`` placeholders of a translated ``template`` parameter.

    PostgreSQL's format() only knows positional arguments; translators get named ones.
    """
    for name, expression in values.items():
        template = f"replace({template}, '%%({name})s', {expression})"
    return template


class _GatewayBusy(Exception):
    """Another dispatcher is sending through this SMS gateway; try again on the next run."""


class _EmailChannel:
    """Email through the job's ``ir.mail_server``, one SMTP session for the whole dispatch."""

    limiter = None

    def __init__(self, job, compiled):
        self.job = job
        self.compiled = compiled
        self.mail_server = job.env["ir.mail_server"].sudo()
        try:
            self.smtp = self.mail_server.connect(mail_server_id=job.mail_server_id.id)
        except Exception as error:
            raise classify_connect_error(error) from error

    def send(self, payload):
        rendered = _render(self.job, self.compiled, payload)
        html = rendered["html"]
        message = self.mail_server.build_email(
            email_from=self.job.email_from,
            email_to=[payload["address"]],
            subject=rendered["subject"],
            body=rendered["body"],
            body_alternative=rendered["body_text"] if html else None,
            subtype="html" if html else "plain",
            headers={"X-Outbound-Message": str(payload["id"])},
        )
        try:
            message_id = self.mail_server.send_email(message, smtp_session=self.smtp)
        except Exception as error:
            raise classify_smtp_error(error, recipient=payload["address"]) from error
        return dispatch.Accepted(provider_id=message_id)

    def close(self):
        if self.smtp:
            try:
                self.smtp.quit()
            except Exception:
                _logger.debug("SMTP session already closed", exc_info=True)


class _SmsChannel:
    """SMS through the job's gateway adapter, at most the gateway's messages per second.

    A session-level advisory lock on the gateway lets one dispatcher at a time use it, so the
    rate cap holds across cron workers and servers.
    """

    def __init__(self, job, compiled, limiters):
        self.job = job
        self.compiled = compiled
        self.gateway = job.sms_gateway_id.sudo()
        cr = job.env.cr
        cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [GATEWAY_LOCK, self.gateway.id])
        if not cr.fetchone()[0]:
            raise _GatewayBusy()
        try:
            self.adapter = self.gateway._get_adapter()
        except GatewayError:
            self._unlock()
            raise
        self.sender = job.sms_sender or self.gateway.default_sender or ""
        self.max_segments = job.template_id.sms_max_segments or None
        self.limiter = limiters.setdefault(
            self.gateway.id,
            pacing.RateLimiter(self.gateway.messages_per_second, slack=RATE_SLACK),
        )

    def send(self, payload):
        if payload["context"] is None:
            raise TemplateError("the account was deleted before the message was sent")
        text = self.compiled["body"].render(payload["context"])
        sms.check(text, self.max_segments)
        info = sms.analyse(text)
        result = self.adapter.send(
            SmsRequest(
                to=payload["address"],
                sender=self.sender,
                text=text,
                client_ref=str(payload["id"]),
                unicode=info.encoding == "UCS-2",
            )
        )
        return dispatch.Accepted(
            provider_id=result.provider_id, parts=result.parts, price=result.price
        )

    def close(self):
        self.adapter.close()
        self._unlock()

    def _unlock(self):
        self.job.env.cr.execute(
            "SELECT pg_advisory_unlock(%s, %s)", [GATEWAY_LOCK, self.gateway.id]
        )


def _render(job, compiled, payload):
    if payload["context"] is None:
        raise TemplateError("the account was deleted before the message was sent")
    return job.env["outbound.template"]._render_context(compiled, payload["context"])
