"""What every SMS provider adapter offers: one request in, one result or one GatewayError out.

An adapter is one class: it declares the gateway settings it reads (:attr:`SmsGateway.settings`),
its default API host and its status mapping, sends one :class:`SmsRequest` at a time, and reads
its provider's webhooks from the whole :class:`WebhookRequest` (each provider signs differently:
Vonage over the parameters with a secret, Twilio over the URL and the parameters).
"""

import abc
import json
import re
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
    status_callback: str | None = None  # URL for the provider's delivery receipts


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


@dataclass(frozen=True)
class InboundSms:
    """A text someone sent to one of the gateway's numbers (a reply, STOP, START).

    ``provider_id`` is the provider's id of the message (the same on every redelivery);
    ``sender`` the number it came from in E.164 form with its ``+``; ``to`` our number (as the
    provider wrote it); ``received_at`` a naive UTC datetime or ``None`` when the provider does
    not say; ``keyword`` the first word in upper case (Vonage's ``keyword``), or ``None``;
    ``part`` / ``parts``: which part of a long text this is, when the provider sends each part
    on its own (Vonage).
    """

    provider_id: str
    sender: str
    to: str
    text: str
    received_at: object = None
    keyword: str | None = None
    part: int = 1
    parts: int = 1


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's webhook call as received: what an adapter needs to check and read it.

    ``url`` is the full URL the provider called (scheme, host, path and query), ``headers`` a
    dict with lower-case names, ``params`` the query and form parameters merged (strings),
    ``body`` the raw body.
    """

    method: str
    url: str
    headers: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    body: bytes = b""
    content_type: str = ""

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        """The body decoded as a JSON object.

        :raises ValueError: the body is empty, not JSON, or not an object
        """
        try:
            value = json.loads(self.body or b"")
        except (TypeError, ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"malformed JSON body: {exc}") from exc
        if not isinstance(value, dict):
            raise ValueError(f"JSON body must be an object, not {type(value).__name__}")
        return value

    def values(self):
        """The parameters, plus the JSON body's keys when the body is JSON (strings kept)."""
        if self.content_type == "application/json":
            return dict(self.params, **self.json())
        return dict(self.params)


# An E.164 number: up to 15 digits, the first not 0 (ITU-T E.164).
_E164_DIGITS = re.compile(r"[1-9][0-9]{5,14}")


def e164_sender(value, provider):
    """``value`` (``447911123456`` or ``+447911123456``) as ``+447911123456``.

    :raises ValueError: not a number in E.164 form (an alphanumeric sender, a short code)
    """
    digits = value.removeprefix("+") if isinstance(value, str) else ""
    if not _E164_DIGITS.fullmatch(digits):
        shown = str(value)[:40]
        raise ValueError(f"{provider}: inbound message from {shown!r}, not an E.164 number")
    return f"+{digits}"


def first_word(text):
    """The first word of ``text`` in upper case, or ``None`` (what Vonage calls the keyword)."""
    words = text.split(None, 1)
    return words[0].upper()[:100] if words else None


# What a receipt can say, in every provider's words mapped to ours: "accepted" and "buffered" are
# on their way, the others final ("undelivered": the carrier or the phone did not take it;
# "rejected": the provider refused it; "unknown": the provider does not know).
DELIVERY_STATES = (
    "accepted",
    "buffered",
    "delivered",
    "undelivered",
    "expired",
    "rejected",
    "unknown",
)


class SmsGateway(abc.ABC):
    """Base class of the provider adapters.

    ``send`` raises :class:`~..errors.GatewayError` subclasses only, so the caller decides from the
    class what happens to the message and the job. A gateway may hold a connection open between
    sends: use it as a context manager, or call :meth:`close`.
    """

    provider = None
    label = None
    # Names of the gateway settings the adapter reads, among: api_key, api_secret,
    # signature_secret, signature_method, messaging_service_sid, rest_host, timeout, ca_bundle.
    # get_gateway() passes these only; the gateway form shows these only.
    settings = ()
    default_rest_host = None
    # Provider status or error code -> GatewayError subclass: the mapping the adapter applies.
    status_errors = {}

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
    def parse_receipt(cls, webhook, **config):
        """Read a delivery receipt :class:`WebhookRequest` into a :class:`DeliveryReceipt`.

        ``config`` holds the gateway's settings (those of :attr:`settings`).

        :raises AccountError: the receipt is not authentic (bad signature, other account)
        :raises ValueError: the receipt is malformed
        """
        raise NotImplementedError(f"{cls.provider} sends no delivery receipts we can read")

    @classmethod
    def parse_inbound(cls, webhook, **config):
        """Read an inbound message :class:`WebhookRequest` into an :class:`InboundSms`.

        ``config`` holds the gateway's settings (those of :attr:`settings`).

        :raises AccountError: the message is not authentic (bad signature, other account)
        :raises ValueError: the message is malformed
        """
        raise NotImplementedError(f"{cls.provider} sends no inbound messages we can read")

    @classmethod
    def inbound_answer(cls):
        """``(body, content type)`` of the answer to a provider's inbound message webhook."""
        return "ok", "text/plain"

    def country_prices(self, countries=None):
        """``{ISO country code: (price per SMS segment, ISO currency code)}`` from the provider's
        pricing API, for ``countries`` (ISO codes; ``None``: every country).

        :raises NotImplementedError: the provider has no pricing API we read
        :raises GatewayError: the provider refused or failed the request
        """
        raise NotImplementedError(f"{self.provider} prices cannot be fetched: type them in")

    def close(self):  # noqa: B027 - optional: most gateways hold nothing open
        """Release what the gateway holds open; the base class holds nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
