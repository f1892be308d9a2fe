import logging

from odoo import api, models

from ..engine import bounces, unsubscribe

_logger = logging.getLogger(__name__)


class MailThread(models.AbstractModel):
    """What the mail gateway receives for our outbound emails.

    - Bounces also settle our emails (as mass_mailing settles its traces): Odoo finds the bounced
      Message-Ids, ``outbound.message`` records them.
    - The ``mailto:`` form of List-Unsubscribe: an email whose subject is ``unsubscribe <token>``,
      sent to the company's catchall, unsubscribes like the link.
    """

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

    @api.model
    def message_route(self, message, message_dict, model=None, thread_id=None, custom_values=None):
        token = unsubscribe.mailto_token(message_dict.get("subject"))
        if token:
            try:
                outbound = self.env["outbound.message"]._from_unsubscribe_token(token)
            except unsubscribe.InvalidToken as error:
                # Not ours, or forged: the mail gateway routes (or bounces) it as usual.
                _logger.info("Unsubscribe email with an invalid token: %s", error)
            else:
                outbound._unsubscribe()
                return []  # handled: nothing to create or post
        return super().message_route(
            message, message_dict, model=model, thread_id=thread_id, custom_values=custom_values
        )
