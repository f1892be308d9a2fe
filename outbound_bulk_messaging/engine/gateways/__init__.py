"""SMS provider adapters behind one interface (:class:`~.base.SmsGateway`).

Adding a provider takes two steps: write an adapter class in its own module (a subclass of
``SmsGateway`` with ``provider``, ``label``, ``settings``, ``default_rest_host``,
``status_errors``, ``describe_config_errors``, ``send`` mapping every provider failure to a
:mod:`..errors` ``GatewayError``, ``parse_receipt`` and ``parse_inbound``), then add one line to
:data:`GATEWAYS`.
"""

from ..errors import AccountError
from .base import (
    DELIVERY_STATES,
    DeliveryReceipt,
    InboundSms,
    SmsGateway,
    SmsRequest,
    SmsResult,
    WebhookRequest,
)
from .twilio import TwilioGateway
from .vonage import VonageGateway

GATEWAYS = {
    "vonage": VonageGateway,
    "twilio": TwilioGateway,
}


def get_gateway(provider, **config):
    """Build the gateway of ``provider`` from its configuration.

    :raises AccountError: unknown provider or unusable configuration
    """
    gateway_class = GATEWAYS.get(provider)
    if gateway_class is None:
        known = ", ".join(sorted(GATEWAYS))
        raise AccountError(f"unknown SMS provider {provider!r} (known: {known})")
    return gateway_class(**gateway_config(provider, config))


def gateway_config(provider, config):
    """The part of ``config`` (all of a gateway's settings) that ``provider``'s adapter reads."""
    wanted = GATEWAYS[provider].settings
    return {name: value for name, value in config.items() if name in wanted}
