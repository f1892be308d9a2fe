"""The loopback SMTP sink of the tests: a real aiosmtpd server on 127.0.0.1.

Only the standard library and aiosmtpd. :class:`SmtpSink` keeps what it accepts as
:class:`ReceivedMessage` objects; ``_smtp_record`` is the JSON line ``fakes.py smtp`` writes per
accepted message.
"""

import asyncio
import email
import email.policy
import logging
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

if __package__:
    from .fake_common import HOST, _utc_now, free_port
else:  # imported from this folder: fakes.py run as a script, tests_faults/fault_sink.py
    from fake_common import HOST, _utc_now, free_port


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


def _smtp_record(message):
    return {
        "to": message.rcpt_tos,
        "from": message.mail_from,
        "subject": message["Subject"],
        "message_id": message["Message-ID"],
        "received_at": _utc_now(),
    }
