"""SMS: the account's E.164 number, ``phone.blacklist``, the campaign's SMS gateway."""

from odoo.tools import SQL

from ..engine import dispatch, pacing, sms
from ..engine.addresses import normalise_phone
from ..engine.errors import GatewayError, OptedOutError
from ..engine.gateways import SmsRequest
from .base import Channel, Transport, TransportBusy

# pg advisory lock namespace of the gateways (first key of the two-int form).
GATEWAY_LOCK = 0x0B0B
# Sends are spaced 2 % above 1 / messages_per_second: up to 20 ms of network jitter then cannot
# put one request more than the cap into any second at the provider.
RATE_SLACK = 0.02


class SmsTransport(Transport):
    """SMS through the job's gateway adapter, at most the gateway's messages per second.

    A session-level advisory lock on the gateway lets one dispatcher at a time use it, so the
    rate cap holds across cron workers and servers.
    """

    def __init__(self, job, compiled, limiters):
        super().__init__(job, compiled, limiters)
        self.gateway = job.sms_gateway_id.sudo()
        cr = job.env.cr
        cr.execute(SQL("SELECT pg_try_advisory_lock(%s, %s)", GATEWAY_LOCK, self.gateway.id))
        if not cr.fetchone()[0]:
            raise TransportBusy()
        try:
            self.adapter = self.gateway._get_adapter()
        except GatewayError:
            self._unlock()
            raise
        self.sender = job.sms_sender or self.gateway.default_sender or ""
        self.status_callback = self.gateway.receipt_url or None
        self.max_segments = job.sms_max_segments or None
        self.limiter = limiters.setdefault(
            self.gateway.id,
            pacing.RateLimiter(self.gateway.messages_per_second, slack=RATE_SLACK),
        )

    def send(self, payload):
        text = self.compiled["body"].render(self.context(payload))
        sms.check(text, self.max_segments)
        request = SmsRequest(
            to=payload["address"],
            sender=self.sender,
            text=text,
            client_ref=str(payload["id"]),
            unicode=sms.analyse(text).encoding == "UCS-2",
            status_callback=self.status_callback,
        )
        try:
            result = self.adapter.send(request)
        except OptedOutError:
            # The provider refuses the number for good (the person replied STOP): never again.
            self.job.env["phone.blacklist"].sudo()._add([payload["address"]])
            raise
        return dispatch.Accepted(
            provider_id=result.provider_id, parts=result.parts, price=result.price
        )

    def close(self):
        self.adapter.close()
        self._unlock()

    def _unlock(self):
        self.job.env.cr.execute(
            SQL("SELECT pg_advisory_unlock(%s, %s)", GATEWAY_LOCK, self.gateway.id)
        )


class SmsChannel(Channel):
    code = "sms"
    label = "SMS"
    address_column = "sms_number_e164"
    time_zone_column = "sms_time_zones"
    blacklist_model = "phone.blacklist"
    blacklist_column = "number"
    template_field = "sms_template_id"
    campaign_fields = {"sms_sender": "sms_sender", "sms_gateway_id": "sms_gateway_id"}
    transport = SmsTransport

    def invalid_sql(self, alias):
        return SQL("%s IS NOT NULL", SQL.identifier(alias, "sms_number"))

    def invalid_detail_sql(self, alias):
        return SQL(
            "coalesce(%s, %s)",
            SQL.identifier(alias, "sms_number_error"),
            SQL.identifier(alias, "sms_number"),
        )

    def no_address_reason(self, env):
        return env._("no SMS number")

    def invalid_reason(self, env):
        return env._("invalid SMS number: %(error)s")

    def blockers(self, wizard):
        env, campaign = wizard.env, wizard.campaign_id
        template = wizard.sms_template_id
        checks = [
            (wizard.count_with_sms, env._("no account in scope has a valid SMS number")),
            (template, env._("choose a text template usable for SMS")),
            (
                not template or template.use_for_sms,
                env._("only text templates usable for SMS can be sent as SMS"),
            ),
            (campaign.sms_gateway_id, env._("the campaign has no SMS gateway")),
        ]
        return [blocker for ok, blocker in checks if not ok]

    def test_address(self, wizard, raw):
        if "@" in raw:
            return None
        company = wizard.campaign_id.company_id
        country = wizard.env["outbound.account"]._get_sms_country(False, company)
        result = normalise_phone(raw, country.code or None)
        return result.e164, result.error

    def max_errors(self, job):
        return job.sms_gateway_id.sudo().max_errors
