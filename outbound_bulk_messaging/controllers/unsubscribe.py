import logging

from odoo import http
from odoo.http import request

from ..engine import unsubscribe

_logger = logging.getLogger(__name__)

# A one-click POST is 26 bytes; the page's form the same.
MAX_BODY_BYTES = 4 * 1024


class OutboundUnsubscribeController(http.Controller):
    """The link of the List-Unsubscribe header and of the email's footer (RFC 8058).

    Mail clients POST ``List-Unsubscribe=One-Click`` without cookies or CSRF token, hence
    ``csrf=False`` and no session: the signed token is the only credential. A GET only shows the
    confirmation page, because link scanners open every link of an email. Anything forged or
    malformed gets a 4xx and changes nothing.
    """

    @http.route(
        "/outbound/unsubscribe/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        sitemap=False,
    )
    def unsubscribe(self, token, **_params):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            _logger.info("Refused unsubscribe request: body over %d bytes", MAX_BODY_BYTES)
            return request.make_response("too large", status=413)
        try:
            message = request.env["outbound.message"]._from_unsubscribe_token(token)
        except unsubscribe.MalformedToken as error:
            _logger.info("Refused unsubscribe request: %s", error)
            return request.make_response("malformed", status=400)
        except unsubscribe.InvalidToken as error:
            _logger.info("Refused unsubscribe request: %s", error)
            return request.make_response("forbidden", status=403)
        if httprequest.method == "POST":
            if not unsubscribe.is_one_click(httprequest.form):
                _logger.info("Refused unsubscribe of message %s: not one-click", message.id)
                return request.make_response("malformed", status=400)
            message._unsubscribe()
        return request.render(
            "outbound_bulk_messaging.unsubscribe_page",
            {
                "done": bool(message.unsubscribed_at),
                "address": message.address,
                "campaign": message.campaign_id.name,
                "action": httprequest.path,
            },
        )
