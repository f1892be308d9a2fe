import secrets

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..engine.addresses import number_region
from ..engine.errors import AccountError, GatewayError
from ..engine.gateways import GATEWAYS, SmsRequest, gateway_config, get_gateway

ADMIN_GROUP = "outbound_bulk_messaging.group_outbound_admin"
# Adapter setting -> field of this model, where the names differ.
SETTING_FIELDS = {"ca_bundle": "ca_file"}


def _provider_selection():
    return [(code, adapter.label or code.title()) for code, adapter in GATEWAYS.items()]


def _signature_methods():
    """Every signing method an adapter offers, as (code, label) pairs."""
    methods = {}
    for adapter in GATEWAYS.values():
        methods.update(getattr(adapter, "signature_methods", ()))
    return list(methods.items())


class OutboundSmsGateway(models.Model):
    """An SMS provider account. Another provider is one adapter class in ``engine/gateways``.

    The fields are the settings of every provider; each adapter declares those it reads
    (``settings``), and the form shows only those. For every provider ``api_key`` /
    ``api_secret`` are its credential pair (Twilio: Account SID / Auth Token), ``default_sender``
    its sender, ``rest_host`` and ``ca_file`` point its API at a test endpoint.

    Secrets are readable by Outbound administrators only (``groups=`` on the fields): campaign
    managers see the gateway's name to choose it on a campaign, nothing else.
    """

    _name = "outbound.sms.gateway"
    _description = "Outbound SMS Gateway"
    _order = "name, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    provider = fields.Selection(_provider_selection(), default="vonage", required=True)
    provider_settings = fields.Char(
        compute="_compute_provider_settings",
        help="The settings the provider's adapter reads (the form shows these only).",
    )
    api_key = fields.Char(
        string="API Key", groups=ADMIN_GROUP, help="Vonage: API key. Twilio: Account SID."
    )
    api_secret = fields.Char(
        string="API Secret", groups=ADMIN_GROUP, help="Vonage: API secret. Twilio: Auth Token."
    )
    signature_secret = fields.Char(
        groups=ADMIN_GROUP, help="When set, requests are signed instead of carrying the API secret."
    )
    signature_method = fields.Selection(_signature_methods(), default="md5", groups=ADMIN_GROUP)
    messaging_service_sid = fields.Char(
        string="Messaging Service SID",
        groups=ADMIN_GROUP,
        help="Twilio: send through this Messaging Service instead of a From number.",
    )
    rest_host = fields.Char(
        string="REST Host",
        compute="_compute_rest_host",
        store=True,
        readonly=False,
        precompute=True,
        required=True,
        groups=ADMIN_GROUP,
        help="Host (and port) of the provider's API; point it at a test endpoint to try it out.",
    )
    ca_file = fields.Char(
        string="CA Certificate File",
        groups=ADMIN_GROUP,
        help="PEM file of the authorities to trust for the REST host instead of the system ones "
        "(a test endpoint with its own certificate). Empty: the system authorities.",
    )
    timeout = fields.Integer(
        default=10, groups=ADMIN_GROUP, help="Seconds to wait for the provider before giving up."
    )
    default_sender = fields.Char(
        help="Sender id or number used when a campaign sets none (alphanumeric ids: 11 chars max)."
    )
    messages_per_second = fields.Float(
        default=30.0,
        help="Cap on this gateway's sending rate, across all jobs and workers (Vonage allows 30 "
        "per second per API key by default). 0: no cap.",
    )
    receipt_token = fields.Char(
        groups=ADMIN_GROUP,
        copy=False,
        readonly=True,
        default=lambda self: secrets.token_urlsafe(24),
        help="Secret part of the delivery receipt URL: only the provider knows it.",
    )
    receipt_url = fields.Char(
        string="Delivery Receipt URL",
        compute="_compute_receipt_url",
        groups=ADMIN_GROUP,
        help="Set it as the SMS delivery receipt (DLR) webhook in the provider's dashboard.",
    )
    inbound_token = fields.Char(
        groups=ADMIN_GROUP,
        copy=False,
        readonly=True,
        default=lambda self: secrets.token_urlsafe(24),
        help="Secret part of the inbound SMS URL: only the provider knows it.",
    )
    inbound_url = fields.Char(
        string="Inbound SMS URL",
        compute="_compute_inbound_url",
        groups=ADMIN_GROUP,
        help="Set it as the inbound message webhook of the number in the provider's dashboard: "
        "replies and STOP come back through it.",
    )
    opt_out_keywords = fields.Char(
        string="More Opt-Out Words",
        help="Comma-separated words that also opt a number out when texted back, beside STOP, "
        "STOPALL, UNSUBSCRIBE, CANCEL, END and QUIT (e.g. ARRET, STOPP, BAJA).",
    )
    test_number = fields.Char(groups=ADMIN_GROUP, help="E.164 number for the test SMS.")
    price_ids = fields.One2many(
        "outbound.sms.price",
        "gateway_id",
        string="Prices per Segment",
        help="Price of one SMS segment by destination country, for the send screen's estimate.",
    )
    max_errors = fields.Integer(
        string="Pause After",
        default=3,
        help="Sends in a row whose outcome is unknown (timeout, dropped connection, server "
        "error) after which a job pauses. Each one fails its message as 'outcome unknown'; "
        "a message accepted in between starts the count again.",
    )

    @api.depends("provider")
    def _compute_provider_settings(self):
        for gateway in self:
            adapter = GATEWAYS.get(gateway.provider)
            settings = adapter.settings if adapter else ()
            gateway.provider_settings = ",".join(
                SETTING_FIELDS.get(name, name) for name in settings
            )

    @api.depends("provider")
    def _compute_rest_host(self):
        defaults = {adapter.default_rest_host for adapter in GATEWAYS.values()}
        for gateway in self:
            adapter = GATEWAYS.get(gateway.provider)
            if adapter and (not gateway.rest_host or gateway.rest_host in defaults):
                gateway.rest_host = adapter.default_rest_host

    @api.depends("receipt_token", "provider")
    def _compute_receipt_url(self):
        base_url = self.get_base_url()
        for gateway in self:
            gateway.receipt_url = (
                f"{base_url}/outbound/sms/{gateway.provider}/receipt/{gateway.receipt_token}"
            )

    @api.depends("inbound_token", "provider")
    def _compute_inbound_url(self):
        base_url = self.get_base_url()
        for gateway in self:
            gateway.inbound_url = (
                f"{base_url}/outbound/sms/{gateway.provider}/inbound/{gateway.inbound_token}"
            )

    @api.constrains("messages_per_second", "timeout", "max_errors")
    def _check_limits(self):
        for gateway in self.sudo():
            if gateway.messages_per_second < 0 or gateway.timeout < 1 or gateway.max_errors < 1:
                raise ValidationError(
                    self.env._(
                        "Gateway %s: messages per second must be 0 or more, the timeout at "
                        "least 1 s and 'Pause After' at least 1.",
                        gateway.name,
                    )
                )

    # ---- ACTIONS

    def action_send_test_sms(self):
        """Send one SMS to the test number and say what the provider answered."""
        self.ensure_one()
        if not self.env.user.has_group(ADMIN_GROUP):
            raise UserError(self.env._("Only Outbound administrators can test a gateway."))
        gateway = self.sudo()
        if not gateway.test_number:
            raise UserError(self.env._("Set a test number first."))
        request = SmsRequest(
            to=gateway.test_number,
            sender=gateway.default_sender or "Odoo",
            text=self.env._("Test SMS from Odoo gateway %s", gateway.name),
            client_ref=f"test-{gateway.id}",
        )
        try:
            with gateway._get_adapter() as adapter:
                result = adapter.send(request)
        except GatewayError as error:
            raise UserError(
                self.env._("Gateway %(name)s: %(error)s", name=gateway.name, error=error)
            ) from error
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Test SMS sent"),
                "message": self.env._(
                    "%(provider)s accepted it: id %(id)s, %(parts)s part(s).",
                    provider=gateway.provider,
                    id=result.provider_id,
                    parts=result.parts,
                ),
            },
        }

    def action_fetch_prices(self):
        """Ask the provider its price per segment to the countries of the accounts of the
        campaigns sending through this gateway (or to every country, with the context key
        ``outbound_all_countries``) and write them on the gateway, in the company's currency."""
        self.ensure_one()
        if not self.env.user.has_group(ADMIN_GROUP):
            raise UserError(self.env._("Only Outbound administrators can fetch prices."))
        countries = None if self.env.context.get("outbound_all_countries") else self._countries()
        if countries == []:
            raise UserError(
                self.env._(
                    "No campaign sends through %s to an account with a valid number.", self.name
                )
            )
        prices = self._fetch_prices(countries)
        written = self._write_prices(prices)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Prices fetched"),
                "message": self.env._(
                    "%(count)s price(s) written; no price for: %(missing)s",
                    count=written,
                    missing=", ".join(sorted(set(countries or ()) - set(prices))) or "-",
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    # ---- PRICES

    def _countries(self):
        """ISO codes of the countries of the accounts' numbers in this gateway's campaigns."""
        for model in ("outbound.account", "outbound.list", "outbound.campaign"):
            self.env[model].flush_model()
        self.env.cr.execute(
            """
            SELECT DISTINCT a.sms_number_e164 FROM outbound_account a
              JOIN outbound_list l ON l.id = a.list_id
              JOIN outbound_campaign c ON c.id = l.campaign_id
             WHERE c.sms_gateway_id = %s AND a.sms_number_e164 IS NOT NULL
            """,
            [self.id],
        )
        regions = {number_region(number) for (number,) in self.env.cr.fetchall()}
        return sorted(regions - {None})

    def _fetch_prices(self, countries):
        try:
            with self._get_adapter() as adapter:
                return adapter.country_prices(countries)
        except NotImplementedError as error:
            raise UserError(str(error)) from error
        except GatewayError as error:
            raise UserError(
                self.env._("Gateway %(name)s: %(error)s", name=self.name, error=error)
            ) from error

    def _write_prices(self, prices):
        """Create or update this gateway's price rows from ``{code: (price, currency code)}``."""
        company = self.company_id
        countries = self.env["res.country"].search([("code", "in", list(prices))])
        currencies = self.env["res.currency"].with_context(active_test=False)
        existing = {price.country_id: price for price in self.sudo().price_ids}
        for country in countries:
            amount, currency_code = prices[country.code]
            currency = currencies.search([("name", "=", currency_code)], limit=1)
            if currency and currency != company.currency_id:
                amount = currency._convert(
                    amount, company.currency_id, company, fields.Date.today(), round=False
                )
            if country in existing:
                existing[country].price = amount
            else:
                self.env["outbound.sms.price"].create(
                    {"gateway_id": self.id, "country_id": country.id, "price": amount}
                )
        return len(countries)

    def _to_company_currency(self, amount, currency_code):
        """``amount`` in ``currency_code`` (the provider's account currency) converted at
        today's rate to the company's currency, in which prices are kept."""
        company = self.company_id
        if not currency_code or currency_code == company.currency_id.name:
            return amount
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", currency_code)], limit=1)
        )
        if not currency:
            raise UserError(
                self.env._("The provider prices in %s, a currency unknown here.", currency_code)
            )
        return currency._convert(
            amount, company.currency_id, company, fields.Date.today(), round=False
        )

    # ---- SENDING

    def _get_adapter(self):
        """The engine adapter of this gateway; raises AccountError on an unusable configuration."""
        self.ensure_one()
        return get_gateway(self.sudo().provider, **self._get_adapter_config())

    def _get_adapter_config(self):
        """Every provider setting of this gateway, by the adapters' names (see SETTING_FIELDS)."""
        self.ensure_one()
        gateway = self.sudo()
        return {
            "api_key": gateway.api_key or None,
            "api_secret": gateway.api_secret or None,
            "signature_secret": gateway.signature_secret or None,
            "signature_method": gateway.signature_method or "md5",
            "messaging_service_sid": gateway.messaging_service_sid or None,
            "rest_host": gateway.rest_host,
            "timeout": gateway.timeout,
            "ca_bundle": gateway.ca_file or None,
        }

    # ---- WEBHOOKS

    @api.model
    def _find_by_token(self, provider, token, token_field="receipt_token"):
        """The gateway of ``provider`` whose ``token_field`` (receipt_token or inbound_token)
        is ``token``."""
        if not token or provider not in GATEWAYS:
            return self.browse()
        return self.sudo().search([("provider", "=", provider), (token_field, "=", token)], limit=1)

    @api.model
    def _handle_receipt(self, provider, token, webhook):
        """Apply a delivery receipt received on a gateway's webhook (a ``WebhookRequest``).

        :return: None when no gateway has this token, else whether a message matched
        """
        gateway = self._find_by_token(provider, token)
        if not gateway:
            return None
        config = gateway_config(provider, gateway._get_adapter_config())
        receipt = GATEWAYS[provider].parse_receipt(webhook, **config)
        message = gateway._find_receipt_message(receipt)
        if message:
            message._apply_receipt(receipt)
        return bool(message)

    def _find_receipt_message(self, receipt):
        """The message the receipt's client_ref names, if it went to that number by this gateway."""
        client_ref = str(receipt.client_ref or "")
        if not client_ref.isdigit():
            return self.env["outbound.message"]
        message = self.env["outbound.message"].sudo().browse(int(client_ref)).exists()
        to = "+" + str(receipt.to or "").removeprefix("+")
        if message.job_id.sms_gateway_id != self or message.address != to:
            return self.env["outbound.message"]
        # Refused aloud (403), not ignored: a gateway must never settle another company's message.
        if message.company_id != self.company_id:
            raise AccountError(
                f"receipt on gateway {self.id} for message {message.id} of another company"
            )
        return message

    @api.model
    def _handle_inbound(self, provider, token, webhook):
        """Record an SMS received on a gateway's inbound webhook (a ``WebhookRequest``) and act
        on it: STOP / START change the phone blacklist, replies go to the account's chatter.

        :return: None when no gateway has this token, else the new ``outbound.inbound.sms``
            (empty when that message had already been received)
        """
        gateway = self._find_by_token(provider, token, "inbound_token")
        if not gateway:
            return None
        config = gateway_config(provider, gateway._get_adapter_config())
        sms = GATEWAYS[provider].parse_inbound(webhook, **config)
        return self.env["outbound.inbound.sms"].sudo()._receive(gateway, sms)
