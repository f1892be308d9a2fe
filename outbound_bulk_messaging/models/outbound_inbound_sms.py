import logging

from markupsafe import Markup
from psycopg2 import errors

from odoo import api, fields, models
from odoo.tools import SQL

from ..engine import keywords

_logger = logging.getLogger(__name__)

INBOUND_KINDS = [
    (keywords.REPLY, "Reply"),
    (keywords.OPT_OUT, "Opt-Out"),
    (keywords.OPT_IN, "Opt-In"),
]
assert {code for code, _label in INBOUND_KINDS} == set(keywords.KINDS)


class OutboundInboundSms(models.Model):
    """A text someone sent to a gateway's number: a reply, or STOP / START.

    Recorded once per provider message (providers redeliver until they get a 2xx), matched to
    the account last texted at that number by that gateway, kept unmatched otherwise. Only the
    gateway's webhook creates them, as superuser, through :meth:`_receive`.
    """

    _name = "outbound.inbound.sms"
    _description = "Outbound Inbound SMS"
    _order = "received_at desc, id desc"
    _rec_name = "sender"

    gateway_id = fields.Many2one(
        "outbound.sms.gateway", required=True, readonly=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    provider_message_id = fields.Char(string="Provider Message ID", required=True, readonly=True)
    sender = fields.Char(required=True, readonly=True, index=True, help="E.164 number.")
    to_number = fields.Char(string="To", readonly=True, help="The gateway's number it was sent to.")
    text = fields.Text(readonly=True)
    keyword = fields.Char(readonly=True, help="The first word, as the provider reads it.")
    kind = fields.Selection(INBOUND_KINDS, required=True, readonly=True)
    received_at = fields.Datetime(required=True, readonly=True)
    part = fields.Integer(readonly=True, default=1, help="Part of a long text sent in parts.")
    parts = fields.Integer(readonly=True, default=1)
    message_id = fields.Many2one(
        "outbound.message",
        string="Replied Message",
        readonly=True,
        ondelete="set null",
        index="btree_not_null",
        help="The last SMS this gateway sent to the number, of the gateway's company.",
    )
    account_id = fields.Many2one(
        "outbound.account", readonly=True, ondelete="set null", index="btree_not_null"
    )
    campaign_id = fields.Many2one("outbound.campaign", readonly=True, ondelete="set null")
    job_id = fields.Many2one(related="message_id.job_id", string="Send Job")
    note = fields.Char(readonly=True, help="What could not be done with it.")

    _sql_constraints = [
        (
            "provider_message_unique",
            "unique(gateway_id, provider_message_id)",
            "This message was already received on this gateway.",
        ),
    ]

    # ---- RECEIVING

    @api.model
    def _receive(self, gateway, sms):
        """Record ``sms`` (an engine ``InboundSms``) received on ``gateway`` and act on it.

        :return: the new record, or an empty recordset when it had already been received
        """
        extra_words = keywords.parse_keywords(gateway.opt_out_keywords)
        kind = keywords.classify(sms.text, extra_words)
        message = self._find_replied_message(gateway, sms.sender)
        inbound = self._insert_once(self._prepare_inbound_values(gateway, sms, kind, message))
        if not inbound:
            _logger.info(
                "Inbound SMS %s on gateway %s already received", sms.provider_id, gateway.id
            )
            return inbound
        inbound._act()
        return inbound

    @api.model
    def _find_replied_message(self, gateway, sender):
        """The last SMS ``gateway`` sent to ``sender``, among its own company's messages."""
        return (
            self.env["outbound.message"]
            .sudo()
            .search(
                [
                    ("channel", "=", "sms"),
                    ("state", "=", "sent"),
                    ("address", "=", sender),
                    ("company_id", "=", gateway.company_id.id),
                    ("job_id.sms_gateway_id", "=", gateway.id),
                ],
                order="sent_at desc, id desc",
                limit=1,
            )
        )

    @api.model
    def _prepare_inbound_values(self, gateway, sms, kind, message):
        return {
            "gateway_id": gateway.id,
            "company_id": gateway.company_id.id,
            "provider_message_id": sms.provider_id,
            "sender": sms.sender,
            "to_number": sms.to or None,
            "text": sms.text,
            "keyword": sms.keyword,
            "kind": kind,
            "received_at": sms.received_at or fields.Datetime.now(),
            "part": sms.part,
            "parts": sms.parts,
            "message_id": message.id or None,
            "account_id": message.account_id.id or None,
            "campaign_id": message.campaign_id.id or None,
        }

    @api.model
    def _insert_once(self, values):
        """Insert the row unless this gateway already has this provider message id.

        ``ON CONFLICT DO NOTHING`` makes a concurrent duplicate wait for the first one and skip.
        Under Odoo's repeatable-read transactions PostgreSQL raises a serialization failure
        instead when the first one committed after this transaction began: that too means the
        message is recorded, so it is caught in a savepoint (its failed query not logged as an
        error) and read as a duplicate.
        """
        columns = list(values)
        query = SQL(
            """INSERT INTO %s (%s, create_uid, write_uid, create_date, write_date)
               VALUES (%s, %s, %s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
               ON CONFLICT (gateway_id, provider_message_id) DO NOTHING
               RETURNING id""",
            SQL.identifier(self._table),
            SQL(", ").join(SQL.identifier(column) for column in columns),
            SQL(", ").join(SQL("%s", values[column]) for column in columns),
            self.env.uid,
            self.env.uid,
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
                row = self.env.cr.fetchone()
        except errors.SerializationFailure:
            _logger.info("Inbound SMS %s: delivered twice at once", values["provider_message_id"])
            row = None
        return self.browse(row[0]) if row else self.browse()

    # ---- ACTING ON IT

    def _act(self):
        self.ensure_one()
        {
            keywords.OPT_OUT: self._act_opt_out,
            keywords.OPT_IN: self._act_opt_in,
            keywords.REPLY: self._act_reply,
        }[self.kind]()

    def _act_opt_out(self):
        number = self._blacklist_number()
        if number:
            self.env["phone.blacklist"].sudo()._add([number], message=self._blacklist_log())
        self.account_id._post_outcome(
            self.env._(
                "%(number)s texted %(text)s: opted out of SMS (added to the phone blacklist).",
                number=self.sender,
                text=self._quoted_text(),
            )
        )

    def _act_opt_in(self):
        number = self._blacklist_number()
        if number:
            self.env["phone.blacklist"].sudo()._remove([number], message=self._blacklist_log())
        self.account_id._post_outcome(
            self.env._(
                "%(number)s texted %(text)s: opted back in to SMS (removed from the phone "
                "blacklist).",
                number=self.sender,
                text=self._quoted_text(),
            )
        )

    def _act_reply(self):
        if self.message_id:
            self.message_id.sudo().write({"reply_text": self.text, "replied_at": self.received_at})
        heading = self.env._("SMS reply from %(number)s", number=self.sender)
        if self.parts > 1:
            heading = self.env._(
                "%(heading)s (part %(part)s of %(parts)s)",
                heading=heading,
                part=self.part,
                parts=self.parts,
            )
        # Not a <blockquote>: the chatter folds quotes away, and the reply is the news.
        body = Markup("<p>%s:</p><p><strong>%s</strong></p>") % (heading, self.text)
        self.account_id._post_outcome(body, status=self.campaign_id.reply_status)

    def _blacklist_number(self):
        """The sender as phone.blacklist stores it; False (and a note) if it refuses it."""
        number = self.env["phone.blacklist"]._phone_format(number=self.sender)
        if not number:
            self.note = self.env._("Not a valid phone number: the phone blacklist was not changed.")
            _logger.info("Inbound SMS %s: sender %s is not a valid number", self.id, self.sender)
        return number

    def _blacklist_log(self):
        return self.env._(
            "Texted %(text)s to SMS gateway %(gateway)s.",
            text=self._quoted_text(),
            gateway=self.gateway_id.name,
        )

    def _quoted_text(self):
        return f"“{self.text.strip()[:40]}”"
