"""The SMTP sink of tests/fakes.py, in-process and as a separate process."""

import json
import logging
import select
import signal
import smtplib
import subprocess
import sys
import threading
from email.message import EmailMessage

import pytest

from outbound_bulk_messaging.tests import fakes
from outbound_bulk_messaging.tests.fakes import SmtpSink, free_port


def message(number=1, to="debtor@example.com"):
    mail = EmailMessage()
    mail["From"] = "Collections <collections@example.com>"
    mail["To"] = to
    mail["Subject"] = f"Relevé n°{number}"
    mail["Message-ID"] = f"<{number}@outbound.test>"
    mail.set_content(f"Bonjour, message {number}.")
    return mail


def send(sink, *mails, login=None):
    with smtplib.SMTP(sink.host, sink.port, timeout=2) as smtp:
        if login:
            smtp.login(*login)
        for mail in mails:
            smtp.send_message(mail)


def test_accepted_messages_are_parsed_with_their_envelope():
    with SmtpSink() as sink:
        send(sink, message(1, to="a@example.com, b@example.com"))
        [received] = sink.wait_for(1)

    assert received["Subject"] == "Relevé n°1"
    assert received.get_content() == "Bonjour, message 1.\n"
    assert received.mail_from == "collections@example.com"
    assert received.rcpt_tos == ["a@example.com", "b@example.com"]


def test_wait_for_times_out_with_what_arrived():
    with SmtpSink() as sink:
        send(sink, message())
        with pytest.raises(TimeoutError, match="1 of 2 messages within 0.2 s"):
            sink.wait_for(2, timeout=0.2)


def test_concurrent_senders_all_arrive():
    with SmtpSink() as sink:
        senders = [
            threading.Thread(target=send, args=(sink, *[message(10 * t + n) for n in range(5)]))
            for t in range(4)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        received = sink.wait_for(20)

    assert sorted(int(m["Message-ID"][1:].split("@")[0]) for m in received) == sorted(
        10 * t + n for t in range(4) for n in range(5)
    )


def test_data_reply_callable_rejects_chosen_messages():
    reply = lambda count: "554 5.7.1 rejected" if count == 2 else None  # noqa: E731
    with SmtpSink(data_reply=reply) as sink, smtplib.SMTP(sink.host, sink.port, timeout=2) as smtp:
        smtp.send_message(message(1))
        with pytest.raises(smtplib.SMTPDataError):
            smtp.send_message(message(2))
        smtp.send_message(message(3))

    assert [m["Message-ID"] for m in sink.messages] == ["<1@outbound.test>", "<3@outbound.test>"]
    assert sink.data_count == 3


def test_drop_after_drops_only_that_message():
    with SmtpSink(drop_after=2) as sink:
        send(sink, message(1))
        with pytest.raises(smtplib.SMTPServerDisconnected):
            send(sink, message(2))
        send(sink, message(3))

    assert [m["Message-ID"] for m in sink.messages] == ["<1@outbound.test>", "<3@outbound.test>"]


def test_auth_is_required_and_checked_without_warnings(recwarn):
    with SmtpSink(auth=("odoo", "secret")) as sink:
        with pytest.raises(smtplib.SMTPSenderRefused):
            send(sink, message(1))
        send(sink, message(2), login=("odoo", "secret"))

    assert [m["Message-ID"] for m in sink.messages] == ["<2@outbound.test>"]
    assert [str(w.message) for w in recwarn] == []


def test_mail_log_is_quiet_while_running_and_restored(caplog):
    mail_log = logging.getLogger("mail.log")
    level_before = mail_log.level
    with SmtpSink() as sink:
        assert mail_log.level == logging.ERROR
        with smtplib.SMTP(sink.host, sink.port, timeout=2) as smtp:
            smtp.docmd("BOGUS")  # aiosmtpd warns about unrecognised commands

    assert mail_log.level == level_before
    assert [r for r in caplog.records if r.name == "mail.log"] == []


def test_free_port_is_closed():
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", free_port(), timeout=1)


def test_sink_process_writes_one_flushed_line_per_message_and_stops_on_sigterm(tmp_path):
    jsonl = tmp_path / "smtp.jsonl"
    command = [sys.executable, fakes.__file__, "smtp", "--port", "0", "--jsonl", str(jsonl)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert select.select([process.stdout], [], [], 10)[0], "the sink did not start"
            host, port = process.stdout.readline().split()[-1].split(":")
            with smtplib.SMTP(host, int(port), timeout=2) as smtp:
                smtp.send_message(message(1))
                smtp.send_message(message(2, to="x@example.com"))
            lines = jsonl.read_text().splitlines()
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=5)

    assert returncode == 0
    records = [json.loads(line) for line in lines]
    assert [(r["to"], r["subject"], r["message_id"]) for r in records] == [
        (["debtor@example.com"], "Relevé n°1", "<1@outbound.test>"),
        (["x@example.com"], "Relevé n°2", "<2@outbound.test>"),
    ]
    assert all(r["from"] == "collections@example.com" and r["received_at"] for r in records)
