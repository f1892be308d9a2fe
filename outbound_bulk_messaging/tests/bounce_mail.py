"""Bounce emails as MTAs write them, for the Odoo tests and the pytest suite (stdlib only).

:func:`make_dsn` writes an RFC 3464 report the way Postfix does (a text part, the
``message/delivery-status`` part, the returned headers or message); :func:`make_plain_bounce`
a plain-text one, as qmail does, with the original quoted in the text.
"""

from email.utils import formatdate, make_msgid

REPORTING_MTA = "mx.example.net"
BOUNDARY = "dsn-boundary-1"


def make_dsn(
    original,
    to,
    recipients,
    *,
    returned="headers",
    message_id=None,
    sender=f"MAILER-DAEMON@{REPORTING_MTA}",
):
    """The raw bytes of a delivery status notification about ``original``.

    :param original: the bounced email (an :class:`email.message.Message`) or its raw text
    :param to: the address the report is sent to (the envelope sender of ``original``)
    :param recipients: ``(address, action, status, diagnostic)`` per reported recipient; a
        ``None`` field is left out of the report
    :param returned: ``headers`` (text/rfc822-headers), ``message`` (message/rfc822) or ``None``
    """
    original = original if isinstance(original, str) else original.as_string()
    head, _blank, _body = original.replace("\r\n", "\n").partition("\n\n")
    human = "\n".join(
        f"<{address}>: host mx.example.org said: {diagnostic or 'failed'}"
        for address, _action, _status, diagnostic in recipients
    )
    blocks = [f"Reporting-MTA: dns; {REPORTING_MTA}\nArrival-Date: {formatdate()}"]
    for address, action, status, diagnostic in recipients:
        fields = [
            ("Final-Recipient", address and f"rfc822; {address}"),
            ("Original-Recipient", address and f"rfc822;{address}"),
            ("Action", action),
            ("Status", status),
            ("Remote-MTA", "dns; mx.example.org"),
            ("Diagnostic-Code", diagnostic),
        ]
        blocks.append("\n".join(f"{name}: {value}" for name, value in fields if value))
    parts = [
        "Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
        f"This is the mail system at host {REPORTING_MTA}.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        f"{human}\n",
        "Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        + "\n\n".join(blocks)
        + "\n",
    ]
    if returned == "headers":
        parts.append(
            "Content-Description: Undelivered Message Headers\n"
            f"Content-Type: text/rfc822-headers\n\n{head}\n"
        )
    elif returned == "message":
        parts.append(
            "Content-Description: Undelivered Message\nContent-Type: message/rfc822\n\n"
            f"{original}\n"
        )
    body = "".join(f"--{BOUNDARY}\n{part}\n" for part in parts) + f"--{BOUNDARY}--\n"
    return _envelope(
        sender,
        to,
        "Undelivered Mail Returned to Sender",
        message_id,
        "multipart/report; report-type=delivery-status;\n"
        f' boundary="{BOUNDARY}"\nMIME-Version: 1.0',
        body,
    )


def make_plain_bounce(original, to, text, *, message_id=None):
    """A plain-text bounce (no report part): ``text``, then the original quoted below it."""
    original = original if isinstance(original, str) else original.as_string()
    body = f"{text}\n\n--- Below this line is a copy of the message.\n\n{original}\n"
    return _envelope(
        f"MAILER-DAEMON@{REPORTING_MTA}",
        to,
        "failure notice",
        message_id,
        "text/plain; charset=us-ascii",
        body,
    )


def _envelope(sender, to, subject, message_id, content_type, body):
    head = (
        f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: {formatdate()}\n"
        f"Message-ID: {message_id or make_msgid(domain=REPORTING_MTA)}\n"
        f"Content-Type: {content_type}\n"
    )
    return (head + "\n" + body).encode()
