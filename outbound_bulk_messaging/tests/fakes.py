"""Real local servers for the tests and bench scripts: an SMTP sink and a fake Vonage SMS API.

Only the standard library, aiosmtpd and trustme: pytest, the Odoo tests and the bench scripts all
import this file, and it runs on its own as a process (until SIGTERM) for crash tests::

    python outbound_bulk_messaging/tests/fakes.py smtp --port 2525 --jsonl smtp.jsonl
    python outbound_bulk_messaging/tests/fakes.py tls DIRECTORY
    python outbound_bulk_messaging/tests/fakes.py vonage --port 8443 --cert DIRECTORY/cert.pem \
        --key DIRECTORY/key.pem --jsonl sms.jsonl [--mode ok] [--api-key K --api-secret S]

Each process prints ``listening on 127.0.0.1:PORT`` once ready (``--port 0`` picks a free port)
and appends one JSON line per accepted message or received request to the ``--jsonl`` file.
"""

import argparse
import asyncio
import base64
import collections
import contextlib
import email
import email.policy
import hmac
import itertools
import json
import logging
import math
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago (also a closed port to connect to)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def make_tls_files(directory):
    """Write a throw-away CA and a certificate for 127.0.0.1 and localhost into ``directory``.

    :return: ``(cert_path, key_path, ca_path)`` as strings
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    issued = authority.issue_cert(HOST, "localhost")
    cert_path, key_path, ca_path = (directory / name for name in ("cert.pem", "key.pem", "ca.pem"))
    for index, blob in enumerate(issued.cert_chain_pems):
        blob.write_to_path(str(cert_path), append=bool(index))
    issued.private_key_pem.write_to_path(str(key_path))
    authority.cert_pem.write_to_path(str(ca_path))
    return str(cert_path), str(key_path), str(ca_path)


def _utc_now():
    return datetime.now(timezone.utc).isoformat()


# ---- SMTP


class ReceivedMessage(EmailMessage):
    """A message the sink accepted, with its SMTP envelope (``mail_from``, ``rcpt_tos``)."""

    mail_from = None
    rcpt_tos = ()


RECEIVED_POLICY = email.policy.default.clone(message_factory=ReceivedMessage)


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps what it accepts in ``messages``.

    :param auth: ``(user, password)`` to require AUTH (offered without TLS)
    :param refuse: addresses to refuse at RCPT, or ``callable(address) -> reply or None``
    :param data_reply: a reply to give every DATA instead of 250, or
        ``callable(count) -> reply or None`` where ``count`` numbers the DATA commands from 1
    :param stall: seconds to wait before answering the end of DATA
    :param drop_after: close the connection, without answering, at the end of this DATA (from 1)
    :param on_message: ``callable(message)`` called for each accepted :class:`ReceivedMessage`
    """

    def __init__(
        self,
        *,
        port=None,
        auth=None,
        refuse=(),
        data_reply=None,
        stall=0,
        drop_after=None,
        on_message=None,
    ):
        self.host = HOST
        self.port = port or free_port()
        self.auth = auth
        self.refuse = refuse
        self.data_reply = data_reply
        self.stall = stall
        self.drop_after = drop_after
        self.on_message = on_message
        self.messages = []
        self.data_count = 0
        self._received = threading.Condition()
        self._log = logging.getLogger("mail.log")
        self._log_level = None
        self._controller = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        # AUTH stays optional for aiosmtpd (auth_required with auth_require_tls off makes it warn
        # about plain-text passwords); handle_MAIL enforces it instead.
        self._controller = Controller(
            self,
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",  # spares a reverse DNS lookup of the host name
            auth_require_tls=False,
            authenticator=self._authenticate,
        )
        self._controller.start()
        # aiosmtpd logs client mistakes as warnings, and an Odoo test log must have none.
        self._log_level = self._log.level
        self._log.setLevel(logging.ERROR)
        return self

    def stop(self):
        self._controller.stop()
        self._log.setLevel(self._log_level)

    def wait_for(self, count, timeout=5.0):
        """Wait until ``count`` messages were accepted and return them."""
        with self._received:
            if not self._received.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"{len(self.messages)} of {count} messages within {timeout} s")
            return self.messages[:count]

    # ---- aiosmtpd handler hooks

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        valid = isinstance(auth_data, LoginPassword) and self.auth == (
            auth_data.login.decode(),
            auth_data.password.decode(),
        )
        return AuthResult(success=valid, handled=False)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if callable(self.refuse):
            refusal = self.refuse(address)
        elif address in self.refuse:
            refusal = f"550 5.1.1 <{address}>: Recipient address rejected"
        else:
            refusal = None
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._received:
            self.data_count += 1
            count = self.data_count
        if count == self.drop_after:
            server.transport.abort()
            # connection_lost() cancels this coroutine: nothing is answered.
            await asyncio.Event().wait()
        if self.stall:
            await asyncio.sleep(self.stall)
        reply = self.data_reply(count) if callable(self.data_reply) else self.data_reply
        if reply:
            return reply
        self._accept(envelope)
        return "250 2.0.0 OK queued"

    def _accept(self, envelope):
        # SMTP carries CRLF lines: back to "\n" so get_content() equals the text that was sent.
        content = envelope.original_content.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(content, policy=RECEIVED_POLICY)
        message.mail_from = envelope.mail_from
        message.rcpt_tos = list(envelope.rcpt_tos)
        with self._received:
            self.messages.append(message)
            self._received.notify_all()
        if self.on_message:
            self.on_message(message)


# ---- VONAGE

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


class FakeVonage:
    """Vonage's SMS API (``POST /sms/json``) over HTTPS on 127.0.0.1.

    Answers as ``mode`` says, or as ``numbers[to]`` says for a destination (``+447700900001``):
    ``ok``; ``slow`` (ok after ``slow_delay`` s); ``timeout`` (ok after ``delay`` s, longer than
    the client waits); ``drop`` (read the request, close without answering); ``partial`` (a
    multi-part text with only its first part accepted); ``invalid_json``; the statuses
    ``throttled`` (1), ``invalid`` (3), ``bad_credentials`` (4), ``barred`` (7), ``quota`` (9);
    ``http401``, ``http429``, ``http500``, ``http503``. ``mode`` may change between requests.

    Credentials are checked like Vonage: basic auth, ``api_key``/``api_secret`` in the body, or
    ``sig`` (HMAC of the sorted parameters with ``signature_secret``, as the SDK signs). Wrong
    ones get status 4 (14 for a bad signature), or HTTP 401 with ``reject_with_401``.

    ``requests`` lists what was received, ``connections`` counts TLS connections, ``errors``
    keeps failures of the fake itself (a client hanging up is not one).
    """

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
        self.requests = []
        self.connections = 0
        self.errors = []
        self.balance = 10.0
        self.stopping = threading.Event()
        self._port = port
        self._tls_files = tls_files
        self._tmp_dir = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._open_sockets = set()
        self._server = None
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def rest_host(self):
        """What to give the gateway as ``rest_host``: ``127.0.0.1:PORT``."""
        return f"{HOST}:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        if self._tls_files is None:
            self._tmp_dir = tempfile.mkdtemp(prefix="fake-vonage-")
            self._tls_files = make_tls_files(self._tmp_dir)
        cert_path, key_path, self.ca_file = self._tls_files
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)
        self._server = _VonageServer(self, (HOST, self._port), context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self._server.shutdown()
        with self._lock:
            for sock in self._open_sockets:
                # The plain socket's shutdown unblocks a handler waiting on it; SSLSocket's
                # would first drop the TLS state under that handler's feet.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join()
        if self._tmp_dir:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def count_by_client_ref(self):
        """How many requests arrived per ``client-ref``."""
        with self._lock:
            return collections.Counter(r["form"].get("client-ref") for r in self.requests)

    # ---- called by the handler threads

    def _track(self, sock, opened):
        with self._lock:
            if opened:
                self.connections += 1
                self._open_sockets.add(sock)
            else:
                self._open_sockets.discard(sock)

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
        digest = hmac.new(self.signature_secret.encode(), digestmod=self.signature_method)
        for key in sorted(set(form) - {"sig"}):
            value = form[key].replace("&", "_").replace("=", "_")
            digest.update(f"&{key}={value}".encode())
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


def _status_part(status, text):
    return {"status": status, "error-text": text}


def _sms_parts(text, kind):
    """Segments of a text: 160/153 characters for type=text, 70/67 UTF-16 units for unicode."""
    if kind == "unicode":
        length, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    else:
        length, single, multi = len(text), 160, 153
    return 1 if length <= single else math.ceil(length / multi)


class _VonageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake, address, ssl_context):
        self.fake = fake
        self.ssl_context = ssl_context
        super().__init__(address, _VonageHandler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the request's thread, so a client that rejects the
        # certificate or stalls cannot block the accepting thread.
        request.settimeout(5)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError:
            return
        self.fake._track(tls, opened=True)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            self.fake._track(tls, opened=False)
            tls.close()

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        # A client that hangs up (timeout, shutdown) breaks the socket: expected, not a fault.
        if not isinstance(error, OSError):
            self.fake.errors.append(error)


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


# ---- PROCESSES


def _jsonl_writer(path, record):
    """A callback appending ``record(item)`` to ``path`` as one flushed JSON line per call."""
    lock = threading.Lock()
    stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process lifetime

    def write(item):
        with lock:
            stream.write(json.dumps(record(item)) + "\n")
            stream.flush()

    return write


def _smtp_record(message):
    return {
        "to": message.rcpt_tos,
        "from": message.mail_from,
        "subject": message["Subject"],
        "message_id": message["Message-ID"],
        "received_at": _utc_now(),
    }


def _vonage_record(entry):
    form = entry["form"]
    return {
        "client_ref": form.get("client-ref"),
        "to": form.get("to"),
        "from": form.get("from"),
        "text": form.get("text"),
        "type": form.get("type"),
        "auth": entry["auth"],
        "behaviour": entry["behaviour"],
        "received_at": _utc_now(),
    }


def _run_until_terminated(port):
    print(f"listening on {HOST}:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def _serve_smtp(args):
    with SmtpSink(port=args.port, on_message=_jsonl_writer(args.jsonl, _smtp_record)) as sink:
        _run_until_terminated(sink.port)


def _serve_vonage(args):
    fake = FakeVonage(
        api_key=args.api_key,
        api_secret=args.api_secret,
        signature_secret=args.signature_secret,
        mode=args.mode,
        delay=args.delay,
        port=args.port,
        tls_files=(args.cert, args.key, None),
        on_request=_jsonl_writer(args.jsonl, _vonage_record),
    )
    with fake:
        _run_until_terminated(fake.port)


def _write_tls(args):
    for path in make_tls_files(args.directory):
        print(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    smtp = commands.add_parser("smtp", help="SMTP sink")
    smtp.add_argument("--port", type=int, default=0)
    smtp.add_argument("--jsonl", required=True)
    smtp.set_defaults(run=_serve_smtp)
    tls = commands.add_parser("tls", help="write cert.pem, key.pem and ca.pem into DIRECTORY")
    tls.add_argument("directory")
    tls.set_defaults(run=_write_tls)
    vonage = commands.add_parser("vonage", help="fake Vonage SMS API")
    vonage.add_argument("--port", type=int, default=0)
    vonage.add_argument("--cert", required=True)
    vonage.add_argument("--key", required=True)
    vonage.add_argument("--jsonl", required=True)
    vonage.add_argument("--mode", default="ok", choices=sorted(MODES))
    vonage.add_argument("--delay", type=float, default=3.0)
    vonage.add_argument("--api-key", default="test-key")
    vonage.add_argument("--api-secret", default="test-secret")
    vonage.add_argument("--signature-secret")
    vonage.set_defaults(run=_serve_vonage)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
