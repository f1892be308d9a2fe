"""SMTP failures mapped to the error taxonomy of :mod:`.errors`.

SMTP accepts a message only with the 250 that answers the final dot of DATA. A reply code before
that means it was refused and not sent (``sent=False``); a connection that drops or stalls while
sending leaves the outcome unknown, since the drop may come after the final dot.

:func:`classify_connect_error` is for failures while connecting and logging in (nothing was sent
yet), :func:`classify_smtp_error` for failures while sending one message. Both look through
``__cause__``/``__context__`` for the smtplib or socket error, so Odoo's MailDeliveryException,
raised while handling it, is classified by what it wraps.
"""

import smtplib
import socket
import ssl

from .errors import (
    AccountError,
    MessageRejectedError,
    OutcomeUnknownError,
    ProviderUnavailableError,
    RecipientError,
)

# RCPT replies about the mailbox itself (RFC 5321 4.3.2); 421 means the whole server is closing.
RECIPIENT_CODES = {450, 451, 452, 550, 551, 552, 553}
SERVER_CLOSING = 421
# Raised only before any command of the transaction could reach the server.
CONNECT_FAILURES = (ConnectionRefusedError, socket.gaierror, ssl.SSLError)


def classify_smtp_error(exc, *, recipient=None):
    """Return the :class:`~.errors.GatewayError` for ``exc``, raised while sending one message.

    :param recipient: the message's address, to pick its reply among refused recipients and name
        it in the text
    """
    error = _smtp_cause(exc)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _recipients_refused(error, recipient)
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply_error(error)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        # Raised before MAIL FROM, e.g. an internationalised address without SMTPUTF8.
        return MessageRejectedError(f"SMTP server cannot take this message: {error}", sent=False)
    if isinstance(error, CONNECT_FAILURES):
        return _connect_failure(error)
    if isinstance(error, (smtplib.SMTPServerDisconnected, TimeoutError, ConnectionError)):
        about = f" to {recipient}" if recipient else ""
        return OutcomeUnknownError(
            f"SMTP connection lost while sending ({_describe(error)}); the outcome of the "
            f"message{about} is unknown"
        )
    return ProviderUnavailableError(f"SMTP: {type(exc).__name__}: {exc}", sent=None)


def classify_connect_error(exc):
    """Return the :class:`~.errors.GatewayError` for ``exc``, raised while connecting or logging in.

    Nothing was sent yet, so ``sent`` is always ``False``.
    """
    error = _smtp_cause(exc)
    if isinstance(error, (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError)):
        return AccountError(
            f"SMTP server refused the login: {_describe(error)}", code=_code(error), sent=False
        )
    return _connect_failure(error or exc)


def _smtp_cause(exc):
    """The first smtplib or socket error in the chain of ``exc`` (smtplib's derive from OSError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _recipients_refused(error, recipient):
    address, (code, reply) = next(iter(error.recipients.items()))
    if recipient in error.recipients:
        address, (code, reply) = recipient, error.recipients[recipient]
    text = f"{code} {_reply_text(reply)}"
    if code == SERVER_CLOSING:
        return ProviderUnavailableError(f"SMTP server unavailable: {text}", code=code, sent=False)
    return RecipientError(f"SMTP server refused recipient {address}: {text}", code=code, sent=False)


def _reply_error(error):
    code = error.smtp_code
    text = _describe(error)
    if code == SERVER_CLOSING or isinstance(
        error, (smtplib.SMTPConnectError, smtplib.SMTPHeloError)
    ):
        return ProviderUnavailableError(f"SMTP server unavailable: {text}", code=code, sent=False)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return AccountError(f"SMTP server refused the login: {text}", code=code, sent=False)
    if isinstance(error, smtplib.SMTPSenderRefused):
        return AccountError(
            f"SMTP server refused sender {error.sender}: {text}", code=code, sent=False
        )
    # smtplib raises MAIL and DATA refusals as subclasses: a bare reply error is left for RCPT.
    if type(error) is smtplib.SMTPResponseException and code in RECIPIENT_CODES:
        return RecipientError(f"SMTP server refused the recipient: {text}", code=code, sent=False)
    if code >= 500:
        return MessageRejectedError(
            f"SMTP server refused the message: {text}", code=code, sent=False
        )
    return ProviderUnavailableError(
        f"SMTP server cannot take the message now: {text}", code=code, sent=False
    )


def _connect_failure(error):
    return ProviderUnavailableError(
        f"cannot connect to the SMTP server: {_describe(error)}", code=_code(error), sent=False
    )


def _code(error):
    return getattr(error, "smtp_code", None)


def _describe(error):
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_reply_text(error.smtp_error)}"
    if isinstance(error, smtplib.SMTPException):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _reply_text(reply):
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(reply.split("\n"))
