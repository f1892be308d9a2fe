import logging

from odoo import http
from odoo.http import request

from ..engine.errors import AccountError
from ..engine.gateways import GATEWAYS, WebhookRequest

_logger = logging.getLogger(__name__)

# A provider's webhook is a few hundred bytes; anything much larger is not one.
MAX_WEBHOOK_BYTES = 64 * 1024


def webhook_request():
    """The current HTTP request as the engine's ``WebhookRequest`` (whole: providers sign
    different parts of it)."""
    httprequest = request.httprequest
    return WebhookRequest(
        method=httprequest.method,
        url=httprequest.url,
        headers={name.lower(): value for name, value in httprequest.headers.items()},
        params=httprequest.values.to_dict(),
        body=httprequest.get_data(cache=True),
        content_type=httprequest.mimetype,
    )


class OutboundReceiptController(http.Controller):
    """SMS delivery receipts (DLR webhooks), one URL per gateway with a secret token.

    Anything malformed or not authentic gets a 4xx and changes nothing, never a 500.
    """

    @http.route(
        "/outbound/sms/<string:provider>/receipt/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def sms_receipt(self, provider, token, **_params):
        if provider not in GATEWAYS:
            raise request.not_found()
        if (request.httprequest.content_length or 0) > MAX_WEBHOOK_BYTES:
            _logger.info("Refused SMS delivery receipt: body over %d bytes", MAX_WEBHOOK_BYTES)
            return request.make_response("too large", status=413)
        try:
            matched = (
                request.env["outbound.sms.gateway"]
                .sudo()
                ._handle_receipt(provider, token, webhook_request())
            )
        except AccountError as error:
            _logger.info("Refused SMS delivery receipt: %s", error)
            return request.make_response("forbidden", status=403)
        except (ValueError, TypeError) as error:
            _logger.info("Malformed SMS delivery receipt: %s", error)
            return request.make_response("malformed", status=400)
        if matched is None:
            raise request.not_found()
        # 200 even for a receipt of an unknown message: the provider would retry it forever.
        return request.make_response("ok")

    @http.route(
        "/outbound/sms/<string:provider>/inbound/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def sms_inbound(self, provider, token, **_params):
        """Texts sent to a gateway's number (replies, STOP, START), one URL per gateway."""
        if provider not in GATEWAYS:
            raise request.not_found()
        too_large = (request.httprequest.content_length or 0) > MAX_WEBHOOK_BYTES
        webhook = None if too_large else webhook_request()
        if too_large or len(webhook.body) > MAX_WEBHOOK_BYTES:  # chunked: no Content-Length
            _logger.info("Refused inbound SMS: body over %d bytes", MAX_WEBHOOK_BYTES)
            return request.make_response("too large", status=413)
        try:
            inbound = (
                request.env["outbound.sms.gateway"].sudo()._handle_inbound(provider, token, webhook)
            )
        except AccountError as error:
            _logger.info("Refused inbound SMS: %s", error)
            return request.make_response("forbidden", status=403)
        except (ValueError, TypeError) as error:
            _logger.info("Malformed inbound SMS: %s", error)
            return request.make_response("malformed", status=400)
        if inbound is None:
            raise request.not_found()
        # 200 for a redelivered message too: the provider would send it again for a day.
        body, content_type = GATEWAYS[provider].inbound_answer()
        return request.make_response(body, headers=[("Content-Type", content_type)])
