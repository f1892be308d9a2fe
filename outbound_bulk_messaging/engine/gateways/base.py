"""What every SMS provider adapter offers: one request in, one result or one GatewayError out."""

import abc
from dataclasses import dataclass, field

from ..errors import AccountError


@dataclass(frozen=True)
class SmsRequest:
    """One SMS to send.

    :param to: the recipient in E.164 form with its ``+`` (``+447700900000``)
    :param sender: an alphanumeric sender id or a number (E.164, ``+`` optional)
    :param client_ref: our message id as text, echoed by the provider so a send can be traced
    :param unicode: ``True`` when the text needs UCS-2 rather than the GSM 7-bit alphabet
    """

    to: str
    sender: str
    text: str
    client_ref: str
    unicode: bool = False


@dataclass(frozen=True)
class SmsResult:
    """What the provider said about an accepted message.

    ``provider_id`` joins the ids of all parts with commas; ``price`` is their total (``None`` when
    the provider does not say); ``raw`` is the provider's answer as decoded JSON.
    """

    provider_id: str
    parts: int
    price: float | None = None
    currency: str | None = None
    remaining_balance: float | None = None
    network: str | None = None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DeliveryReceipt:
    """What a provider's delivery receipt says about one message (or one of its parts).

    ``client_ref`` is the reference given when sending (our message id); ``status`` is one of
    ``DELIVERY_STATES``; ``delivered_at`` a naive UTC datetime or ``None``.
    """

    client_ref: str
    provider_id: str
    to: str
    status: str
    error_code: str | None = None
    delivered_at: object = None


# What a receipt can say; "accepted" and "buffered" are on their way, the others final.
DELIVERY_STATES = ("accepted", "buffered", "delivered", "expired", "failed", "rejected", "unknown")


class SmsGateway(abc.ABC):
    """Base class of the provider adapters.

    ``send`` raises :class:`~..errors.GatewayError` subclasses only, so the caller decides from the
    class what happens to the message and the job. A gateway may hold a connection open between
    sends: use it as a context manager, or call :meth:`close`.
    """

    provider = None

    def __init__(self, **config):
        problems = self.describe_config_errors(config)
        if problems:
            raise AccountError(f"{self.provider}: invalid configuration: {'; '.join(problems)}")

    @classmethod
    def describe_config_errors(cls, config):
        """Return the problems of ``config`` as sentences (empty when it is usable).

        A classmethod so a settings form can be checked without building a gateway.
        """
        return []

    @abc.abstractmethod
    def send(self, request):
        """Send one :class:`SmsRequest` and return its :class:`SmsResult`."""

    @classmethod
    def parse_receipt(cls, params, **config):
        """Read a delivery receipt webhook's ``params`` into a :class:`DeliveryReceipt`.

        :raises AccountError: the receipt is not authentic (bad signature, other account)
        :raises ValueError: the receipt is malformed
        """
        raise NotImplementedError(f"{cls.provider} sends no delivery receipts we can read")

    def close(self):  # noqa: B027 - optional: most gateways hold nothing open
        """Release what the gateway holds open; the base class holds nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
