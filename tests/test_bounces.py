"""Bounce reports (RFC 3464 and plain text) read by engine.bounces."""

import email
import email.policy
from email.message import EmailMessage

import pytest

from outbound_bulk_messaging.engine.bounces import (
    Bounce,
    find_bounce,
    quoted_message_ids,
    read_reports,
)
from outbound_bulk_messaging.tests.bounce_mail import make_dsn, make_plain_bounce

TO = "debtor@example.com"
BOUNCE_ADDRESS = "bounce@acme.example"
USER_UNKNOWN = f"smtp; 550 5.1.1 <{TO}>: Recipient address rejected: User unknown"


def original(to=TO, body="Please call us about 4.2.2 and 550 things."):
    mail = EmailMessage()
    mail["From"] = "Acme <renewals@acme.example>"
    mail["To"] = to
    mail["Subject"] = "Your renewal"
    mail["Message-ID"] = "<1701.42@acme.example>"
    mail.set_content(body)
    return mail


def parsed(raw):
    """As the mail gateway parses it."""
    return email.message_from_bytes(raw, policy=email.policy.SMTP)


# ---- RFC 3464 REPORTS


@pytest.mark.parametrize("returned", ["headers", "message", None])
def test_permanent_failure_gives_status_diagnostic_and_recipient(returned):
    raw = make_dsn(
        original(), BOUNCE_ADDRESS, [(TO, "failed", "5.1.1", USER_UNKNOWN)], returned=returned
    )
    bounce = find_bounce(parsed(raw), TO)
    assert bounce == Bounce(
        recipient=TO,
        original_recipient=TO,
        action="failed",
        status="5.1.1",
        diagnostic=USER_UNKNOWN,
    )
    assert bounce.permanent and bounce.failed and bounce.names(TO)


def test_raw_bytes_are_read_as_the_parsed_message():
    raw = make_dsn(original(), BOUNCE_ADDRESS, [(TO, "failed", "5.1.1", USER_UNKNOWN)])
    assert find_bounce(raw, TO) == find_bounce(parsed(raw), TO)


def test_transient_delay_is_a_problem_but_not_permanent():
    diagnostic = "smtp; 452 4.2.2 Mailbox full"
    raw = make_dsn(original(), BOUNCE_ADDRESS, [(TO, "delayed", "4.2.2", diagnostic)])
    bounce = find_bounce(parsed(raw), TO)
    assert (bounce.status, bounce.diagnostic, bounce.action) == ("4.2.2", diagnostic, "delayed")
    assert bounce.failed and not bounce.permanent


def test_success_report_is_not_a_failure():
    raw = make_dsn(original(), BOUNCE_ADDRESS, [(TO, "delivered", "2.0.0", "smtp; 250 OK")])
    bounce = find_bounce(parsed(raw), TO)
    assert not bounce.failed and not bounce.permanent


def test_multiple_recipients_pick_ours():
    raw = make_dsn(
        original(),
        BOUNCE_ADDRESS,
        [
            ("other@example.org", "failed", "5.7.1", "smtp; 550 5.7.1 Relaying denied"),
            (TO, "delayed", "4.4.1", "smtp; 421 4.4.1 Connection timed out"),
            ("third@example.net", "failed", "5.1.1", "smtp; 550 5.1.1 No such user"),
        ],
    )
    assert len(read_reports(parsed(raw))) == 3
    bounce = find_bounce(parsed(raw), "Debtor@EXAMPLE.com")
    assert (bounce.recipient, bounce.status) == (TO, "4.4.1")


def test_report_about_someone_else_says_so():
    raw = make_dsn(
        original(),
        BOUNCE_ADDRESS,
        [("forwarded@elsewhere.example", "failed", "5.1.1", "smtp; 550 5.1.1 No such user")],
    )
    bounce = find_bounce(parsed(raw), TO)
    assert bounce.recipient == "forwarded@elsewhere.example"
    assert bounce.names(TO) is False
    assert bounce.permanent


def test_original_recipient_names_us_after_forwarding():
    raw = make_dsn(original(), BOUNCE_ADDRESS, [(TO, "failed", "5.1.1", USER_UNKNOWN)])
    raw = raw.replace(f"Final-Recipient: rfc822; {TO}".encode(), b"Final-Recipient: rfc822; x@y.z")
    bounce = find_bounce(parsed(raw), TO)
    assert (bounce.recipient, bounce.original_recipient) == ("x@y.z", TO)
    assert bounce.names(TO) is True


def test_status_missing_is_read_from_the_diagnostic():
    raw = make_dsn(original(), BOUNCE_ADDRESS, [(TO, "failed", None, "smtp; 550 5.2.1 Disabled")])
    assert find_bounce(parsed(raw), TO).status == "5.2.1"


def test_basic_reply_code_alone_gives_the_class():
    raw = make_dsn(original(), BOUNCE_ADDRESS, [(TO, "failed", None, "smtp; 550 User unknown")])
    raw = raw.replace(b"said: smtp; 550 User unknown", b"said: no such user")
    bounce = find_bounce(parsed(raw), TO)
    assert (bounce.status, bounce.diagnostic) == ("5.0.0", "smtp; 550 User unknown")


def test_diagnostic_missing_falls_back_to_the_text_line():
    raw = make_dsn(original(), BOUNCE_ADDRESS, [(TO, "failed", "5.1.1", None)])
    raw = raw.replace(b"said: failed", b"said: 550 5.1.1 User unknown")
    bounce = find_bounce(parsed(raw), TO)
    assert bounce.diagnostic == f"<{TO}>: host mx.example.org said: 550 5.1.1 User unknown"


def test_base64_delivery_status_part_is_decoded():
    block = f"Final-Recipient: rfc822; {TO}\nAction: failed\nStatus: 5.1.1\n"
    encoded = email.base64mime.body_encode(
        f"Reporting-MTA: dns; mx\n\n{block}".encode(), maxlinelen=76
    )
    raw = (
        "From: MAILER-DAEMON@mx\nTo: bounce@acme.example\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nfailed\n"
        "--b\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        f"{encoded}\n--b--\n"
    ).encode()
    bounce = find_bounce(parsed(raw), TO)
    assert (bounce.recipient, bounce.status) == (TO, "5.1.1")


def test_codes_in_the_returned_message_do_not_count():
    raw = make_dsn(
        original(body="Reply 550 5.7.1 here"),
        BOUNCE_ADDRESS,
        [(TO, None, None, None)],
        returned="message",
    )
    bounce = find_bounce(parsed(raw), TO)
    assert bounce.status is None
    assert not bounce.permanent


# ---- PLAIN-TEXT BOUNCES


QMAIL = f"""Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{TO}>:
192.0.2.7 does not like recipient.
Remote host said: 550 5.1.1 <{TO}>... User unknown
Giving up on 192.0.2.7."""


def test_plain_text_bounce_gives_code_line_and_quoted_message_id():
    raw = make_plain_bounce(original(), BOUNCE_ADDRESS, QMAIL)
    bounce = find_bounce(parsed(raw), TO)
    assert bounce.status == "5.1.1"
    assert bounce.diagnostic == f"Remote host said: 550 5.1.1 <{TO}>... User unknown"
    assert bounce.recipient is None and bounce.names(TO) is None
    assert quoted_message_ids(parsed(raw)) == ["<1701.42@acme.example>"]


def test_plain_text_bounce_with_a_basic_code_only():
    text = "Delivery failed.\nRemote host said: 554 mailbox unavailable"
    bounce = find_bounce(parsed(make_plain_bounce(original(), BOUNCE_ADDRESS, text)), TO)
    assert bounce.status == "5.0.0"
    assert bounce.diagnostic == "Remote host said: 554 mailbox unavailable"


def test_plain_text_bounce_without_any_code_is_not_permanent():
    text = "Sorry, I couldn't find any host named example.com. (#5.1.2)"
    raw = make_plain_bounce(original(body="hello"), BOUNCE_ADDRESS, text.replace("5.1.2", "x"))
    bounce = find_bounce(parsed(raw), TO)
    assert bounce.status is None and bounce.failed and not bounce.permanent


def test_html_only_bounce_is_read_as_text():
    raw = (
        b"From: postmaster@example.com\nTo: bounce@acme.example\nSubject: Undeliverable\n"
        b"MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"
        b"<html><body><p>Delivery has failed.</p><p>Remote server returned "
        b"<b>'550 5.4.1 Recipient address rejected: Access denied'</b></p></body></html>\n"
    )
    bounce = find_bounce(parsed(raw), TO)
    assert bounce.status == "5.4.1"
    assert "550 5.4.1 Recipient address rejected" in bounce.diagnostic


# ---- MALFORMED INPUT


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\x00garbage",
        b'Content-Type: multipart/report; boundary="x"\n\n--x\nno end',
        b"Content-Type: message/delivery-status\n\nFinal-Recipient\n\nStatus: five\n",
        b"Content-Type: text/plain; charset=no-such-charset\n\n550 5.1.1 gone\n",
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        b"--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: ;;;\n"
        b"Status: 9.9.9\nDiagnostic-Code: " + b"x" * 5000 + b"\n--b--\n",
    ],
)
def test_malformed_input_gives_a_bounce_not_an_exception(raw):
    bounce = find_bounce(parsed(raw), TO)
    assert isinstance(bounce, Bounce)
    assert bounce.diagnostic is None or len(bounce.diagnostic) <= 1000
    assert not bounce.names(TO)


def test_charset_unknown_is_still_read():
    raw = b"Content-Type: text/plain; charset=no-such-charset\n\n550 5.1.1 gone\n"
    assert find_bounce(parsed(raw), TO).status == "5.1.1"


def test_long_diagnostic_is_cut():
    raw = make_dsn(original(), BOUNCE_ADDRESS, [(TO, "failed", "5.1.1", "smtp; 550 " + "y" * 5000)])
    diagnostic = find_bounce(parsed(raw), TO).diagnostic
    assert len(diagnostic) == 1000 and diagnostic.endswith("…")


@pytest.mark.parametrize("value", [None, 42, object()])
def test_not_a_message_gives_an_empty_bounce(value):
    assert read_reports(value) == [Bounce()]
    assert quoted_message_ids(value) == []
