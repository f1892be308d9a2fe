import logging

from odoo import http
from odoo.http import request

from ..engine.errors import AccountError
from ..engine.gateways import GATEWAYS

_logger = logging.getLogger(__name__)


class OutboundReceiptController(http.Controller):
    """SMS delivery receipts (DLR webhooks), one URL per gateway with a secret token."""

    @http.route(
        "/outbound/sms/<string:provider>/receipt/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def sms_receipt(self, provider, token, **params):
        if provider not in GATEWAYS:
            raise request.not_found()
        # Vonage sends query or form parameters, or a JSON body with the same keys.
        if request.httprequest.mimetype == "application/json":
            params = dict(params, **(request.get_json_data() or {}))
        try:
            matched = (
                request.env["outbound.sms.gateway"].sudo()._handle_receipt(provider, token, params)
            )
        except AccountError as error:
            _logger.info("Refused SMS delivery receipt: %s", error)
            return request.make_response("forbidden", status=403)
        except ValueError as error:
            _logger.info("Malformed SMS delivery receipt: %s", error)
            return request.make_response("malformed", status=400)
        if matched is None:
            raise request.not_found()
        # 200 even for a receipt of an unknown message: the provider would retry it forever.
        return request.make_response("ok")
