import logging

from odoo import SUPERUSER_ID, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..channels import channel_selection
from ..engine import unsubscribe
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
    unsubscribed_at = fields.Datetime(
        readonly=True, help="When the recipient unsubscribed through this email's link."
    )
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
        """Record an SMS delivery receipt; it settles a message whose outcome was unknown.

        A message failed as "outcome unknown" (a timeout, a crash) that the provider says it
        accepted or delivered did leave: it becomes sent, which is what reconciling by
        client_ref means. Nothing is ever resent from here.
        """
        self.ensure_one()
        values = {
            "delivery_status": receipt.status,
            "delivery_error": receipt.error_code or False,
            "delivered_at": receipt.delivered_at if receipt.status == "delivered" else False,
        }
        if (
            self.state == "failed"
            and self.outcome_unknown
            and receipt.status not in ("rejected", "unknown")
        ):
            values.update(
                state="sent",
                sent_at=receipt.delivered_at or fields.Datetime.now(),
                provider_message_id=receipt.provider_id,
                outcome_unknown=False,
                failure_reason=self.env._(
                    "reconciled from the provider's delivery receipt (%(status)s) "
                    "after: %(reason)s",
                    status=receipt.status,
                    reason=self.failure_reason,
                ),
            )
            _logger.info("Outbound message %s reconciled as sent by a delivery receipt", self.id)
        self.write(values)

    # ---- UNSUBSCRIBE

    @api.model
    def _unsubscribe_sign(self, message_id):
        return tools.hmac(self.env(su=True), unsubscribe.SCOPE, message_id)

    @api.model
    def _get_unsubscribe_token(self, message_id):
        """The signed token of a message id (the dispatcher works on ids, not records)."""
        return unsubscribe.make_token(message_id, self._unsubscribe_sign)

    @api.model
    def _get_unsubscribe_url(self, message_id, base_url=None):
        base_url = base_url or self.get_base_url()
        return f"{base_url}/outbound/unsubscribe/{self._get_unsubscribe_token(message_id)}"

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
