"""Vonage SMS API adapter, on the ``vonage`` SDK 4.x (``vonage_http_client`` + ``vonage_sms``).

Every message goes out at most once, so one :meth:`VonageGateway.send` makes exactly one HTTP
request: the SDK's own retries are switched off (see :meth:`VonageGateway._options`) and every
failure is mapped to the taxonomy of :mod:`..errors`, with ``sent=None`` whenever the request may
have reached Vonage.

The SDK logs a WARNING on the ``vonage`` logger for every HTTP error status; callers that expect
one mute that logger themselves.
"""

import email.utils
import os
import re
import ssl
import time
from datetime import datetime

import requests
from pydantic import ValidationError
from requests.utils import get_environ_proxies
from urllib3.exceptions import NewConnectionError
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
from .base import DELIVERY_STATES, DeliveryReceipt, SmsGateway, SmsResult

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

SIGNATURE_METHODS = ("md5", "sha1", "sha256", "sha512")
HOST_PATTERN = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?")


class _UnsignedNoneSmsMessage(SmsMessage):
    """An ``SmsMessage`` that leaves its unset fields out of the request.

    ``vonage_sms`` 1.2.0 signs ``model_dump(by_alias=True)``, unset fields included
    (``&ttl=None``), while ``requests`` drops ``None`` values from the form: Vonage then checks the
    signature over fewer fields than were signed and answers status 14.
    """

    def model_dump(self, **kwargs):
        return super().model_dump(exclude_none=True, **kwargs)


class VonageGateway(SmsGateway):
    """Send SMS through Vonage's SMS API (``POST https://<rest_host>/sms/json``).

    :param signature_secret: sign requests instead of sending the API secret (the SDK uses HMAC
        with ``signature_method``: choose the matching "HMAC" method in the Vonage dashboard)
    :param rest_host: host name with an optional port (``127.0.0.1:8443`` for a local fake)
    :param timeout: seconds to wait for the connection and then for the answer
    :param ca_bundle: PEM file of the authorities to trust instead of the system ones
    """

    provider = "vonage"

    def __init__(
        self,
        api_key=None,
        api_secret=None,
        signature_secret=None,
        signature_method="md5",
        rest_host="rest.nexmo.com",
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
        auth = Auth(
            api_key=api_key,
            api_secret=api_secret or None,
            signature_secret=signature_secret or None,
            signature_method=signature_method,
        )
        self._client = HttpClient(auth, self._options(rest_host, timeout))
        if ca_bundle:
            self._trust_only(ca_bundle)
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
                config.get("signature_method", "md5") in SIGNATURE_METHODS,
                f"the signature method must be one of {', '.join(SIGNATURE_METHODS)}",
            ),
            (_is_positive_int(config.get("timeout", 10)), "the timeout must be whole seconds >= 1"),
            (
                HOST_PATTERN.fullmatch(config.get("rest_host") or ""),
                "the REST host must be a host name with an optional port, e.g. rest.nexmo.com",
            ),
        ]
        problems = [problem for ok, problem in checks if not ok]
        ca_bundle = config.get("ca_bundle")
        if ca_bundle and not os.path.isfile(ca_bundle):
            problems.append(f"the CA bundle {ca_bundle} does not exist")
        return problems

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

    def _trust_only(self, ca_bundle):
        # The SDK has no TLS option; its requests Session (HttpClient._session) is used for every
        # request. requests lets REQUESTS_CA_BUNDLE override Session.verify (psf/requests#3829),
        # so the environment is switched off and its proxy settings read here instead.
        session = self._client._session
        session.trust_env = False
        session.proxies = get_environ_proxies(f"https://{self.rest_host}")
        session.verify = ca_bundle

    def close(self):
        # HttpClient has no close(); its Session holds the kept-alive connection.
        self._client._session.close()

    # ---- SENDING

    def send(self, request):
        message = self._message(request)
        try:
            self._sms.send(message)
        except SmsError as exc:
            raise self._status_error(self._client.last_response.json()) from exc
        except HttpRequestError as exc:
            raise self._http_error(exc.response) from exc
        except requests.RequestException as exc:
            raise self._transport_error(exc, request) from exc
        except (TypeError, KeyError, ValueError) as exc:
            # The SDK indexes the decoded body without checking it (None when not JSON).
            raise self._unexpected_answer(request) from exc
        return self._result(self._client.last_response.json())

    def _message(self, request):
        try:
            return _UnsignedNoneSmsMessage(
                to=request.to.removeprefix("+"),
                from_=request.sender.removeprefix("+"),
                text=request.text,
                client_ref=request.client_ref,
                type="unicode" if request.unicode else "text",
            )
        except ValidationError as exc:
            raise MessageRejectedError(f"vonage: invalid message: {exc}") from exc

    @staticmethod
    def _result(body):
        parts = body["messages"]
        prices = [_float(part.get("message-price")) for part in parts]
        return SmsResult(
            provider_id=",".join(part.get("message-id", "") for part in parts),
            parts=len(parts),
            price=None if None in prices else round(sum(prices), 8),
            remaining_balance=_float(parts[-1].get("remaining-balance")),
            network=parts[0].get("network"),
            raw=body,
        )

    # ---- DELIVERY RECEIPTS

    @classmethod
    def parse_receipt(
        cls, params, api_key=None, signature_secret=None, signature_method="md5", **_config
    ):
        """Read a Vonage SMS delivery receipt (the DLR webhook's query or form parameters).

        The receipt must name this gateway's API key; with a signature secret it must also be
        signed with it (Vonage's "signed webhooks"), as Auth.sign_params does for requests.
        """
        if not api_key or params.get("api-key") != api_key:
            raise AccountError("vonage: delivery receipt for another API key")
        if signature_secret and not _valid_signature(
            params, api_key, signature_secret, signature_method
        ):
            raise AccountError("vonage: delivery receipt with a missing or wrong signature")
        status = (params.get("status") or "unknown").lower()
        error_code = params.get("err-code")
        if not params.get("client-ref") or not params.get("messageId"):
            raise ValueError("vonage: delivery receipt without client-ref or messageId")
        return DeliveryReceipt(
            client_ref=params["client-ref"],
            provider_id=params["messageId"],
            to=params.get("msisdn") or "",
            status=status if status in DELIVERY_STATES else "unknown",
            error_code=error_code if error_code not in (None, "", "0") else None,
            delivered_at=_receipt_time(params.get("message-timestamp") or params.get("scts")),
        )

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
            retry_after = _retry_after(response.headers.get("Retry-After"))
            return ThrottledError(text, code=status, sent=False, retry_after=retry_after)
        if status >= 500:
            # The request reached Vonage: it may have been queued before the failure.
            return ProviderUnavailableError(text, code=status, sent=None)
        if 400 <= status < 500:
            return AccountError(text, code=status, sent=False)
        return OutcomeUnknownError(text, code=status)

    def _transport_error(self, exc, request):
        host = self.rest_host
        if isinstance(exc, requests.ConnectTimeout):
            return ProviderUnavailableError(
                f"vonage: cannot connect to {host}: no answer within {self.timeout} s", sent=False
            )
        if isinstance(exc, requests.exceptions.SSLError):
            return self._tls_error(exc, request)
        not_connected = _find(exc, NewConnectionError)
        if not_connected:
            socket_error = _find(exc, OSError, lambda err: err.strerror)
            reason = socket_error.strerror if socket_error else not_connected
            return ProviderUnavailableError(
                f"vonage: cannot connect to {host}: {reason}", sent=False
            )
        if isinstance(exc, requests.ReadTimeout):
            reason = f"no answer within {self.timeout} s"
        else:
            reason = f"connection lost after the request was sent ({_reason(exc)})"
        return OutcomeUnknownError(
            f"vonage: {reason} from {host}; the outcome of message {request.client_ref} is unknown"
        )

    def _tls_error(self, exc, request):
        untrusted = _find(exc, ssl.SSLCertVerificationError)
        if untrusted:
            # Certificates are checked in the handshake, before any byte of the request.
            return ProviderUnavailableError(
                f"vonage: TLS certificate of {self.rest_host} not trusted: "
                f"{untrusted.verify_message}",
                sent=False,
            )
        # urllib3 raises other TLS failures the same way in the handshake and after the
        # request was written: the second case cannot be excluded.
        return OutcomeUnknownError(
            f"vonage: TLS error with {self.rest_host} ({_reason(exc)}); the outcome of "
            f"message {request.client_ref} is unknown"
        )


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _retry_after(value):
    """Seconds to wait from a Retry-After header (delay in seconds or HTTP date), or None."""
    if not value:
        return None
    if value.strip().isdigit():
        return int(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, round(moment.timestamp() - time.time()))


def _causes(exc):
    """``exc`` and what it wraps: requests and urllib3 keep the cause in ``args`` or ``reason``."""
    seen = []
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or current in seen:
            continue
        seen.append(current)
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(current.args)
    return seen


def _find(exc, error_class, condition=None):
    return next(
        (
            err
            for err in _causes(exc)
            if isinstance(err, error_class) and (condition is None or condition(err))
        ),
        None,
    )


def _reason(exc):
    """The socket-level cause of a requests failure, as ``Class: text``."""
    root = _find(exc, OSError, lambda err: not isinstance(err, requests.RequestException)) or exc
    return f"{type(root).__name__}: {root}" if str(root) else type(root).__name__


def _valid_signature(params, api_key, secret, method):
    """Check ``sig`` with the SDK's own Auth.check_signature (it signs as Vonage does)."""
    if method not in SIGNATURE_METHODS or not params.get("sig") or not params.get("timestamp"):
        return False  # without a timestamp the SDK would sign with the current time
    auth = Auth(api_key=api_key, signature_secret=secret, signature_method=method)
    return auth.check_signature(dict(params))


def _receipt_time(value):
    """'2026-11-27 09:00:05' (message-timestamp) or '2611270900' (scts, YYMMDDhhmm), in UTC."""
    for pattern in ("%Y-%m-%d %H:%M:%S", "%y%m%d%H%M"):
        try:
            return datetime.strptime(value or "", pattern)
        except ValueError:
            continue
    return None
