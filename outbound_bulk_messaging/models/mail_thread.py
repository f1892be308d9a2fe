from odoo import api, models

from ..engine import bounces


class MailThread(models.AbstractModel):
    """The mail gateway's bounce handling also settles our outbound emails (as mass_mailing
    settles its traces): Odoo finds the bounced Message-Ids, ``outbound.message`` records them."""

    _inherit = "mail.thread"

    @api.model
    def _routing_handle_bounce(self, email_message, message_dict):
        result = super()._routing_handle_bounce(email_message, message_dict)
        message_ids = list(message_dict.get("bounced_msg_ids") or [])
        # A plain-text bounce quotes the original instead of attaching it, where Odoo does not look.
        message_ids += bounces.quoted_message_ids(email_message)
        if message_ids:
            self.env["outbound.message"].sudo()._receive_bounce(email_message, message_ids)
        return result
