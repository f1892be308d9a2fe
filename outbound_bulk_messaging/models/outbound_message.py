import hashlib
import hmac
import logging
from datetime import datetime, timedelta

import pytz

from odoo import SUPERUSER_ID, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL
from odoo.tools.sql import column_exists

from ..channels import channel_selection
from ..engine import bounces, delivery, unsubscribe
from ..engine.gateways import DELIVERY_STATES
from .statement_reference import StatementReference

_logger = logging.getLogger(__name__)

# What came back about a message: an SMS delivery receipt's state, or an email bounce.
DELIVERY_STATUSES = [
    ("accepted", "Accepted"),
    ("buffered", "Buffered"),
    ("delivered", "Delivered"),
    ("undelivered", "Undelivered"),
    ("expired", "Expired"),
    ("rejected", "Rejected"),
    ("unknown", "Unknown"),
    ("bounced", "Bounced"),
]
assert {code for code, _label in DELIVERY_STATUSES} >= set(DELIVERY_STATES)


# What came back, counted on the job and on the send wizard's panel: count field -> aggregate
# over outbound_message.
def _outcome_conditions(replied):
    return {
        "count_delivered": SQL("delivery_status = 'delivered'"),
        "count_undelivered": SQL("delivery_status = ANY(%s)", list(delivery.FAILURES)),
        "count_bounced": SQL("delivery_status = 'bounced'"),
        "count_replied": replied,
    }


OUTCOME_COUNTS = {
    name: SQL("count(*) FILTER (WHERE %s)", condition)
    for name, condition in _outcome_conditions(SQL("replied_at IS NOT NULL")).items()
}
# The same over the message tally (outbound.tally), whose rows are counts of messages.
OUTCOME_TALLIES = {
    name: SQL("coalesce(sum(n) FILTER (WHERE %s), 0)::bigint", condition)
    for name, condition in _outcome_conditions(SQL("replied")).items()
}

# Measures of the analysis views (graph, pivot): 1 or 0 per message, as SQL conditions over the
# columns that say it. Not stored: the dispatcher writes states with raw UPDATEs that would leave
# a stored copy stale, and summing a condition costs what summing a column would.
MEASURES = {
    "is_sent": lambda column: SQL("%s = 'sent'", column("state")),
    "is_failed": lambda column: SQL("%s = 'failed'", column("state")),
    "is_delivered": lambda column: SQL("%s = 'delivered'", column("delivery_status")),
    "is_undelivered": lambda column: SQL(
        "%s = ANY(%s)", column("delivery_status"), list(delivery.FAILURES)
    ),
    "is_bounced": lambda column: SQL("%s = 'bounced'", column("delivery_status")),
    "is_replied": lambda column: SQL("%s IS NOT NULL", column("replied_at")),
}

# The hour of an event, for the analysis views to group by: Odoo's web client groups a date
# field by the day at the finest, so each hour is a text ("2026-11-27 09:00", in the user's time
# zone) computed in SQL like the measures. hour field -> the datetime it is the hour of.
HOURS = {
    "tried_hour": "claimed_at",
    "sent_hour": "sent_at",
    "delivered_hour": "delivered_at",
    "replied_hour": "replied_at",
}
HOUR_FORMAT = "%Y-%m-%d %H:00"

# What earlier versions stored on each message and no longer do (see OutboundMessage).
OBSOLETE_COLUMNS = (
    "campaign_id",
    "company_id",
    "template_id",
    "list_id",
    "create_uid",
    "create_date",
    "write_uid",
    "write_date",
)
OBSOLETE_INDEXES = ("outbound_message_job_claimed_idx", "outbound_message_sms_sent_address_idx")
# The job_id foreign key an earlier version had, and the triggers that keep it now.
JOB_REFERENCE = StatementReference(
    "outbound_message_job",
    "outbound_message",
    "job_id",
    "outbound_send_job",
    label="send job",
    row_label="outbound message",
    moves=False,
)

MESSAGE_STATES = [
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("skipped", "Skipped"),
]


class OutboundMessage(models.Model):
    """One email or SMS of a send job, from queued to sent, failed or skipped.

    Rows are inserted in bulk by the job (``INSERT … SELECT``) and updated in bulk by the
    dispatcher. Each inserted row pays a foreign key check per Many2one column and an entry per
    index, so a row holds only what is its own: campaign, company and template are read through
    the job (a join on the job's primary key wherever they are filtered), the list through the
    account, and there is no create/write log, the job saying who created the messages and when
    (as Odoo's ``mail.notification``, one row per recipient, has none either). A message whose
    account was deleted keeps the account's reference and address, but no longer its list.

    The job reference has no foreign key: a key checks its job once per inserted row (a third
    of the job's creation time), where the messages of a job are inserted by one statement of
    the transaction that creates the job. Statement triggers keep the same guarantees, once per
    statement (:meth:`_install_job_integrity`).
    """

    _name = "outbound.message"
    _description = "Outbound Message"
    _order = "id"
    _rec_name = "address"
    _log_access = False

    job_id = fields.Many2one("outbound.send.job", required=True, ondelete="cascade", readonly=True)
    campaign_id = fields.Many2one(related="job_id.campaign_id")
    list_id = fields.Many2one(related="account_id.list_id")
    company_id = fields.Many2one(related="job_id.company_id")
    template_id = fields.Many2one(related="job_id.template_id")
    account_id = fields.Many2one("outbound.account", readonly=True, ondelete="set null", index=True)
    account_reference = fields.Char(readonly=True, help="Kept if the account is later deleted.")
    channel = fields.Selection(channel_selection(), required=True, readonly=True)
    address = fields.Char(readonly=True, help="Email address or E.164 number it was sent to.")
    recipient_tz = fields.Char(
        string="Recipient Time Zone",
        readonly=True,
        help="The recipient's time zone(s), IANA names separated by spaces when the number's "
        "area spans several: the job's sending hours must be open in all of them.",
    )
    state = fields.Selection(MESSAGE_STATES, required=True, default="queued", readonly=True)
    failure_reason = fields.Text(readonly=True)
    sent_at = fields.Datetime(readonly=True)
    provider_message_id = fields.Char(
        string="Provider Message ID",
        readonly=True,
        index="btree_not_null",  # a bounce names the email by its Message-Id
        help="Message-Id of the email, or the SMS id.",
    )
    sms_parts = fields.Integer(string="SMS Parts", readonly=True)
    sms_price = fields.Float(string="SMS Price", readonly=True, digits=(16, 5))
    batch_id = fields.Integer(
        readonly=True, help="Dispatch batch that claimed the message (crash recovery)."
    )
    outcome_unknown = fields.Boolean(
        readonly=True,
        help="Failed because nobody knows whether it left (timeout, crash): a delivery receipt "
        "from the provider can still settle it.",
    )
    delivery_status = fields.Selection(
        DELIVERY_STATUSES,
        readonly=True,
        index="btree_not_null",
        help="What came back: the SMS delivery receipts (all parts of a long text combined), "
        "or the bounce of an email.",
    )
    delivery_error = fields.Char(
        readonly=True, help="The provider's error code, or the bounce's DSN status (5.1.1)."
    )
    delivery_detail = fields.Text(
        readonly=True, help="The bounce's diagnostic, or what the provider said of a failure."
    )
    delivery_parts = fields.Json(
        readonly=True,
        help="The last receipt state of each part of a multi-part SMS, by provider part id.",
    )
    reply_text = fields.Text(readonly=True, help="The recipient's last reply to this text.")
    replied_at = fields.Datetime(readonly=True, index="btree_not_null")
    unsubscribed_at = fields.Datetime(
        readonly=True, help="When the recipient unsubscribed through this email's link."
    )
    delivered_at = fields.Datetime(readonly=True)
    claimed_at = fields.Datetime(
        readonly=True, help="When a dispatcher claimed it: the pace counts claims per window."
    )
    # The analysis views' measures (MEASURES): summed in SQL, see _field_to_sql.
    is_sent = fields.Integer(string="Sent", compute="_compute_measures", aggregator="sum")
    is_failed = fields.Integer(string="Failed", compute="_compute_measures", aggregator="sum")
    is_delivered = fields.Integer(string="Delivered", compute="_compute_measures", aggregator="sum")
    is_undelivered = fields.Integer(
        string="Undelivered",
        compute="_compute_measures",
        aggregator="sum",
        help="Texts the carrier did not deliver: undelivered, expired or rejected.",
    )
    is_bounced = fields.Integer(string="Bounced", compute="_compute_measures", aggregator="sum")
    is_replied = fields.Integer(string="Replies", compute="_compute_measures", aggregator="sum")
    # Their hours (HOURS): grouped in SQL, see _field_to_sql. Tried: when claimed, sent or failed.
    tried_hour = fields.Char(compute="_compute_hours", search="_search_tried_hour")
    sent_hour = fields.Char(compute="_compute_hours", search="_search_sent_hour")
    delivered_hour = fields.Char(compute="_compute_hours", search="_search_delivered_hour")
    replied_hour = fields.Char(compute="_compute_hours", search="_search_replied_hour")

    def init(self):
        cr, table = self.env.cr, self._table
        self._drop_obsolete_schema()
        self.pool.post_init(self._install_job_integrity)
        # Each index below that holds queued messages costs every inserted row an entry: those
        # are the job's own (claims, counts, zones) and the pending address. The others are
        # partial on states or values a message reaches only once it is claimed or sent.
        # Claiming the next batch of a job and counting a job's (or a campaign's jobs') progress.
        tools.create_index(cr, "outbound_message_job_state_idx", table, ["job_id", "state", "id"])
        # How many messages a job claimed in its current pacing window.
        tools.create_index(
            cr,
            "outbound_message_job_claimed_at_idx",
            table,
            ["job_id", "claimed_at"],
            where="claimed_at IS NOT NULL",
        )
        # Resend window: what this address got (or is getting) on a channel, whose jobs are then
        # read for their template; an inbound SMS is matched to the last text sent to its number.
        tools.create_index(
            cr,
            "outbound_message_sent_address_idx",
            table,
            ["address", "channel", "sent_at"],
            where="state = 'sent'",
        )
        tools.create_index(
            cr,
            "outbound_message_pending_address_idx",
            table,
            ["address", "channel"],
            where="state IN ('queued', 'sending')",
        )
        # Sending hours: the distinct zones still queued in a job, and the claim of the open ones.
        tools.create_index(
            cr,
            "outbound_message_job_tz_queued_idx",
            table,
            ["job_id", "recipient_tz", "id"],
            where="state = 'queued'",
        )
        # Frequency cap: what the company's jobs on a channel sent since the period's start
        # (what they still have to send is read through outbound_message_job_state_idx).
        tools.create_index(
            cr,
            "outbound_message_job_sent_idx",
            table,
            ["job_id", "sent_at"],
            where="state = 'sent'",
        )
        # Crash recovery looks only at messages left in 'sending'.
        tools.create_index(
            cr, "outbound_message_sending_idx", table, ["batch_id"], where="state = 'sending'"
        )

    def _install_job_integrity(self):
        """What the job_id foreign key would guarantee, checked once per statement
        (:class:`~.statement_reference.StatementReference`); deleting a job deletes its messages
        through the job-state index, which starts with job_id."""
        JOB_REFERENCE.install(self.env)

    def _drop_obsolete_schema(self):
        """Drop what a database installed before still has of the copies of the job's and the
        account's fields and of the create/write log: Odoo keeps the column of a field that is
        no longer stored, and its foreign key and indexes would still cost every inserted row."""
        cr, table = self.env.cr, self._table
        for column in OBSOLETE_COLUMNS:
            if column_exists(cr, table, column):
                cr.execute(
                    SQL(
                        "ALTER TABLE %s DROP COLUMN %s CASCADE",
                        SQL.identifier(table),
                        SQL.identifier(column),
                    )
                )
        for index in OBSOLETE_INDEXES:
            cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(index)))

    @api.depends("state", "delivery_status", "replied_at")
    def _compute_measures(self):
        for message in self:
            message.update(
                {
                    "is_sent": int(message.state == "sent"),
                    "is_failed": int(message.state == "failed"),
                    "is_delivered": int(message.delivery_status == "delivered"),
                    "is_undelivered": int(delivery.is_failure(message.delivery_status)),
                    "is_bounced": int(message.delivery_status == "bounced"),
                    "is_replied": int(bool(message.replied_at)),
                }
            )

    @api.depends(*HOURS.values())
    @api.depends_context("tz")
    def _compute_hours(self):
        tz = pytz.timezone(self._get_analysis_tz())
        for message in self:
            for hour_field, column in HOURS.items():
                moment = message[column]
                message[hour_field] = moment and (
                    pytz.utc.localize(moment).astimezone(tz).strftime(HOUR_FORMAT)
                )

    def _search_tried_hour(self, operator, value):
        return self._search_hour("claimed_at", operator, value)

    def _search_sent_hour(self, operator, value):
        return self._search_hour("sent_at", operator, value)

    def _search_delivered_hour(self, operator, value):
        return self._search_hour("delivered_at", operator, value)

    def _search_replied_hour(self, operator, value):
        return self._search_hour("replied_at", operator, value)

    def _search_hour(self, column, operator, value):
        """The messages of an hour (or hours) as the views group them: a chart's bar clicked."""
        if operator not in ("=", "in"):
            raise UserError(self.env._("An hour can only be searched by its value."))
        tz = pytz.timezone(self._get_analysis_tz())
        domains = []
        for hour in [value] if operator == "=" else value:
            if not hour:
                domains.append([(column, "=", False)])
                continue
            start = tz.localize(datetime.strptime(hour, HOUR_FORMAT)).astimezone(pytz.utc)
            start = start.replace(tzinfo=None)
            domains.append([(column, ">=", start), (column, "<", start + timedelta(hours=1))])
        return expression.OR(domains) if domains else expression.FALSE_DOMAIN

    @api.model
    def _get_analysis_tz(self):
        tz = self.env.context.get("tz") or self.env.user.tz
        return tz if tz in pytz.all_timezones_set else "UTC"

    @api.depends("address", "job_id")
    def _compute_display_name(self):
        for message in self:
            message.display_name = (
                f"{message.job_id.name} → {message.address or message.account_reference}"
            )

    def _field_to_sql(self, alias, fname, query=None, flush=True):
        """The measures as ``CASE`` expressions and the hours as ``to_char`` of their columns:
        read_group (graph, pivot) sums and groups them, and the columns are flushed and
        access-checked as for any field."""
        to_sql = super()._field_to_sql
        measure = MEASURES.get(fname)
        if measure:
            condition = measure(lambda name: to_sql(alias, name, query, flush))
            return SQL("(CASE WHEN %s THEN 1 ELSE 0 END)", condition)
        if fname in HOURS:
            return SQL(
                "to_char(timezone(%s, timezone('UTC', %s)), 'YYYY-MM-DD HH24:00')",
                self._get_analysis_tz(),
                to_sql(alias, HOURS[fname], query, flush),
            )
        return to_sql(alias, fname, query, flush)

    # ---- ACTIONS

    def action_retry(self):
        """Requeue chosen failed messages, after the cause was fixed ("Retry failed")."""
        self.job_id.check_access("write")
        failed = self.filtered(lambda message: message.state == "failed")
        if not failed:
            raise UserError(self.env._("Only failed messages can be retried."))
        # claimed_at stays: the failed attempt counts in its window's pace.
        failed.sudo().write({"state": "queued", "failure_reason": False, "batch_id": 0})
        for job, messages in failed.grouped("job_id").items():
            job._requeued(messages)
        return True

    @api.model
    def _get_analysis_action(self, domain, name=None, hourly=False):
        """Messages Analysis (per day) or Messages per Hour, on the messages of ``domain``."""
        xml_id = "outbound_message_action_hourly" if hourly else "outbound_message_action_analysis"
        action = self.env["ir.actions.act_window"]._for_xml_id(f"outbound_bulk_messaging.{xml_id}")
        action["domain"] = domain
        if name:
            action.update(name=name, display_name=name)  # the breadcrumb shows display_name
        return action

    # ---- DELIVERY RECEIPTS

    def _apply_receipt(self, receipt):
        """Record an SMS delivery receipt (of the message or of one of its parts).

        The parts' receipts are combined (:mod:`..engine.delivery`): delivered when every part
        is, undelivered as soon as one fails. A text that turns out not delivered is told on its
        account's chatter, which takes the campaign's ``undelivered_status`` when one is set.

        A message failed as "outcome unknown" (a timeout, a crash) that the provider says it
        accepted or delivered did leave: it becomes sent, which is what reconciling by
        client_ref means. Nothing is ever resent from here.
        """
        self.ensure_one()
        self._lock_for_receipt()
        was_failure = delivery.is_failure(self.delivery_status)
        parts = delivery.record_part(self.delivery_parts, receipt.provider_id, receipt.status)
        status = delivery.combine(parts, self._expected_parts())
        values = {
            "delivery_status": status,
            "delivery_parts": parts,
            "delivery_error": receipt.error_code or self.delivery_error or False,
            "delivered_at": (receipt.delivered_at or fields.Datetime.now())
            if status == "delivered"
            else False,
        }
        if (
            self.state == "failed"
            and self.outcome_unknown
            and receipt.status not in ("rejected", "unknown")
        ):
            values.update(self._reconciled_values(receipt, parts))
        self.write(values)
        if delivery.is_failure(status) and not was_failure:
            self._tell_undelivered()

    def _lock_for_receipt(self):
        """Take the message's row lock: the receipts of two parts may arrive at the same time,
        and each must see the other's part (a concurrent update is retried by Odoo)."""
        self.env.cr.execute(
            SQL("SELECT id FROM outbound_message WHERE id = %s FOR UPDATE", self.id)
        )
        self.invalidate_recordset(["delivery_status", "delivery_parts", "delivery_error"])

    def _expected_parts(self):
        """How many parts the provider said it sent (0: unknown, the send's outcome was)."""
        if self.sms_parts:
            return self.sms_parts
        return len(self.provider_message_id.split(",")) if self.provider_message_id else 0

    def _reconciled_values(self, receipt, parts):
        _logger.info("Outbound message %s reconciled as sent by a delivery receipt", self.id)
        return {
            "state": "sent",
            "sent_at": receipt.delivered_at or fields.Datetime.now(),
            "provider_message_id": ",".join(parts),
            "outcome_unknown": False,
            "failure_reason": self.env._(
                "reconciled from the provider's delivery receipt (%(status)s) after: %(reason)s",
                status=receipt.status,
                reason=self.failure_reason,
            ),
        }

    def _tell_undelivered(self):
        """Post on the account that its text did not arrive, and move it to the campaign's
        ``undelivered_status`` (when set) so that agents phone it instead."""
        status_label = dict(self._fields["delivery_status"]._description_selection(self.env))
        body = self.env._(
            "The text to %(address)s of campaign %(campaign)s (job %(job)s) was not delivered: "
            "%(status)s%(error)s.",
            address=self.address,
            campaign=self.campaign_id.name,
            job=self.job_id.name,
            status=status_label.get(self.delivery_status, self.delivery_status),
            error=self.env._(" (error %s)", self.delivery_error) if self.delivery_error else "",
        )
        self.account_id._post_outcome(body, status=self.campaign_id.undelivered_status)

    # ---- EMAIL BOUNCES

    @api.model
    def _receive_bounce(self, email_message, message_ids):
        """Record the bounce ``email_message`` on our emails among ``message_ids`` (``<…>``).

        Called by the mail gateway, as superuser, for every bounce it receives: Message-Ids that
        are not ours find nothing here and Odoo's own handling is left as it was.
        """
        bare = [message_id.strip("<>") for message_id in message_ids]
        messages = self.search(
            [("channel", "=", "email"), ("provider_message_id", "in", [*message_ids, *bare])]
        )
        for message in messages:
            message._apply_bounce(bounces.find_bounce(email_message, message.address))
        return messages

    def _apply_bounce(self, bounce):
        """Record ``bounce`` (an :class:`~..engine.bounces.Bounce`) on this email and its account.

        Returns whether it was recorded: a success report, the same report again (a replayed
        bounce) or any report after a permanent failure changes nothing.
        """
        self.ensure_one()
        if not bounce.failed:
            _logger.info("Outbound message %s: success report (%s) ignored", self.id, bounce.action)
            return False
        if self._bounce_recorded(bounce):
            _logger.info("Outbound message %s: bounce %s already recorded", self.id, bounce.status)
            return False
        self.write(
            {
                "delivery_status": "bounced",
                "delivery_error": bounce.status or False,
                "delivery_detail": bounce.diagnostic or False,
                "delivered_at": False,
            }
        )
        self._bounce_account(bounce)
        return True

    def _bounce_recorded(self, bounce):
        if self.delivery_status != "bounced":
            return False
        if (self.delivery_error or "").startswith("5."):
            return True  # nothing later makes an address that refused mail take it
        recorded = (self.delivery_error or None, self.delivery_detail or None)
        return recorded == (bounce.status, bounce.diagnostic)

    def _bounce_account(self, bounce):
        """The account's chatter note, its status and, for a permanent failure, its address.

        Only a report about the address this email went to (or naming none, as plain-text
        bounces do) acts on the account: one about another recipient (a forward) only leaves a
        note. A delay (the remote server still retries) changes no status.
        """
        account = self.account_id
        if not account:
            return
        ours = bounce.names(self.address) is not False
        invalidate = ours and bounce.permanent and account.email == self.address
        if invalidate:
            account.write({"email": False, "email_error": self._bounce_email_error(bounce)})
        status = ours and bounce.action != "delayed" and self.campaign_id.undelivered_status
        account._post_outcome(self._bounce_note(bounce, ours, invalidate), status=status)

    def _bounce_email_error(self, bounce):
        return self.env._(
            "bounced: %(status)s %(diagnostic)s (%(address)s)",
            status=bounce.status,
            diagnostic=bounce.diagnostic or "",
            address=self.address,
        )

    def _bounce_note(self, bounce, ours, invalidated):
        if invalidated:
            outcome = self.env._("The address is now invalid: later emails skip it.")
        elif not ours:
            outcome = self.env._(
                "The report is about another recipient (%(recipient)s): the address is kept.",
                recipient=bounce.recipient,
            )
        elif not bounce.permanent:
            outcome = self.env._("Not a permanent failure: the address is kept.")
        elif not self.account_id.email:
            outcome = self.env._("The address was already invalid.")
        else:
            outcome = self.env._("The account's address has changed since: it is kept.")
        return self.env._(
            "Email of campaign %(campaign)s to %(address)s bounced (%(status)s): "
            "%(diagnostic)s. %(outcome)s",
            campaign=self.campaign_id.name,
            address=self.address,
            status=bounce.status or self.env._("no status"),
            diagnostic=bounce.diagnostic or self.env._("no diagnostic"),
            outcome=outcome,
        )

    # ---- UNSUBSCRIBE

    @api.model
    def _unsubscribe_sign(self, message_id):
        return tools.hmac(self.env(su=True), unsubscribe.SCOPE, message_id)

    @api.model
    def _get_unsubscribe_signer(self):
        """:meth:`_unsubscribe_sign` for a batch's links with the secret read once (reading it
        costs several times the signature); Odoo's own if ``tools.hmac`` signs otherwise."""
        secret = self.env["ir.config_parameter"].sudo().get_param("database.secret").encode()

        def sign(message_id):
            message = repr((unsubscribe.SCOPE, message_id)).encode()
            return hmac.new(secret, message, hashlib.sha256).hexdigest()

        return sign if sign(1) == self._unsubscribe_sign(1) else self._unsubscribe_sign

    @api.model
    def _get_unsubscribe_token(self, message_id, sign=None):
        """The signed token of a message id (the dispatcher works on ids, not records)."""
        return unsubscribe.make_token(message_id, sign or self._unsubscribe_sign)

    @api.model
    def _get_unsubscribe_url(self, message_id, base_url=None, sign=None):
        """``sign``: a :meth:`_get_unsubscribe_signer`, when signing many."""
        base_url = base_url or self.get_base_url()
        return f"{base_url}/outbound/unsubscribe/{self._get_unsubscribe_token(message_id, sign)}"

    @api.model
    def _from_unsubscribe_token(self, token):
        """The email message ``token`` was signed for.

        :raises unsubscribe.InvalidToken: forged, altered, malformed, or no such email
        """
        message = self.sudo().browse(unsubscribe.read_token(token, self._unsubscribe_sign))
        if not message.exists() or message.channel != "email" or not message.address:
            raise unsubscribe.InvalidToken(f"no email message {message.id}")
        return message

    def _unsubscribe(self):
        """Blacklist the message's address and say so on the account's chatter, once.

        The link may be followed any number of times (mail clients retry, people click twice);
        only the first claim of ``unsubscribed_at`` does anything. Runs as superuser, so the
        notes are OdooBot's. Returns whether this call did it.
        """
        self.ensure_one()
        self.env.cr.execute(
            SQL(
                "UPDATE outbound_message SET unsubscribed_at = now() AT TIME ZONE 'UTC'"
                " WHERE id = %s AND unsubscribed_at IS NULL RETURNING id",
                self.id,
            )
        )
        if not self.env.cr.fetchone():
            return False
        self.invalidate_recordset(["unsubscribed_at"])
        message = self.with_env(self.env(user=SUPERUSER_ID, su=True))
        campaign = message.campaign_id.name or ""
        note = message.env._(
            "Unsubscribed from the emails of campaign %(campaign)s (one-click link of %(job)s).",
            campaign=campaign,
            job=message.job_id.name,
        )
        message.env["mail.blacklist"]._add(message.address, message=note)
        message.account_id._post_outcome(note)
        _logger.info("Outbound message %s: its recipient unsubscribed", self.id)
        return True
