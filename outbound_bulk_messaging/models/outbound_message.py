import logging

from odoo import api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..channels import channel_selection
from ..engine import delivery
from ..engine.gateways import DELIVERY_STATES

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
OUTCOME_COUNTS = {
    "count_delivered": SQL("count(*) FILTER (WHERE delivery_status = 'delivered')"),
    "count_undelivered": SQL(
        "count(*) FILTER (WHERE delivery_status = ANY(%s))", list(delivery.FAILURES)
    ),
    "count_bounced": SQL("count(*) FILTER (WHERE delivery_status = 'bounced')"),
    "count_replied": SQL("count(*) FILTER (WHERE replied_at IS NOT NULL)"),
}

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
    dispatcher; campaign, list, company and template are copied from the job so that the status
    panel and the resend window are single-table aggregates over indexed columns.
    """

    _name = "outbound.message"
    _description = "Outbound Message"
    _order = "id"
    _rec_name = "address"

    job_id = fields.Many2one("outbound.send.job", required=True, ondelete="cascade", readonly=True)
    campaign_id = fields.Many2one("outbound.campaign", readonly=True, ondelete="cascade")
    list_id = fields.Many2one("outbound.list", readonly=True, ondelete="set null")
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    template_id = fields.Many2one("outbound.template", readonly=True, ondelete="set null")
    account_id = fields.Many2one("outbound.account", readonly=True, ondelete="set null", index=True)
    account_reference = fields.Char(readonly=True, help="Kept if the account is later deleted.")
    channel = fields.Selection(channel_selection(), required=True, readonly=True)
    address = fields.Char(readonly=True, help="Email address or E.164 number it was sent to.")
    state = fields.Selection(MESSAGE_STATES, required=True, default="queued", readonly=True)
    failure_reason = fields.Text(readonly=True)
    sent_at = fields.Datetime(readonly=True)
    provider_message_id = fields.Char(
        string="Provider Message ID", readonly=True, help="Message-Id of the email, or the SMS id."
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
    delivered_at = fields.Datetime(readonly=True)
    claimed_at = fields.Datetime(
        readonly=True, help="When a dispatcher claimed it: the pace counts claims per window."
    )

    def init(self):
        cr, table = self.env.cr, self._table
        # Claiming the next batch of a job and counting a job's progress.
        tools.create_index(cr, "outbound_message_job_state_idx", table, ["job_id", "state", "id"])
        # How many messages a job claimed in its current pacing window.
        tools.create_index(cr, "outbound_message_job_claimed_idx", table, ["job_id", "claimed_at"])
        # Status panel counts for a campaign or a list.
        tools.create_index(
            cr, "outbound_message_campaign_state_idx", table, ["campaign_id", "state"]
        )
        tools.create_index(cr, "outbound_message_list_state_idx", table, ["list_id", "state"])
        # Resend window: has this address already got (or is it getting) this template?
        tools.create_index(
            cr,
            "outbound_message_resend_idx",
            table,
            ["template_id", "channel", "address", "sent_at"],
            where="state IN ('queued', 'sending', 'sent')",
        )
        # Frequency cap: the company's messages on a channel sent since the period's start, and
        # those still to be sent (a small set once jobs are done).
        tools.create_index(
            cr,
            "outbound_message_cap_sent_idx",
            table,
            ["company_id", "channel", "sent_at"],
            where="state = 'sent'",
        )
        tools.create_index(
            cr,
            "outbound_message_cap_pending_idx",
            table,
            ["company_id", "channel"],
            where="state IN ('queued', 'sending')",
        )
        # Crash recovery looks only at messages left in 'sending'.
        tools.create_index(
            cr, "outbound_message_sending_idx", table, ["batch_id"], where="state = 'sending'"
        )

    @api.depends("address", "job_id")
    def _compute_display_name(self):
        for message in self:
            message.display_name = (
                f"{message.job_id.name} → {message.address or message.account_reference}"
            )

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
