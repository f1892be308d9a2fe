"""Twilio Programmable Messaging adapter, on the ``twilio`` SDK 9.x (the 2010-04-01 Messages API).

Every message goes out at most once, so one :meth:`TwilioGateway.send` makes exactly one HTTP
request (see :class:`_RedirectedHttpClient`), and every failure is mapped to the taxonomy of
:mod:`..errors` with ``sent=None`` whenever the request may have reached Twilio.

Twilio chooses GSM-7 or UCS-2 from the text itself, so :attr:`SmsRequest.unicode` is not sent.
Each message names our message id through the ``ref`` query parameter of its status callback URL:
Twilio's status callbacks carry no field of ours, but are posted to the URL given when sending.
"""

import json
import logging
import re
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from urllib3.util.retry import Retry

from ..errors import (
    AccountError,
    MessageRejectedError,
    OptedOutError,
    OutcomeUnknownError,
    ProviderUnavailableError,
    RecipientError,
    ThrottledError,
)
from .base import DeliveryReceipt, InboundSms, SmsGateway, SmsResult, e164_sender, first_word
from .http import (
    connection_problems,
    retry_after,
    to_float,
    transport_error,
    trust_only,
)

# Twilio error codes (https://www.twilio.com/docs/api/errors), as text: the REST API gives them
# as numbers, status callbacks as the ErrorCode parameter.
ERROR_CODES = {
    # REST API, the recipient: fail this message.
    "21211": RecipientError,  # invalid 'To' phone number
    "21265": RecipientError,  # 'To' number cannot be a short code
    "21604": RecipientError,  # 'To' phone number is required
    "21612": RecipientError,  # 'To' not reachable from this sender (To/From combination)
    "21614": RecipientError,  # 'To' number is not a valid mobile number
    "21635": RecipientError,  # 'To' number cannot be a landline
    "21610": OptedOutError,  # the recipient replied STOP to this sender
    # REST API, the message's content.
    "21602": MessageRejectedError,  # message body is required
    "21617": MessageRejectedError,  # body exceeds the 1600 characters limit
    # REST API, the account: pause the job until someone fixes it.
    "20003": AccountError,  # authentication failed (Account SID or Auth Token)
    "20005": AccountError,  # account not active
    "20404": AccountError,  # resource not found: no such account
    "21408": AccountError,  # destination region not enabled in the account's Geo Permissions
    "21606": AccountError,  # 'From' is not a message-capable number of this account
    "21608": AccountError,  # trial account: 'To' not verified
    "21659": AccountError,  # 'From' is not a Twilio phone number
    # REST API, slow down.
    "20429": ThrottledError,  # too many requests
    # Delivery errors, only in status callbacks (the message was sent, then failed).
    "30003": RecipientError,  # unreachable destination handset
    "30004": RecipientError,  # message blocked by the recipient or the carrier
    "30005": RecipientError,  # unknown destination handset
    "30006": RecipientError,  # landline or unreachable carrier
    "30007": MessageRejectedError,  # filtered by the carrier as spam
}

# MessageStatus of a status callback -> base.DELIVERY_STATES
DELIVERY_STATUSES = {
    "queued": "accepted",
    "accepted": "accepted",
    "scheduled": "accepted",
    "sending": "buffered",
    "sent": "buffered",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "undelivered",
    "canceled": "rejected",
}

ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")

_logger = logging.getLogger(__name__)


class _RedirectedHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending every request to ``https://<rest_host>`` exactly once.

    The SDK builds absolute ``https://api.twilio.com/...`` URLs; only their scheme and host are
    replaced. The SDK hands ``max_retries`` to requests' HTTPAdapter, whose default is
    ``Retry(0, read=False)``: pinned here, because a Retry that allows POST sends a request
    dropped after Twilio read it once per retry. requests and http.client resend nothing alone.
    """

    def __init__(self, rest_host, timeout):
        super().__init__(timeout=timeout, logger=_logger, max_retries=Retry(0, read=False))
        self.rest_host = rest_host
        self.last_response = None

    def request(self, method, url, **kwargs):
        url = urlunsplit(urlsplit(url)._replace(scheme="https", netloc=self.rest_host))
        self.last_response = None
        self.last_response = super().request(method, url, **kwargs)
        return self.last_response

    # The SDK logs ten INFO lines per request: only when asked for DEBUG.
    def log_request(self, kwargs):
        if self.logger.isEnabledFor(logging.DEBUG):
            return super().log_request(kwargs)
        return None

    def log_response(self, status_code, response):
        if self.logger.isEnabledFor(logging.DEBUG):
            return super().log_response(status_code, response)
        return None


class TwilioGateway(SmsGateway):
    """Send SMS through Twilio's Messages API (``POST /2010-04-01/Accounts/<sid>/Messages.json``).

    :param api_key: the Account SID (``AC`` + 32 hex digits)
    :param api_secret: the account's Auth Token (also the key of the status callbacks' signature)
    :param messaging_service_sid: send through this Messaging Service (``MG...``) instead of
        from the request's sender
    :param rest_host: host name with an optional port (``127.0.0.1:8443`` for a local fake)
    :param timeout: seconds to wait for the connection and then for the answer
    :param ca_bundle: PEM file of the authorities to trust instead of the system ones
    """

    provider = "twilio"
    label = "Twilio"
    settings = (
        "api_key",
        "api_secret",
        "messaging_service_sid",
        "rest_host",
        "timeout",
        "ca_bundle",
    )
    default_rest_host = "api.twilio.com"
    status_errors = ERROR_CODES

    def __init__(
        self,
        api_key=None,
        api_secret=None,
        messaging_service_sid=None,
        rest_host=None,
        timeout=10,
        ca_bundle=None,
    ):
        super().__init__(
            api_key=api_key,
            api_secret=api_secret,
            messaging_service_sid=messaging_service_sid,
            rest_host=rest_host,
            timeout=timeout,
            ca_bundle=ca_bundle,
        )
        self.rest_host = rest_host or self.default_rest_host
        self.timeout = timeout
        # "or None": Odoo gives False for an empty field.
        self.messaging_service_sid = messaging_service_sid or None
        self._http = _RedirectedHttpClient(self.rest_host, timeout)
        if ca_bundle:
            trust_only(self._http.session, self.rest_host, ca_bundle)
        self._client = Client(api_key, api_secret, http_client=self._http)

    @classmethod
    def describe_config_errors(cls, config):
        service_sid = config.get("messaging_service_sid")
        checks = [
            (
                ACCOUNT_SID.fullmatch(config.get("api_key") or ""),
                "the Account SID must be AC followed by 32 hexadecimal digits",
            ),
            (config.get("api_secret"), "the Auth Token is missing"),
            (
                not service_sid or SERVICE_SID.fullmatch(service_sid),
                "the Messaging Service SID must be MG followed by 32 hexadecimal digits",
            ),
        ]
        problems = [problem for ok, problem in checks if not ok]
        return problems + connection_problems(
            config, cls.default_rest_host, default_host=cls.default_rest_host
        )

    def close(self):
        self._http.session.close()

    # ---- SENDING

    def send(self, request):
        try:
            message = self._client.messages.create(**self._create_params(request))
        except requests.RequestException as exc:
            raise self._transport_error(exc, request) from exc
        except TwilioException as exc:
            raise self._api_error(exc, request) from exc
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            # The SDK decodes a 2xx body without checking it (ValueError, AttributeError).
            raise self._unexpected_answer(request) from exc
        return self._result(message, request)

    def _create_params(self, request):
        params = {"to": request.to, "body": request.text}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            # A number without its "+" would be taken for an alphanumeric sender id.
            sender = request.sender
            params["from_"] = f"+{sender}" if sender.isdigit() else sender
        if request.status_callback:
            params["status_callback"] = _with_ref(request.status_callback, request.client_ref)
        return params

    def _result(self, message, request):
        sid, segments = message.sid, _int(message.num_segments)
        if not (isinstance(sid, str) and MESSAGE_SID.fullmatch(sid)) or segments is None:
            raise self._unexpected_answer(request)
        # Twilio gives prices as negative amounts ("-0.00750"), mostly null when just created.
        price = to_float(message.price)
        return SmsResult(
            provider_id=sid,
            parts=segments,
            price=None if price is None else abs(price),
            currency=message.price_unit or None,
            raw=_json_object(self._http.last_response.text),
        )

    # ---- DELIVERY RECEIPTS

    @classmethod
    def parse_receipt(cls, webhook, api_key=None, api_secret=None, **_config):
        """Read a Twilio status callback (a :class:`~.base.WebhookRequest`).

        It must carry a valid ``X-Twilio-Signature`` (made with the Auth Token over the URL and
        the POST parameters) and name this gateway's account. Twilio sends no time of delivery:
        ``delivered_at`` is always ``None`` (the time the callback arrives is the best there is).
        """
        _check_signature(webhook, api_secret)
        params = webhook.params
        if not api_key or params.get("AccountSid") != api_key:
            raise AccountError("twilio: status callback for another account")
        sid, status = params.get("MessageSid"), params.get("MessageStatus")
        if not sid or not status:
            raise ValueError("twilio: status callback without MessageSid or MessageStatus")
        return DeliveryReceipt(
            client_ref=_ref_of(webhook.url),
            provider_id=sid,
            to=params.get("To") or "",
            status=DELIVERY_STATUSES.get(status.lower(), "unknown"),
            error_code=params.get("ErrorCode") or None,
            delivered_at=None,
        )

    # ---- INBOUND MESSAGES

    @classmethod
    def parse_inbound(cls, webhook, api_key=None, api_secret=None, **_config):
        """Read an SMS sent to one of the account's numbers (the number's "A message comes in"
        webhook: a POST form with ``From``, ``To``, ``Body``, ``MessageSid``, ``AccountSid``).

        It must carry a valid ``X-Twilio-Signature`` and name this gateway's account. Twilio
        sends no time: ``received_at`` is ``None``.
        """
        _check_signature(webhook, api_secret, "inbound message")
        params = webhook.params
        if not api_key or params.get("AccountSid") != api_key:
            raise AccountError("twilio: inbound message for another account")
        missing = [key for key in ("From", "To", "MessageSid") if not params.get(key)]
        if missing or "Body" not in params:
            raise ValueError(f"twilio: inbound message without {', '.join(missing or ['Body'])}")
        if not MESSAGE_SID.fullmatch(params["MessageSid"]):
            raise ValueError(f"twilio: inbound message with MessageSid {params['MessageSid']!r}")
        return InboundSms(
            provider_id=params["MessageSid"],
            sender=e164_sender(params["From"], "twilio"),
            to=params["To"],
            text=params["Body"],
            received_at=None,
            keyword=first_word(params["Body"]),
        )

    @classmethod
    def inbound_answer(cls):
        # Twilio texts a text/plain answer back to the sender: an empty TwiML answer sends nothing.
        return '<?xml version="1.0" encoding="UTF-8"?><Response></Response>', "text/xml"

    # ---- ERROR MAPPING

    def _api_error(self, exc, request):
        response = self._http.last_response
        if response is None:
            return OutcomeUnknownError(
                f"twilio: {exc}; the outcome of message {request.client_ref} is unknown"
            )
        body = _json_object(response.text)
        if not isinstance(body.get("code"), int):
            return _http_error(response, self.rest_host)
        return _coded_error(response, body)

    def _unexpected_answer(self, request):
        response = self._http.last_response
        answer = (
            "nothing"
            if response is None
            else f"HTTP {response.status_code}: {response.text[:200]!r}"
        )
        return OutcomeUnknownError(
            f"twilio: unexpected answer from {self.rest_host}: {answer}; the outcome of message "
            f"{request.client_ref} is unknown"
        )

    def _transport_error(self, exc, request):
        return transport_error(self.provider, self.rest_host, self.timeout, exc, request.client_ref)


def _coded_error(response, body):
    """The GatewayError of a Twilio error body: ``{code, message, more_info, status}``."""
    status, code = response.status_code, body["code"]
    text = body.get("message") or body.get("detail") or body.get("title") or ""
    more_info = body.get("more_info") or body.get("type")
    where = f"HTTP {status}, {more_info}" if more_info else f"HTTP {status}"
    message = f"twilio: error {code}: {text} ({where})"
    if status >= 500:
        # The request reached Twilio: it may have queued the message before failing.
        return ProviderUnavailableError(message, code=code, sent=None)
    error_class = ERROR_CODES.get(str(code)) or _class_of_status(status)
    return _refusal(error_class, message, code, response)


def _http_error(response, host):
    """The GatewayError of an answer without a Twilio error code (a proxy's page, say)."""
    status = response.status_code
    message = f"twilio: HTTP {status} from {host}: {response.text.strip()[:500]}"
    if status >= 500:
        return ProviderUnavailableError(message, code=status, sent=None)
    if status < 400:
        return OutcomeUnknownError(message, code=status)  # a redirect, never followed
    return _refusal(_class_of_status(status), message, status, response)


def _refusal(error_class, message, code, response):
    """A 4xx answer: Twilio refused the request, nothing was sent."""
    wait = None
    if error_class is ThrottledError:
        wait = retry_after((response.headers or {}).get("Retry-After"))
    return error_class(message, code=code, sent=False, retry_after=wait)


def _class_of_status(status):
    """For codes missing from ERROR_CODES: what the HTTP status of a 4xx answer says."""
    if status == 429:
        return ThrottledError
    if status in (401, 403, 404):
        return AccountError
    return MessageRejectedError


def _with_ref(url, client_ref):
    """``url`` with ``ref=<client_ref>`` appended to its query (the rest of it left as it was)."""
    parts = urlsplit(url)
    ref = urlencode({"ref": client_ref})
    return urlunsplit(parts._replace(query=f"{parts.query}&{ref}" if parts.query else ref))


def _ref_of(url):
    refs = parse_qs(urlsplit(url).query).get("ref")
    if not refs or not refs[-1]:
        raise ValueError("twilio: status callback URL without its ref parameter")
    return refs[-1]


def _check_signature(webhook, auth_token, what="status callback"):
    signature = webhook.header("X-Twilio-Signature")
    if not auth_token:
        raise AccountError(f"twilio: no Auth Token to check the {what}'s signature")
    if not signature:
        raise AccountError(f"twilio: {what} without a signature")
    if not RequestValidator(auth_token).validate(webhook.url, _signed_params(webhook), signature):
        raise AccountError(f"twilio: {what} with a wrong signature")


def _signed_params(webhook):
    """The POST parameters Twilio signed: the form body, not the URL's query (signed in the URL).

    Without the raw body, the merged ``params`` less the query's pairs.
    """
    form_type = (webhook.content_type or "application/x-www-form-urlencoded").split(";")[0]
    if webhook.body and form_type.strip() == "application/x-www-form-urlencoded":
        return dict(parse_qsl(webhook.body.decode("utf-8", "replace"), keep_blank_values=True))
    query = set(parse_qsl(urlsplit(webhook.url).query, keep_blank_values=True))
    return {key: value for key, value in webhook.params.items() if (key, value) not in query}


def _json_object(text):
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _int(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None
