"""SMS provider adapters behind one interface (:class:`~.base.SmsGateway`).

Adding a provider takes two steps: write an adapter class in its own module (a subclass of
``SmsGateway`` with ``provider``, ``describe_config_errors`` and ``send`` mapping every provider
failure to a :mod:`..errors` ``GatewayError``), then add one line to :data:`GATEWAYS`.
"""

from ..errors import AccountError
from .base import DELIVERY_STATES, DeliveryReceipt, SmsGateway, SmsRequest, SmsResult
from .vonage import VonageGateway

GATEWAYS = {
    "vonage": VonageGateway,
}


def get_gateway(provider, **config):
    """Build the gateway of ``provider`` from its configuration.

    :raises AccountError: unknown provider or unusable configuration
    """
    gateway_class = GATEWAYS.get(provider)
    if gateway_class is None:
        known = ", ".join(sorted(GATEWAYS))
        raise AccountError(f"unknown SMS provider {provider!r} (known: {known})")
    return gateway_class(**config)
