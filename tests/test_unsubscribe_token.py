"""The one-click unsubscribe token and header values, without Odoo."""

import hashlib
import hmac

import pytest

from outbound_bulk_messaging.engine import email_body, unsubscribe
from outbound_bulk_messaging.engine.html_text import html_to_text
from outbound_bulk_messaging.engine.render import compile_template, make_context
from outbound_bulk_messaging.engine.unsubscribe import (
    InvalidToken,
    MalformedToken,
    list_id,
    list_unsubscribe,
    mailto_token,
    mailto_uri,
    make_token,
    read_token,
)


def signer(secret):
    def sign(message_id):
        message = repr((unsubscribe.SCOPE, message_id)).encode()
        return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

    return sign


SIGN = signer("database-secret")


def test_token_round_trip():
    token = make_token(42, SIGN)
    assert token == f"42-{SIGN(42)}"
    assert len(token) == 3 + 64
    assert read_token(token, SIGN) == 42


def test_token_of_another_secret_is_refused():
    with pytest.raises(InvalidToken, match="bad signature for message 42"):
        read_token(make_token(42, signer("another-database")), SIGN)


def test_signature_moved_to_another_id_is_refused():
    signature = make_token(42, SIGN).split("-")[1]
    with pytest.raises(InvalidToken, match="message 43"):
        read_token(f"43-{signature}", SIGN)


@pytest.mark.parametrize("position", [0, 10, 63])
def test_any_changed_character_is_refused(position):
    token = make_token(7, SIGN)
    prefix = len("7-")
    chars = list(token)
    chars[prefix + position] = "0" if chars[prefix + position] != "0" else "1"
    with pytest.raises(InvalidToken) as raised:
        read_token("".join(chars), SIGN)
    assert not isinstance(raised.value, MalformedToken)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "42",
        "42-",
        "-" + "a" * 64,
        "0-" + "a" * 64,
        "042-" + "a" * 64,
        "42-" + "A" * 64,
        "42-" + "g" * 64,
        "42-" + "a" * 31,
        "42-" + "a" * 200,
        "99999999999-" + "a" * 64,
        "42-" + "a" * 64 + "\n",
        " 42-" + "a" * 64,
        "42_" + "a" * 64,
        None,
        42,
    ],
)
def test_malformed_tokens_are_refused_before_signing(token):
    def sign(_message_id):
        raise AssertionError("a malformed token must not reach the signature")

    with pytest.raises(MalformedToken):
        read_token(token, sign)


@pytest.mark.parametrize("message_id", [0, -1, 2**31, "42", None, 4.2])
def test_make_token_refuses_what_is_not_a_message_id(message_id):
    with pytest.raises(ValueError):
        make_token(message_id, SIGN)


def test_signatures_are_compared_in_constant_time(monkeypatch):
    compared = []

    def compare_digest(a, b):
        compared.append((a, b))
        return False

    monkeypatch.setattr(unsubscribe.hmac, "compare_digest", compare_digest)
    token = make_token(5, SIGN)
    with pytest.raises(InvalidToken):
        read_token(token, SIGN)
    assert compared == [(SIGN(5), SIGN(5))]


def test_one_click_body():
    assert unsubscribe.is_one_click({"List-Unsubscribe": "One-Click"})
    assert not unsubscribe.is_one_click({"List-Unsubscribe": "one-click "})
    assert not unsubscribe.is_one_click({})


def test_list_unsubscribe_https_first_then_mailto():
    url = "https://crm.example/outbound/unsubscribe/1-ab"
    assert list_unsubscribe(url) == f"<{url}>"
    mailto = mailto_uri("catchall@acme.example", "1-ab")
    assert mailto == "mailto:catchall@acme.example?subject=unsubscribe%201-ab"
    assert list_unsubscribe(url, mailto) == f"<{url}>, <{mailto}>"


@pytest.mark.parametrize(
    ("subject", "token"),
    [
        ("unsubscribe 1-ab", "1-ab"),
        ("  Unsubscribe   1-ab ", "1-ab"),
        ("unsubscribe", None),
        ("Re: unsubscribe 1-ab", None),
        ("unsubscribe 1-ab please", None),
        (None, None),
    ],
)
def test_mailto_token(subject, token):
    assert mailto_token(subject) == token


def test_list_id_is_stable_and_header_safe():
    assert list_id("Renewals", "campaign-7", "acme.example") == (
        '"Renewals" <campaign-7.acme.example>'
    )
    assert list_id('Q"4\r\n\\', "campaign-7", "Acme.Example") == '"Q 4" <campaign-7.acme.example>'
    assert list_id("", "campaign-7", None) == "<campaign-7.localhost>"
    odd = list_id("x", "campaign 7", "bad domain!.example")
    assert odd == '"x" <campaign-7.bad-domain.example>'


def test_unsubscribe_url_is_a_known_placeholder_empty_by_default():
    compiled = compile_template("Leave: $UNSUBSCRIBE_URL", columns=[])
    assert compiled.render(make_context({"name": "Ann"})) == "Leave: "
    url = "https://crm.example/outbound/unsubscribe/1-ab"
    context = dict(make_context({"name": "Ann"}), UNSUBSCRIBE_URL=url)
    assert compiled.render(context) == f"Leave: {url}"
    assert "UNSUBSCRIBE_URL" in compiled.variables


def test_html_document_is_complete_and_escapes_the_title():
    document = email_body.html_document("<p>Hi</p>", "Fish & <chips>", "en-GB")
    head = '<!DOCTYPE html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">'
    assert document.startswith(head)
    assert "<title>Fish &amp; &lt;chips&gt;</title>" in document
    assert document.endswith("<body>\n<p>Hi</p>\n</body>\n</html>\n")
    assert html_to_text(document) == "Hi"


def test_a_template_written_as_a_document_is_kept():
    own = "<html><head><title>Own</title></head><body><p>Hi</p></body></html>"
    assert email_body.html_document(own, "Subject") == own


def test_footer_goes_before_the_end_of_the_body():
    footer = email_body.footer_html("Unsubscribe", "https://x.example/u?a=1&b=2")
    assert footer.endswith('<a href="https://x.example/u?a=1&amp;b=2">Unsubscribe</a></p>')
    own = "<html><body><p>Hi</p></BODY></html>"
    assert email_body.append_html(own, footer) == f"<html><body><p>Hi</p>{footer}\n</BODY></html>"
    assert email_body.append_html("<p>Hi</p>", footer) == f"<p>Hi</p>\n{footer}"
