"""A fake Twilio Messages API over HTTPS on 127.0.0.1, and signed status callbacks for tests.

Only the standard library and trustme (the twilio SDK only inside :func:`status_callback`):
pytest, the Odoo tests and the bench scripts import this file, and it runs on its own as a process
(until SIGTERM) for crash tests::

    python outbound_bulk_messaging/tests/fake_twilio.py --port 0 --cert cert.pem --key key.pem \
        --jsonl sms.jsonl [--mode ok] [--account-sid AC... --auth-token T] [--delay 3]

(or ``fakes.py twilio`` with the same arguments).

It prints ``listening on 127.0.0.1:PORT`` once ready (``--port 0`` picks a free port) and appends
one JSON line per received request to the ``--jsonl`` file.
"""

import argparse
import base64
import hmac
import json
import math
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode

if __package__:
    from .fake_common import (
        HttpsFake,
        _jsonl_writer,
        _run_until_terminated,
        _utc_now,
    )
else:  # run as a script, or imported from this folder by fakes.py run as a script
    from fake_common import (
        HttpsFake,
        _jsonl_writer,
        _run_until_terminated,
        _utc_now,
    )

__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "MODES", "FakeTwilio", "sms_segments", "status_callback"]

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token"
API_PREFIX = "/2010-04-01/Accounts/"

# mode -> (HTTP status, Twilio code, message), as the real API answers them
ERRORS = {
    "invalid": (400, 21211, "The 'To' number {to} is not a valid phone number."),
    "opted_out": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "not_mobile": (400, 21614, "'To' number is not a valid mobile number"),
    "region": (
        400,
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' "
        "number: {to}",
    ),
    "bad_from": (
        400,
        21606,
        "The 'From' phone number provided ({from_}) is not a valid message-capable Twilio phone "
        "number for this destination.",
    ),
    "bad_credentials": (401, 20003, "Authenticate"),
    "throttled": (429, 20429, "Too Many Requests"),
    "http500": (500, 20500, "Internal Server Error"),
}
MODES = {"ok", "timeout", "drop", "invalid_json", *ERRORS}
RETRY_AFTER = "2"

# GSM 03.38: the basic set, and the extension characters that cost two septets.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\x0c^{}\\[~]|€"


def sms_segments(text):
    """Segments Twilio bills for ``text``: GSM-7 160/153 septets, else UCS-2 70/67 units."""
    if all(char in GSM_BASIC or char in GSM_EXTENSION for char in text):
        length = len(text) + sum(char in GSM_EXTENSION for char in text)
        single, multi = 160, 153
    else:
        length, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else math.ceil(length / multi)


def status_callback(
    url,
    *,
    message_sid,
    status,
    to="+447700900000",
    sender="+447700900999",
    error_code=None,
    account_sid=ACCOUNT_SID,
    auth_token=AUTH_TOKEN,
):
    """A status callback as Twilio posts it to ``url``, signed with ``auth_token``.

    :return: the keyword arguments of ``WebhookRequest``: method, url, headers (lower-case),
        params (query and form merged), body (the form) and content_type
    """
    from twilio.request_validator import RequestValidator

    form = {
        "AccountSid": account_sid,
        "ApiVersion": "2010-04-01",
        "From": sender,
        "MessageSid": message_sid,
        "MessageStatus": status,
        "SmsSid": message_sid,
        "SmsStatus": status,
        "To": to,
    }
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    query = {key: values[-1] for key, values in parse_qs(url.partition("?")[2]).items()}
    content_type = "application/x-www-form-urlencoded"
    signature = RequestValidator(auth_token).compute_signature(url, form)
    return {
        "method": "POST",
        "url": url,
        "headers": {"x-twilio-signature": signature, "content-type": content_type},
        "params": {**query, **form},
        "body": urlencode(form).encode(),
        "content_type": content_type,
    }


class FakeTwilio(HttpsFake):
    """Twilio's ``POST /2010-04-01/Accounts/<AccountSid>/Messages.json`` over HTTPS on 127.0.0.1.

    Checks HTTP Basic auth (Account SID and Auth Token, and the SID in the path) and the required
    fields as Twilio does, then answers as ``mode`` says, or as ``numbers[To]`` says for one
    destination: ``ok`` (201, a queued message priced ``price``, null as mostly at creation);
    ``timeout`` (ok after ``delay`` s, longer than the client waits); ``drop`` (read the request,
    close without answering); ``invalid_json`` (201 with an HTML page); the errors of
    :data:`ERRORS` (``invalid`` 21211, ``opted_out`` 21610, ``not_mobile`` 21614, ``region``
    21408, ``bad_from`` 21606, ``bad_credentials`` 401 20003, ``throttled`` 429 20429 with
    ``Retry-After: 2``, ``http500``).

    ``requests`` lists what arrived (path, form fields, auth user, headers, behaviour, time),
    ``connections`` counts TLS connections, ``errors`` collects handler failures (tests assert it
    stays empty).
    """

    tmp_prefix = "fake-twilio-"

    def __init__(
        self,
        *,
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        mode="ok",
        numbers=None,
        delay=3.0,
        price=None,
        port=0,
        tls_files=None,
        on_request=None,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.mode = mode
        self.numbers = dict(numbers or {})
        self.delay = delay
        self.price = price
        self.on_request = on_request
        self._init_server(port, tls_files)

    def count_by_to(self):
        """How many requests arrived per ``To``."""
        with self._lock:
            counts = {}
            for entry in self.requests:
                to = entry["form"].get("To")
                counts[to] = counts.get(to, 0) + 1
            return counts

    # ---- called by the handler threads

    def _record(self, path, form, headers, user):
        entry = {
            "path": path,
            "form": form,
            "auth": user,
            "headers": dict(headers),
            "behaviour": self.numbers.get(form.get("To"), self.mode),
            "received_at": time.time(),
        }
        with self._lock:
            self.requests.append(entry)
        if self.on_request:
            self.on_request(entry)
        return entry

    def _authenticated(self, authorization, path):
        """Basic auth with the Account SID and Auth Token, for the account in the path."""
        if not (authorization or "").startswith("Basic "):
            return None, False
        try:
            decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode()
        except ValueError:
            return None, False
        user = decoded.partition(":")[0]
        expected = f"{self.account_sid}:{self.auth_token}"
        valid = hmac.compare_digest(decoded.encode(), expected.encode())
        return user, valid and path == f"{API_PREFIX}{self.account_sid}/Messages.json"

    def _message(self, form):
        sid = f"SM{next(self._ids):032x}"
        service = form.get("MessagingServiceSid")
        now = formatdate(usegmt=True)
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(sms_segments(form.get("Body", ""))),
            "price": self.price,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service and not form.get("From") else "queued",
            "subresource_uris": {
                "media": f"{API_PREFIX}{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": form.get("To"),
            "uri": f"{API_PREFIX}{self.account_sid}/Messages/{sid}.json",
        }


def _error_body(status, code, message):
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _missing_field(form):
    """The error Twilio gives a request without a required field, or None."""
    if not form.get("To"):
        return 400, 21604, "A 'To' phone number is required."
    if not form.get("From") and not form.get("MessagingServiceSid"):
        return 400, 21603, "A 'From' phone number is required."
    if not form.get("Body"):
        return 400, 21602, "Message body is required."
    return None


class _TwilioHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as api.twilio.com
    timeout = 10
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        """Silent: tests read ``FakeTwilio.requests``, not request lines on stderr."""

    def do_POST(self):
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        query = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        form = {key: values[-1] for key, values in query.items()}
        user, valid = fake._authenticated(self.headers.get("Authorization"), self.path)
        behaviour = fake._record(self.path, form, self.headers, user)["behaviour"]
        if behaviour == "drop":
            self.close_connection = True
            return
        if behaviour == "timeout":
            if fake.stopping.wait(fake.delay):
                self.close_connection = True
                return
            behaviour = "ok"
        self._answer(fake, form, behaviour, valid)

    def _answer(self, fake, form, behaviour, valid):
        if not self.path.startswith(API_PREFIX) or not self.path.endswith("/Messages.json"):
            return self._send(404, _error_body(404, 20404, "The requested resource was not found"))
        if not valid or behaviour == "bad_credentials":
            return self._send(401, _error_body(*ERRORS["bad_credentials"]))
        refusal = ERRORS.get(behaviour) or _missing_field(form)
        if refusal:
            status, code, text = refusal
            text = text.format(to=form.get("To"), from_=form.get("From"))
            return self._send(status, _error_body(status, code, text))
        if behaviour == "invalid_json":
            return self._send(201, b"<html><body>Bad Gateway</body></html>")
        return self._send(201, fake._message(form))

    def _send(self, status, body):
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if status == 429:
            self.send_header("Retry-After", RETRY_AFTER)
        self.end_headers()
        self.wfile.write(payload)


# ---- PROCESS


FakeTwilio.handler = _TwilioHandler


def _twilio_record(entry):
    form = entry["form"]
    return {
        "to": form.get("To"),
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "body": form.get("Body"),
        "status_callback": form.get("StatusCallback"),
        "auth": entry["auth"],
        "behaviour": entry["behaviour"],
        "received_at": _utc_now(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--jsonl", required=True)
    parser.add_argument("--mode", default="ok", choices=sorted(MODES))
    parser.add_argument("--delay", type=float, default=3.0)
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    args = parser.parse_args(argv)
    fake = FakeTwilio(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        mode=args.mode,
        delay=args.delay,
        port=args.port,
        tls_files=(args.cert, args.key, None),
        on_request=_jsonl_writer(args.jsonl, _twilio_record),
    )
    with fake:
        _run_until_terminated(fake.port)


if __name__ == "__main__":
    main()
