"""SMTP failures classified from real smtplib sessions against the local SmtpSink."""

import smtplib
import socket
import time
from email.message import EmailMessage

import pytest

from outbound_bulk_messaging.engine import errors
from outbound_bulk_messaging.engine.smtp import classify_connect_error, classify_smtp_error
from outbound_bulk_messaging.tests.fakes import SmtpSink, free_port

TO = "debtor@example.com"


def message(to=TO):
    mail = EmailMessage()
    mail["From"] = "collections@example.com"
    mail["To"] = to
    mail["Subject"] = "Your account"
    mail.set_content("Please call us.")
    return mail


def send_failure(sink, mail=None, *, timeout=2, login=None):
    """Send ``mail`` through ``sink`` with smtplib and return the exception it raised."""
    with (
        pytest.raises(Exception) as raised,
        smtplib.SMTP(sink.host, sink.port, timeout=timeout) as smtp,
    ):
        if login:
            smtp.login(*login)
        smtp.send_message(mail or message())
    return raised.value


# ---- REFUSED BEFORE ACCEPTANCE: NOT SENT


def test_refused_recipient_is_a_recipient_error():
    with SmtpSink(refuse={TO}) as sink:
        error = classify_smtp_error(send_failure(sink), recipient=TO)

    assert isinstance(error, errors.RecipientError)
    assert (error.code, error.sent, error.scope) == (550, False, errors.MESSAGE)
    assert str(error) == (
        f"SMTP server refused recipient {TO}: 550 5.1.1 <{TO}>: Recipient address rejected"
    )
    assert sink.messages == []


def test_recipient_picks_its_own_reply_among_refused_ones():
    others = "other@example.com"
    with SmtpSink(refuse=lambda address: f"550 5.1.1 <{address}>: user unknown") as sink:
        failure = send_failure(sink, message(to=f"{others}, {TO}"))

    error = classify_smtp_error(failure, recipient=TO)

    assert str(error) == f"SMTP server refused recipient {TO}: 550 5.1.1 <{TO}>: user unknown"


def test_temporary_recipient_refusal_is_still_a_recipient_error():
    with SmtpSink(refuse=lambda address: "450 4.2.1 Mailbox busy") as sink:
        error = classify_smtp_error(send_failure(sink), recipient=TO)

    assert isinstance(error, errors.RecipientError)
    assert error.code == 450


def test_server_closing_at_rcpt_stops_the_job():
    with SmtpSink(refuse=lambda address: "421 4.3.2 Service shutting down") as sink:
        error = classify_smtp_error(send_failure(sink), recipient=TO)

    assert isinstance(error, errors.ProviderUnavailableError)
    assert (error.code, error.sent) == (421, False)


def test_temporary_refusal_of_data_stops_the_job_unsent():
    with SmtpSink(data_reply="452 4.3.1 Insufficient system storage") as sink:
        error = classify_smtp_error(send_failure(sink))

    assert isinstance(error, errors.ProviderUnavailableError)
    assert (error.code, error.sent) == (452, False)
    assert str(error) == (
        "SMTP server cannot take the message now: 452 4.3.1 Insufficient system storage"
    )


def test_permanent_refusal_of_data_rejects_the_message():
    with SmtpSink(data_reply="554 5.7.1 rejected") as sink:
        error = classify_smtp_error(send_failure(sink))

    assert isinstance(error, errors.MessageRejectedError)
    assert (error.code, error.sent) == (554, False)
    assert str(error) == "SMTP server refused the message: 554 5.7.1 rejected"


def test_wrong_password_is_an_account_error():
    with SmtpSink(auth=("odoo", "secret")) as sink:
        error = classify_connect_error(send_failure(sink, login=("odoo", "wrong")))

    assert isinstance(error, errors.AccountError)
    assert (error.code, error.sent) == (535, False)
    assert str(error) == (
        "SMTP server refused the login: 535 5.7.8 Authentication credentials invalid"
    )


def test_sending_without_required_login_is_an_account_error():
    with SmtpSink(auth=("odoo", "secret")) as sink:
        error = classify_smtp_error(send_failure(sink))

    assert isinstance(error, errors.AccountError)
    assert (error.code, error.sent) == (530, False)
    assert "refused sender collections@example.com: 530 5.7.0 Authentication required" in str(error)


# ---- LOST WHILE SENDING: OUTCOME UNKNOWN


def test_connection_dropped_during_data_leaves_the_outcome_unknown():
    with SmtpSink(drop_after=1) as sink:
        failure = send_failure(sink)

    error = classify_smtp_error(failure, recipient=TO)

    assert isinstance(failure, smtplib.SMTPServerDisconnected)
    assert isinstance(error, errors.OutcomeUnknownError)
    assert error.sent is None
    assert str(error) == (
        "SMTP connection lost while sending (Connection unexpectedly closed); "
        f"the outcome of the message to {TO} is unknown"
    )


def test_stalled_server_times_out_with_the_outcome_unknown():
    started = time.monotonic()
    with SmtpSink(stall=3) as sink:
        failure = send_failure(sink, timeout=0.5)
    elapsed = time.monotonic() - started

    error = classify_smtp_error(failure)

    assert elapsed < 2
    assert isinstance(error, errors.OutcomeUnknownError)
    assert "timed out" in str(error)


def test_reset_raised_raw_while_sending_leaves_the_outcome_unknown():
    error = classify_smtp_error(ConnectionResetError(104, "Connection reset by peer"))

    assert isinstance(error, errors.OutcomeUnknownError)


# ---- CONNECTING: NOTHING SENT


def test_connection_refused_is_not_sent():
    with pytest.raises(OSError) as raised:
        smtplib.SMTP("127.0.0.1", free_port(), timeout=1)

    for classify in (classify_connect_error, classify_smtp_error):
        error = classify(raised.value)
        assert isinstance(error, errors.ProviderUnavailableError)
        assert error.sent is False
        assert str(error) == "cannot connect to the SMTP server: Connection refused"


def test_server_silent_after_connect_is_not_sent():
    # Listening, so the TCP handshake succeeds, but never accepting: no greeting comes.
    with (
        socket.create_server(("127.0.0.1", 0)) as silent,
        pytest.raises(smtplib.SMTPServerDisconnected) as raised,
    ):
        smtplib.SMTP("127.0.0.1", silent.getsockname()[1], timeout=0.5)

    error = classify_connect_error(raised.value)

    assert isinstance(error, errors.ProviderUnavailableError)
    assert error.sent is False
    assert str(error) == (
        "cannot connect to the SMTP server: Connection unexpectedly closed: timed out"
    )


def test_tls_to_a_plain_server_is_not_sent():
    with SmtpSink() as sink, pytest.raises(OSError) as raised:
        smtplib.SMTP_SSL(sink.host, sink.port, timeout=1)

    for classify in (classify_connect_error, classify_smtp_error):
        error = classify(raised.value)
        assert isinstance(error, errors.ProviderUnavailableError)
        assert error.sent is False


# ---- WRAPPED AND UNKNOWN ERRORS


class MailDeliveryException(Exception):
    """Stands for Odoo's, raised with only the text while handling the smtplib error."""


def test_odoo_wrapper_is_classified_by_the_wrapped_error():
    with SmtpSink(refuse={TO}) as sink:
        failure = send_failure(sink)
    try:
        try:
            raise failure
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailDeliveryException(f"Mail delivery failed: {exc}")  # noqa: B904 - as Odoo
    except MailDeliveryException as wrapper:
        error = classify_smtp_error(wrapper, recipient=TO)

    assert isinstance(error, errors.RecipientError)
    assert error.code == 550


def test_unknown_error_keeps_its_class_and_text_with_outcome_unknown():
    error = classify_smtp_error(MailDeliveryException("something odd"))

    assert isinstance(error, errors.ProviderUnavailableError)
    assert error.sent is None
    assert str(error) == "SMTP: MailDeliveryException: something odd"
