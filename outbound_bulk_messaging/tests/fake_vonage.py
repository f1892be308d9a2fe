"""A fake Vonage SMS API (``POST /sms/json``) over HTTPS on 127.0.0.1, for the tests.

Only the standard library (and trustme, through :func:`fake_common.make_tls_files`).
:class:`FakeVonage` answers as its ``mode`` says and keeps what it received; ``_vonage_record`` is
the JSON line ``fakes.py vonage`` writes per request.
"""

import base64
import collections
import hashlib
import hmac
import json
import math
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

if __package__:
    from .fake_common import HttpsFake, _utc_now
else:  # imported from this folder: fakes.py run as a script
    from fake_common import HttpsFake, _utc_now

STATUS_TEXTS = {
    "throttled": ("1", "Throughput Rate Exceeded - please wait [ 30 ] and retry"),
    "invalid": ("3", "Invalid to number"),
    "bad_credentials": ("4", "Bad Credentials"),
    "barred": ("7", "Number barred."),
    "quota": ("9", "Quota Exceeded - rejected"),
    "bad_signature": ("14", "Invalid Signature"),
}
HTTP_ERRORS = {
    "http401": (
        401,
        {"title": "Unauthorized", "detail": "You did not provide correct credentials."},
    ),
    "http429": (429, {"title": "Too Many Requests", "detail": "Rate limit exceeded."}),
    "http500": (500, {"title": "Internal Server Error", "detail": "Something went wrong."}),
    "http503": (503, {"title": "Service Unavailable", "detail": "Please try again later."}),
}
MODES = {"ok", "slow", "timeout", "drop", "partial", "invalid_json", *STATUS_TEXTS, *HTTP_ERRORS}
PRICE = "0.03330000"
NETWORK = "23410"
# Outbound SMS price per segment by country, as the Account API's pricing answers give them.
COUNTRY_PRICES = {"GB": "0.03330000", "FR": "0.07450000", "US": "0.00810000"}
PRICING_CURRENCY = "EUR"


class FakeVonage(HttpsFake):
    """Vonage's SMS API (``POST /sms/json``) over HTTPS on 127.0.0.1.

    Answers as ``mode`` says, or as ``numbers[to]`` says for a destination (``+447700900001``):
    ``ok``; ``slow`` (ok after ``slow_delay`` s); ``timeout`` (ok after ``delay`` s, longer than
    the client waits); ``drop`` (read the request, close without answering); ``partial`` (a
    multi-part text with only its first part accepted); ``invalid_json``; the statuses
    ``throttled`` (1), ``invalid`` (3), ``bad_credentials`` (4), ``barred`` (7), ``quota`` (9);
    ``http401``, ``http429``, ``http500``, ``http503``; ``raw`` (in-process only: HTTP 200 with
    ``raw_answer``, any JSON value, as the body). ``mode`` may change between requests.

    Credentials are checked like Vonage: basic auth, ``api_key``/``api_secret`` in the body, or
    ``sig`` made with ``signature_secret`` over the sorted parameters: their HMAC with
    ``signature_method`` (as the SDK signs), or for ``"md5hash"`` the MD5 of them followed by the
    secret. Wrong ones get status 4 (14 for a bad signature), or HTTP 401 with ``reject_with_401``.

    The Account API's pricing (``GET /account/get-pricing/outbound/sms?country=GB`` and
    ``GET /account/get-full-pricing/outbound/sms``, basic auth only) answers from ``prices``
    (ISO code -> price per segment, in ``currency``); an unknown country gets Vonage's empty
    answer (no price).

    ``requests`` lists what was received, ``connections`` counts TLS connections, ``errors``
    keeps failures of the fake itself (a client hanging up is not one).
    """

    tmp_prefix = "fake-vonage-"

    def __init__(
        self,
        *,
        api_key="test-key",
        api_secret="test-secret",
        signature_secret=None,
        signature_method="md5",
        mode="ok",
        numbers=None,
        delay=3.0,
        slow_delay=0.2,
        reject_with_401=False,
        port=0,
        tls_files=None,
        on_request=None,
    ):
        self.api_key = api_key
        self.api_secret = api_secret
        self.signature_secret = signature_secret
        self.signature_method = signature_method
        self.mode = mode
        self.numbers = {number.removeprefix("+"): how for number, how in (numbers or {}).items()}
        self.delay = delay
        self.slow_delay = slow_delay
        self.reject_with_401 = reject_with_401
        self.on_request = on_request
        self.raw_answer = None
        self.balance = 10.0
        self.prices = dict(COUNTRY_PRICES)
        self.currency = PRICING_CURRENCY
        self._init_server(port, tls_files)

    def count_by_client_ref(self):
        """How many requests arrived per ``client-ref``."""
        with self._lock:
            return collections.Counter(r["form"].get("client-ref") for r in self.requests)

    # ---- called by the handler threads

    def _record(self, path, form, headers, auth):
        to = form.get("to", "")
        entry = {
            "path": path,
            "form": form,
            "auth": auth,
            "headers": dict(headers),
            "behaviour": self.numbers.get(to, self.mode),
            "received_at": time.time(),
        }
        with self._lock:
            self.requests.append(entry)
        if self.on_request:
            self.on_request(entry)
        return entry

    def _authenticate(self, authorization, form):
        """Return ``(kind, valid)``; kind is basic, body, signature or None."""
        if "sig" in form:
            return "signature", form.get("api_key") == self.api_key and self._valid_sig(form)
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization.removeprefix("Basic ")).decode()
            return "basic", decoded == f"{self.api_key}:{self.api_secret}"
        if "api_key" in form:
            pair = (form.get("api_key"), form.get("api_secret"))
            return "body", pair == (self.api_key, self.api_secret)
        return None, False

    def _valid_sig(self, form):
        if not self.signature_secret:
            return False
        signed = "".join(
            f"&{key}={form[key].replace('&', '_').replace('=', '_')}"
            for key in sorted(set(form) - {"sig"})
        ).encode()
        secret = self.signature_secret.encode()
        if self.signature_method == "md5hash":
            digest = hashlib.md5(signed + secret)
        else:
            digest = hmac.new(secret, signed, digestmod=self.signature_method)
        return hmac.compare_digest(digest.hexdigest(), form["sig"].lower())

    def _accepted(self, form, accepted_parts=None):
        parts = _sms_parts(form.get("text", ""), form.get("type", "text"))
        accepted_parts = parts if accepted_parts is None else accepted_parts
        messages = [
            self._part(form) if index < accepted_parts else _status_part(*STATUS_TEXTS["throttled"])
            for index in range(parts)
        ]
        return {"message-count": str(parts), "messages": messages}

    def _part(self, form):
        with self._lock:
            self.balance -= float(PRICE)
            part = {
                "to": form.get("to", ""),
                "message-id": f"FAKE{next(self._ids):012d}",
                "status": "0",
                "remaining-balance": f"{self.balance:.8f}",
                "message-price": PRICE,
                "network": NETWORK,
            }
        if "client-ref" in form:
            part["client-ref"] = form["client-ref"]
        return part

    def _country_pricing(self, code):
        price = self.prices.get(code)
        if price is None:
            return {"countryCode": code}
        return {
            "countryCode": code,
            "countryName": code,
            "currency": self.currency,
            "defaultPrice": price,
            "dialingPrefix": "",
            "networks": [{"networkCode": NETWORK, "price": price, "currency": self.currency}],
        }


def _status_part(status, text):
    return {"status": status, "error-text": text}


def _sms_parts(text, kind):
    """Segments of a text: 160/153 characters for type=text, 70/67 UTF-16 units for unicode."""
    if kind == "unicode":
        length, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    else:
        length, single, multi = len(text), 160, 153
    return 1 if length <= single else math.ceil(length / multi)


class _VonageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a batch reuses one connection as with Vonage
    timeout = 10
    # Headers and body leave in two writes: with Nagle, each answer would wait for a delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        """Silent: tests read ``FakeVonage.requests``, not request lines on stderr."""

    def do_POST(self):
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        query = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        form = {key: values[-1] for key, values in query.items()}
        kind, valid = fake._authenticate(self.headers.get("Authorization"), form)
        entry = fake._record(self.path, form, self.headers, kind)
        behaviour = entry["behaviour"]
        if behaviour == "drop":
            self.close_connection = True
            return
        if behaviour in ("slow", "timeout"):
            fake.stopping.wait(fake.slow_delay if behaviour == "slow" else fake.delay)
            if fake.stopping.is_set():
                self.close_connection = True
                return
        self._answer(fake, form, behaviour, kind, valid)

    def do_GET(self):
        fake = self.server.fake
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        kind, valid = fake._authenticate(self.headers.get("Authorization"), {})
        fake._record(url.path, query, self.headers, kind)
        if not valid or kind != "basic":
            return self._send(401, HTTP_ERRORS["http401"][1])
        if url.path == "/account/get-pricing/outbound/sms":
            return self._send(200, fake._country_pricing(query.get("country", "")))
        if url.path == "/account/get-full-pricing/outbound/sms":
            countries = [fake._country_pricing(code) for code in sorted(fake.prices)]
            return self._send(200, {"count": len(countries), "countries": countries})
        return self._send(404, {"title": "Not Found", "detail": url.path})

    def _answer(self, fake, form, behaviour, kind, valid):
        if self.path.split("?")[0] != "/sms/json":
            return self._send(404, {"title": "Not Found", "detail": self.path})
        if not valid and fake.reject_with_401:
            behaviour = "http401"
        elif not valid:
            behaviour = "bad_signature" if kind == "signature" else "bad_credentials"
        if behaviour in HTTP_ERRORS:
            return self._send(*HTTP_ERRORS[behaviour])
        if behaviour in STATUS_TEXTS:
            return self._send(
                200, {"message-count": "1", "messages": [_status_part(*STATUS_TEXTS[behaviour])]}
            )
        if behaviour == "invalid_json":
            return self._send(200, b"<html><body>Bad Gateway</body></html>")
        if behaviour == "raw":
            return self._send(200, json.dumps(fake.raw_answer).encode())
        return self._send(200, fake._accepted(form, 1 if behaviour == "partial" else None))

    def _send(self, status, body):
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if status == 429:
            self.send_header("Retry-After", "2")
        self.end_headers()
        self.wfile.write(payload)


FakeVonage.handler = _VonageHandler


def _vonage_record(entry):
    form = entry["form"]
    return {
        "client_ref": form.get("client-ref"),
        "to": form.get("to"),
        "from": form.get("from"),
        "text": form.get("text"),
        "type": form.get("type"),
        "callback": form.get("callback"),
        "status_report_req": form.get("status-report-req"),
        "auth": entry["auth"],
        "behaviour": entry["behaviour"],
        "received_at": _utc_now(),
    }
