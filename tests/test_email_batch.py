"""A batch's emails made from a prototype are the messages ``build_email`` would have made.

``build_email`` below does what Odoo's ``ir.mail_server.build_email`` does with the arguments the
email channel passes (same calls, same order); the addon's Odoo tests compare with Odoo's own.
"""

import copy
import io
import re
from datetime import datetime, timezone
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from outbound_bulk_messaging.engine.email_batch import MessageFactory, SharedFoldPolicy

POLICY = SharedFoldPolicy(linesep="\r\n")
TOKEN = "ab" * 32


def build_email(email_from, email_to, subject, body, subtype, headers, body_alternative):
    message = EmailMessage(policy=POLICY)
    message["Message-Id"] = make_msgid()
    message["Subject"] = subject
    message["From"] = email_from
    message["Reply-To"] = email_from
    message["To"] = email_to
    message["Date"] = datetime.now(timezone.utc).replace(tzinfo=None)
    for name, value in (headers or {}).items():
        message[name] = value
    if body_alternative:
        message["MIME-Version"] = "1.0"
        message.add_alternative(body_alternative, subtype="plain", charset="utf-8")
        message.add_alternative(body, subtype=subtype, charset="utf-8")
    else:
        message.set_content(body or "", subtype=subtype, charset="utf-8")
    return message


def arguments(number, html=False, **values):
    url = f"https://odoo.example.com/outbound/unsubscribe/{number}-{TOKEN}"
    text = values.pop("text", f"Dear Customer {number},\n\naccount ACC{number:08d} is overdue.")
    result = {
        "email_from": "Acme Collections <collect@acme.example>",
        "email_to": [f"customer{number}@example.com"],
        "subject": f"Your account ACC{number:08d}",
        "body": f"<p>{text}</p>" if html else text,
        "body_alternative": text if html else None,
        "subtype": "html" if html else "plain",
        "headers": {
            "List-Id": '"Renewals" <campaign-1.acme.example>',
            "Precedence": "bulk",
            "X-Outbound-Message": str(number),
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    result.update(values)
    return result


def factory(html=False):
    prototype_arguments = arguments(1, html=html)
    made = MessageFactory.from_prototype(build_email(**prototype_arguments), prototype_arguments)
    assert made is not None
    return made


def serialised(message, policy=None):
    """The bytes smtplib would send, Message-Id, Date and boundary aside (drawn per message)."""
    with io.BytesIO() as stream:
        BytesGenerator(stream, policy=policy).flatten(copy.copy(message), linesep="\r\n")
        raw = stream.getvalue()
    raw = re.sub(rb"(?m)^(Message-Id|Date): [^\r]*", rb"\1: -", raw)
    return re.sub(rb"={15}\d+==", b"BOUNDARY", raw)


VARIANTS = {
    "ascii": {},
    "non-ASCII subject, folded": {"subject": "Échéance de votre compte " + "très " * 20},
    "long ASCII subject, folded": {"subject": "word " * 40},
    "subject looking like an encoded word": {"subject": "=?utf-8?q?not_encoded?= really"},
    "non-ASCII address": {"email_to": ["jörg@bücher.example"]},
    "long address": {"email_to": ["x" * 80 + "@example.com"]},
    "other sender": {"email_from": "Ünïcode Sender <other@acme.example>"},
    "body in 8 bit": {"text": "Café, crème brûlée.\n"},
    "body in quoted-printable": {"text": "é" + "x" * 1000},
    "body in base64": {"text": "€ " * 300},
    "CRLF and control characters": {"text": "line one\r\nline two\x01\n"},
    "another header value": {"headers": dict(arguments(1)["headers"], Precedence="list")},
}


@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
@pytest.mark.parametrize("values", VARIANTS.values(), ids=VARIANTS.keys())
def test_made_message_is_the_built_one(html, values):
    made_arguments = arguments(7, html=html, **copy.deepcopy(values))
    made = factory(html).make(made_arguments)
    assert serialised(made) == serialised(build_email(**made_arguments))


def test_empty_text_body_is_the_built_one_and_empty_html_has_another_shape():
    """An HTML body without text has no text part to pass: build_email converts it itself."""
    made_arguments = arguments(7, text="")
    assert serialised(factory().make(made_arguments)) == serialised(build_email(**made_arguments))
    html = arguments(7, html=True, text="")
    assert html["body_alternative"] == ""
    assert MessageFactory.shape_of(html) != MessageFactory.shape_of(arguments(1, html=True))


def test_international_addresses_serialise_as_smtplib_does_with_utf8():
    """smtplib serialises with ``utf8=True`` for a non-ASCII envelope: a shared header folded
    for one policy must not be sent as folded for the other."""
    sender = {"email_from": "Ünïcode Sender <collect@acme.example>"}
    prototype_arguments = arguments(1, **sender)
    prototype = build_email(**prototype_arguments)
    made_factory = MessageFactory.from_prototype(prototype, prototype_arguments)
    utf8 = POLICY.clone(utf8=True)
    made_arguments = arguments(7, email_to=["jörg@bücher.example"], **sender)
    made, built = made_factory.make(made_arguments), build_email(**made_arguments)
    assert made["From"] is prototype["From"]
    assert serialised(made, utf8) == serialised(built, utf8)
    assert serialised(made) == serialised(built)
    assert serialised(made, utf8) != serialised(made)


def test_each_message_has_its_own_id_and_the_time_it_was_made():
    made_factory = factory()
    first, second = made_factory.make(arguments(7)), made_factory.make(arguments(8))
    assert first["Message-Id"] != second["Message-Id"]
    assert re.fullmatch(r"<\d+\.\d+\.\d+@[^>]+>", first["Message-Id"])
    age = datetime.now(timezone.utc) - first["Date"].datetime.replace(tzinfo=timezone.utc)
    assert 0 <= age.total_seconds() < 5


def test_unchanged_headers_are_shared_and_folded_once():
    made_factory = factory()
    first, second = made_factory.make(arguments(7)), made_factory.make(arguments(8))
    assert first["From"] is second["From"]
    assert first["List-Id"] is second["List-Id"]
    assert first["To"] is not second["To"]
    serialised(first)
    serialised(second)
    # One fold per policy: the two messages were serialised with equal clones of POLICY.
    assert len(first["From"]._obm_folds) == 1


def test_changing_a_made_message_leaves_the_next_ones_alone():
    """``_prepare_email_message`` may replace From and deletes Bcc in the message it sends."""
    prototype_arguments = arguments(1)
    prototype = build_email(**prototype_arguments)
    made_factory = MessageFactory.from_prototype(prototype, prototype_arguments)
    made = made_factory.make(arguments(7))
    for message in (prototype, made):
        del message["From"]
        message["From"] = "notifications@acme.example"
    again = made_factory.make(arguments(8))
    assert again["From"] == "Acme Collections <collect@acme.example>"
    assert serialised(again) == serialised(build_email(**arguments(8)))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda message: message.__setitem__("X-Added", "1"), id="added header"),
        pytest.param(
            lambda message: message.replace_header("To", "staging@example.com"), id="redirected"
        ),
        pytest.param(lambda message: message.set_content("other"), id="other body"),
        pytest.param(
            lambda message: message.add_attachment(b"data", "application", "octet-stream"),
            id="attachment",
        ),
    ],
)
def test_a_prototype_it_cannot_reproduce_is_refused(change):
    prototype_arguments = arguments(1)
    prototype = build_email(**prototype_arguments)
    change(prototype)
    assert MessageFactory.from_prototype(prototype, prototype_arguments) is None


def test_html_without_its_text_part_is_refused():
    """build_email then makes the text part itself, with Odoo's html2plaintext."""
    prototype = build_email(**arguments(1, html=True))
    prototype_arguments = arguments(1, html=True, body_alternative=None)
    assert MessageFactory.from_prototype(prototype, prototype_arguments) is None


def test_shapes_tell_apart_what_one_factory_cannot_make():
    shape = MessageFactory.shape_of
    test_headers = dict(arguments(1)["headers"], **{"X-Outbound-Test": "1"})
    assert shape(arguments(1)) == shape(arguments(2, subject="Other"))
    assert shape(arguments(1)) != shape(arguments(1, html=True))
    assert shape(arguments(1)) != shape(arguments(1, headers=test_headers))
