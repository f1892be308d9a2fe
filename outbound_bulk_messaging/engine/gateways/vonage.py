"""Vonage SMS API adapter, on the ``vonage`` SDK 4.x (``vonage_http_client`` + ``vonage_sms``).

Every message goes out at most once, so one :meth:`VonageGateway.send` makes exactly one HTTP
request: the SDK's own retries are switched off (see :meth:`VonageGateway._options`) and every
failure is mapped to the taxonomy of :mod:`..errors`, with ``sent=None`` whenever the request may
have reached Vonage.

The SDK logs a WARNING on the ``vonage`` logger for every HTTP error status; callers that expect
one mute that logger themselves.

Signatures: the SDK's ``Auth`` makes the HMAC ones only, so :class:`_Auth` adds Vonage's "MD5
hash" (``md5hash``, the dashboard's default) with :func:`md5_hash_signature`.
"""

import hashlib
import time
from datetime import datetime

import requests
from pydantic import ValidationError
from vonage_account import Account, GetCountryPricingRequest, ServiceType
from vonage_http_client import Auth, HttpClient, HttpClientOptions, HttpRequestError
from vonage_sms import Sms, SmsError, SmsMessage

from ..errors import (
    AccountError,
    MessageRejectedError,
    OutcomeUnknownError,
    ProviderUnavailableError,
    RecipientError,
    ThrottledError,
)
from .base import (
    DELIVERY_STATES,
    DeliveryReceipt,
    InboundSms,
    SmsGateway,
    SmsResult,
    e164_sender,
    first_word,
)
from .http import (
    connection_problems,
    retry_after,
    to_float,
    transport_error,
    trust_only,
)

DEFAULT_REST_HOST = "rest.nexmo.com"

# Vonage SMS API statuses (https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms)
STATUS_ERRORS = {
    "1": ThrottledError,  # throttled
    "10": ThrottledError,  # too many existing binds
    "3": RecipientError,  # invalid parameters, in practice an invalid number
    "6": RecipientError,  # invalid message: unroutable
    "7": RecipientError,  # number barred
    "22": RecipientError,  # invalid network code
    "33": RecipientError,  # number de-activated
    "2": MessageRejectedError,  # missing parameters
    "12": MessageRejectedError,  # message too long
    "4": AccountError,  # invalid credentials
    "8": AccountError,  # partner account barred
    "9": AccountError,  # quota exceeded
    "11": AccountError,  # account not enabled for HTTP
    "14": AccountError,  # invalid signature
    "15": AccountError,  # invalid sender address
    "23": AccountError,  # invalid callback url
    "29": AccountError,  # non-whitelisted destination
    "32": AccountError,  # signature and api secret disallowed
    "5": ProviderUnavailableError,  # internal error
}
# An internal error may come after Vonage queued the message.
STATUS_OUTCOME_UNKNOWN = {"5"}

# (code, label) of the signature methods of the Vonage dashboard, for the gateway form.
SIGNATURE_METHODS = (
    ("md5hash", "MD5 hash"),
    ("md5", "HMAC-MD5"),
    ("sha1", "HMAC-SHA1"),
    ("sha256", "HMAC-SHA256"),
    ("sha512", "HMAC-SHA512"),
)
SIGNATURE_METHOD_CODES = tuple(code for code, _label in SIGNATURE_METHODS)
# HMAC-MD5 stays the default (the dashboard's is "MD5 hash"): gateways saved before md5hash
# existed, with no method chosen, keep signing as they did.
DEFAULT_SIGNATURE_METHOD = "md5"
# A signed receipt's timestamp may be this many seconds from our clock, either way: a receipt
# replayed later is refused.
RECEIPT_MAX_SKEW = 5 * 60
CALLBACK_MAX_LENGTH = 100  # Vonage's limit on the callback URL, enforced by vonage_sms too


class _UnsignedNoneSmsMessage(SmsMessage):
    """An ``SmsMessage`` that leaves its unset fields out of the request and sends flags as 1/0.

    ``vonage_sms`` 1.2.0 signs ``model_dump(by_alias=True)``, unset fields included
    (``&ttl=None``), while ``requests`` drops ``None`` values from the form: Vonage then checks the
    signature over fewer fields than were signed and answers status 14. Flags
    (``status-report-req``) would go out as Python's ``True``; Vonage documents ``1``.
    """

    def model_dump(self, **kwargs):
        fields = super().model_dump(exclude_none=True, **kwargs)
        return {
            key: str(int(value)) if isinstance(value, bool) else value
            for key, value in fields.items()
        }


class _Auth(Auth):
    """The SDK's ``Auth``, plus the "MD5 hash" signature (``signature_method="md5hash"``).

    vonage_http_client 1.5's ``Auth`` documents ``signature_method=None`` for it, but its
    ``__init__`` then fails (``getattr(hashlib, None)``) and ``sign_params`` always makes an HMAC.
    """

    def __init__(self, signature_method=DEFAULT_SIGNATURE_METHOD, **kwargs):
        self._md5_hash = signature_method == "md5hash"
        super().__init__(signature_method="md5" if self._md5_hash else signature_method, **kwargs)

    def sign_params(self, params):
        if not self._md5_hash:
            return super().sign_params(params)
        if not params.get("timestamp"):
            params["timestamp"] = int(time.time())  # sent with the request, as the SDK does
        return md5_hash_signature(params, self._signature_secret)


class VonageGateway(SmsGateway):
    """Send SMS through Vonage's SMS API (``POST https://<rest_host>/sms/json``).

    :param signature_secret: sign requests instead of sending the API secret, with
        ``signature_method``: one of :data:`SIGNATURE_METHODS`, the one chosen in the dashboard
    :param rest_host: host name with an optional port (``127.0.0.1:8443`` for a local fake)
    :param timeout: seconds to wait for the connection and then for the answer
    :param ca_bundle: PEM file of the authorities to trust instead of the system ones
    """

    provider = "vonage"
    label = "Vonage"
    settings = (
        "api_key",
        "api_secret",
        "signature_secret",
        "signature_method",
        "rest_host",
        "timeout",
        "ca_bundle",
    )
    default_rest_host = DEFAULT_REST_HOST
    status_errors = STATUS_ERRORS
    signature_methods = SIGNATURE_METHODS  # the gateway form's selection reads it

    def __init__(
        self,
        api_key=None,
        api_secret=None,
        signature_secret=None,
        signature_method=DEFAULT_SIGNATURE_METHOD,
        rest_host=DEFAULT_REST_HOST,
        timeout=10,
        ca_bundle=None,
    ):
        super().__init__(
            api_key=api_key,
            api_secret=api_secret,
            signature_secret=signature_secret,
            signature_method=signature_method,
            rest_host=rest_host,
            timeout=timeout,
            ca_bundle=ca_bundle,
        )
        self.rest_host = rest_host
        self.timeout = timeout
        # "or None": Odoo gives False for an empty field, which the SDK's validation refuses.
        auth = _Auth(
            api_key=api_key,
            api_secret=api_secret or None,
            signature_secret=signature_secret or None,
            signature_method=signature_method,
        )
        self._client = HttpClient(auth, self._options(rest_host, timeout))
        if ca_bundle:
            # The SDK has no TLS option; its Session (HttpClient._session) makes every request.
            trust_only(self._client._session, self.rest_host, ca_bundle)
        self._sms = Sms(self._client)

    @classmethod
    def describe_config_errors(cls, config):
        checks = [
            (config.get("api_key"), "the API key is missing"),
            (
                config.get("api_secret") or config.get("signature_secret"),
                "the API secret (or the signature secret) is missing",
            ),
            (
                config.get("signature_method", DEFAULT_SIGNATURE_METHOD) in SIGNATURE_METHOD_CODES,
                f"the signature method must be one of {', '.join(SIGNATURE_METHOD_CODES)}",
            ),
        ]
        problems = [problem for ok, problem in checks if not ok]
        return problems + connection_problems(config, cls.default_rest_host)

    @staticmethod
    def _options(rest_host, timeout):
        # HttpClient.make_request resends on RemoteDisconnected up to pool_maxsize times and
        # urllib3 retries up to max_retries times: with 1 and 0 one send is one request, so a
        # request Vonage read before the connection dropped is never sent again.
        return HttpClientOptions(
            rest_host=rest_host,
            timeout=timeout,
            pool_connections=1,
            pool_maxsize=1,
            max_retries=0,
        )

    def close(self):
        # HttpClient has no close(); its Session holds the kept-alive connection.
        self._client._session.close()

    # ---- SENDING

    def send(self, request):
        message = self._message(request)
        try:
            self._sms.send(message)
        except SmsError as exc:
            raise self._status_error(self._answer(request)) from exc
        except HttpRequestError as exc:
            raise self._http_error(exc.response) from exc
        except requests.RequestException as exc:
            raise self._transport_error(exc, request) from exc
        except (TypeError, KeyError, IndexError, ValueError) as exc:
            # The SDK indexes the decoded body without checking it (None when not JSON).
            raise self._unexpected_answer(request) from exc
        return self._result(self._answer(request))

    def _message(self, request):
        try:
            return _UnsignedNoneSmsMessage(
                to=request.to.removeprefix("+"),
                from_=request.sender.removeprefix("+"),
                text=request.text,
                client_ref=request.client_ref,
                type="unicode" if request.unicode else "text",
                **self._receipt_request(request),
            )
        except ValidationError as exc:
            raise MessageRejectedError(f"vonage: invalid message: {exc}") from exc

    @staticmethod
    def _receipt_request(request):
        """Ask for a delivery receipt at ``status_callback``, over the dashboard's webhook."""
        url = request.status_callback
        if not url:
            return {}
        if len(url) > CALLBACK_MAX_LENGTH:
            # The same for every message of the job: a setting to fix, not a message to fail.
            raise AccountError(
                f"vonage: the delivery receipt URL is longer than {CALLBACK_MAX_LENGTH} "
                f"characters: {url}"
            )
        return {"callback": url, "status_report_req": True}

    def _answer(self, request):
        """Vonage's decoded answer, once known to hold a list of message parts (objects)."""
        body = self._client.last_response.json()
        parts = body.get("messages") if isinstance(body, dict) else None
        if not parts or not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
            # A 200 answer: the request reached Vonage, which may have queued the message.
            raise self._unexpected_answer(request)
        return body

    @staticmethod
    def _result(body):
        parts = body["messages"]
        prices = [to_float(part.get("message-price")) for part in parts]
        return SmsResult(
            provider_id=",".join(part.get("message-id", "") for part in parts),
            parts=len(parts),
            price=None if None in prices else round(sum(prices), 8),
            remaining_balance=to_float(parts[-1].get("remaining-balance")),
            network=parts[0].get("network"),
            raw=body,
        )

    # ---- DELIVERY RECEIPTS

    @classmethod
    def parse_receipt(
        cls,
        webhook,
        api_key=None,
        signature_secret=None,
        signature_method=DEFAULT_SIGNATURE_METHOD,
        now=None,
        **_,
    ):
        """Read a Vonage SMS delivery receipt: its fields are the webhook's query or form
        parameters, or its JSON body.

        The receipt must name this gateway's API key; with a signature secret it must also be
        signed with it (Vonage's "signed webhooks") at a ``timestamp`` within
        :data:`RECEIPT_MAX_SKEW` of ``now`` (epoch seconds, default: the current time).
        """
        params = _receipt_params(webhook)
        if not api_key or params.get("api-key") != api_key:
            raise AccountError("vonage: delivery receipt for another API key")
        if signature_secret:
            _check_signature(params, api_key, signature_secret, signature_method, now)
        return _receipt(params)

    # ---- INBOUND MESSAGES

    @classmethod
    def parse_inbound(
        cls,
        webhook,
        api_key=None,
        signature_secret=None,
        signature_method=DEFAULT_SIGNATURE_METHOD,
        now=None,
        **_,
    ):
        """Read an SMS sent to one of the account's numbers (Vonage's inbound SMS webhook: GET,
        POST form or POST JSON; ``msisdn``, ``to``, ``messageId``, ``text``, ``type``,
        ``keyword``, ``message-timestamp``).

        With a signature secret the message must be signed with it at a fresh ``timestamp``, as
        receipts are, and name this gateway's API key. Without one, the secret URL is the check;
        an ``api-key`` in the message must still be this gateway's (Vonage's own documentation
        of inbound messages does not promise one, so it is not required). Binary messages (no
        text) are refused; each part of a long (concatenated) message is read on its own.
        """
        params = _receipt_params(webhook, "inbound message")
        checked = signature_secret or "api-key" in params
        if checked and (not api_key or params.get("api-key") != api_key):
            raise AccountError("vonage: inbound message for another API key")
        if signature_secret:
            _check_signature(
                params, api_key, signature_secret, signature_method, now, "inbound message"
            )
        return _inbound(params)

    # ---- ERROR MAPPING

    def _unexpected_answer(self, request):
        response = self._client.last_response
        body = response.text[:200] if response is not None else ""
        return OutcomeUnknownError(
            f"vonage: unexpected answer from {self.rest_host}: {body!r}; the outcome of message "
            f"{request.client_ref} is unknown"
        )

    @staticmethod
    def _status_error(body):
        parts = body["messages"]
        failed = [part for part in parts if part.get("status") != "0"] or parts
        status, text = failed[0].get("status"), failed[0].get("error-text", "")
        code = int(status) if str(status).isdigit() else status
        accepted = len(parts) - len(failed)
        if accepted:
            # Part of the text may reach the phone: the message must not be sent again.
            return MessageRejectedError(
                f"vonage: only {accepted} of {len(parts)} parts accepted: status {status}: {text}",
                code=code,
                sent=None,
            )
        error_class = STATUS_ERRORS.get(status)
        if error_class is None:
            return MessageRejectedError(
                f"vonage: unknown status {status}: {text}", code=code, sent=False
            )
        sent = None if status in STATUS_OUTCOME_UNKNOWN else False
        return error_class(f"vonage: status {status}: {text}", code=code, sent=sent)

    def _http_error(self, response):
        status = response.status_code
        text = f"vonage: HTTP {status} from {self.rest_host}: {response.text.strip()[:500]}"
        if status in (401, 403):
            return AccountError(text, code=status, sent=False)
        if status == 429:
            wait = retry_after(response.headers.get("Retry-After"))
            return ThrottledError(text, code=status, sent=False, retry_after=wait)
        if status >= 500:
            # The request reached Vonage: it may have been queued before the failure.
            return ProviderUnavailableError(text, code=status, sent=None)
        if 400 <= status < 500:
            return AccountError(text, code=status, sent=False)
        return OutcomeUnknownError(text, code=status)

    def _transport_error(self, exc, request):
        return transport_error(self.provider, self.rest_host, self.timeout, exc, request.client_ref)

    # ---- PRICES

    def country_prices(self, countries=None):
        """Vonage's outbound SMS prices (Account API, basic auth: the API secret is needed),
        one request per country, or one for all of them when ``countries`` is ``None``.

        A country's price is its ``defaultPrice``; without one, the dearest of its networks,
        so that the estimate is not below what a text may cost.
        """
        account = Account(self._client)
        try:
            if countries is None:
                answers = account.get_all_countries_pricing(ServiceType.SMS).countries
            else:
                answers = [
                    account.get_country_pricing(GetCountryPricingRequest(country_code=code))
                    for code in countries
                ]
        except HttpRequestError as exc:
            raise self._http_error(exc.response) from exc
        except requests.RequestException as exc:
            raise transport_error(
                self.provider, self.rest_host, self.timeout, exc, "price request"
            ) from exc
        except (ValidationError, TypeError, KeyError, ValueError) as exc:
            raise ProviderUnavailableError(
                f"vonage: unexpected pricing answer from {self.rest_host}", sent=False
            ) from exc
        prices = {}
        for answer in answers:
            price = _country_price(answer)
            if answer.country_code and price is not None:
                prices[answer.country_code.upper()] = (price, answer.currency)
        return prices


def _country_price(answer):
    prices = [to_float(answer.default_price)]
    if prices[0] is None:
        prices = [to_float(network.price) for network in answer.networks or ()]
    prices = [price for price in prices if price is not None]
    return max(prices) if prices else None


def md5_hash_signature(params, secret):
    """Vonage's "MD5 hash" signature: the MD5 of ``&key=value`` for each parameter sorted by key,
    followed by the secret; ``&`` and ``=`` in values become ``_``, as for the HMAC methods."""
    signed = "".join(f"&{key}={_signed_value(params[key])}" for key in sorted(params))
    return hashlib.md5(f"{signed}{secret}".encode()).hexdigest()


def _signed_value(value):
    return value.replace("&", "_").replace("=", "_") if isinstance(value, str) else value


def _receipt_params(webhook, what="delivery receipt"):
    """The webhook's fields as text (JSON numbers included); ValueError on any other type."""
    params = {}
    for key, value in webhook.values().items():
        if isinstance(value, bool) or not isinstance(value, (str, int, float, type(None))):
            raise ValueError(
                f"vonage: {what} field {key!r} must be text or a number, not {type(value).__name__}"
            )
        if value is not None:
            params[key] = str(value)
    return params


def _check_signature(params, api_key, secret, method, now, what="delivery receipt"):
    if not _valid_signature(params, api_key, secret, method):
        raise AccountError(f"vonage: {what} with a missing or wrong signature")
    try:
        timestamp = int(params["timestamp"])
    except ValueError:
        raise ValueError(
            f"vonage: {what} timestamp {params['timestamp']!r} is not epoch seconds"
        ) from None
    skew = (time.time() if now is None else now) - timestamp
    if abs(skew) > RECEIPT_MAX_SKEW:
        raise AccountError(
            f"vonage: {what} timestamp outside {RECEIPT_MAX_SKEW // 60} minutes of "
            f"now ({round(skew)} s off): replayed, or a clock is wrong"
        )


def _valid_signature(params, api_key, secret, method):
    """Check ``sig`` with the SDK's own Auth.check_signature (it signs as Vonage does)."""
    sig, timestamp = params.get("sig"), params.get("timestamp")
    if method not in SIGNATURE_METHOD_CODES or not sig or not sig.isascii() or not timestamp:
        # Without a timestamp the SDK would sign with the current time; compare_digest refuses
        # non-ASCII text.
        return False
    auth = _Auth(api_key=api_key, signature_secret=secret, signature_method=method)
    return auth.check_signature(dict(params))


# Vonage's DLR status -> base.DELIVERY_STATES ("failed": the carrier could not deliver it).
RECEIPT_STATUSES = {state: state for state in DELIVERY_STATES} | {"failed": "undelivered"}


def _receipt(params):
    if not params.get("client-ref") or not params.get("messageId"):
        raise ValueError("vonage: delivery receipt without client-ref or messageId")
    status = (params.get("status") or "unknown").lower()
    error_code = params.get("err-code")
    return DeliveryReceipt(
        client_ref=params["client-ref"],
        provider_id=params["messageId"],
        to=params.get("msisdn") or "",
        status=RECEIPT_STATUSES.get(status, "unknown"),
        error_code=error_code if error_code not in (None, "", "0") else None,
        # scts: when the carrier reported the delivery; message-timestamp: when Vonage sent us
        # this receipt, which may be much later.
        delivered_at=_receipt_time(params.get("scts"), "%y%m%d%H%M")
        or _receipt_time(params.get("message-timestamp"), "%Y-%m-%d %H:%M:%S"),
    )


def _inbound(params):
    missing = [key for key in ("msisdn", "to", "messageId", "text") if not params.get(key)]
    if params.get("type", "text") not in ("text", "unicode"):
        raise ValueError(f"vonage: inbound message of type {params['type']!r}: no text to read")
    if missing:
        raise ValueError(f"vonage: inbound message without {', '.join(missing)}")
    part, parts = _concat_part(params)
    return InboundSms(
        provider_id=params["messageId"],
        sender=e164_sender(params["msisdn"], "vonage"),
        to=params["to"],
        text=params["text"],
        received_at=_receipt_time(params.get("message-timestamp"), "%Y-%m-%d %H:%M:%S"),
        keyword=params.get("keyword") or first_word(params["text"]),
        part=part,
        parts=parts,
    )


def _concat_part(params):
    """``(part, parts)`` of a concatenated message (each part has its own messageId), or (1, 1)."""
    if params.get("concat") != "true":
        return 1, 1
    try:
        part, parts = int(params["concat-part"]), int(params["concat-total"])
    except (KeyError, ValueError):
        raise ValueError("vonage: inbound message part without concat-part or -total") from None
    if not 1 <= part <= parts <= 255:
        raise ValueError(f"vonage: inbound message part {part} of {parts}")
    return part, parts


def _receipt_time(value, pattern):
    """A receipt's time (UTC), e.g. scts '2611270900' (YYMMDDhhmm), or None."""
    try:
        return datetime.strptime(value or "", pattern)
    except ValueError:
        return None
