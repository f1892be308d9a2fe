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


def run_webhook(provider, token, what, handler):
    """Read a provider's webhook and hand it to the gateway's ``handler`` method.

    :return: ``(refusal, result)``: the 4xx response for input that is too large (413), not
        authentic (403) or malformed (400), with an INFO log line naming ``what``; else ``None``
        and what the handler returned. An unknown provider or token is a 404.
    """
    if provider not in GATEWAYS:
        raise request.not_found()
    too_large = (request.httprequest.content_length or 0) > MAX_WEBHOOK_BYTES
    webhook = None if too_large else webhook_request()
    if too_large or len(webhook.body) > MAX_WEBHOOK_BYTES:  # chunked: no Content-Length
        _logger.info("Refused %s: body over %d bytes", what, MAX_WEBHOOK_BYTES)
        return request.make_response("too large", status=413), None
    gateways = request.env["outbound.sms.gateway"].sudo()
    try:
        result = getattr(gateways, handler)(provider, token, webhook)
    except AccountError as error:
        _logger.info("Refused %s: %s", what, error)
        return request.make_response("forbidden", status=403), None
    except (ValueError, TypeError) as error:
        _logger.info("Malformed %s: %s", what, error)
        return request.make_response("malformed", status=400), None
    if result is None:
        raise request.not_found()
    return None, result


class OutboundReceiptController(http.Controller):
    """SMS delivery receipts and inbound texts, one URL each per gateway with a secret token.

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
        refusal, _matched = run_webhook(provider, token, "SMS delivery receipt", "_handle_receipt")
        # 200 even for a receipt of an unknown message: the provider would retry it forever.
        return refusal or request.make_response("ok")

    @http.route(
        "/outbound/sms/<string:provider>/inbound/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def sms_inbound(self, provider, token, **_params):
        """Texts sent to a gateway's number (replies, STOP, START)."""
        refusal, _inbound = run_webhook(provider, token, "inbound SMS", "_handle_inbound")
        if refusal:
            return refusal
        # 200 for a redelivered message too: the provider would send it again for a day.
        body, content_type = GATEWAYS[provider].inbound_answer()
        return request.make_response(body, headers=[("Content-Type", content_type)])
