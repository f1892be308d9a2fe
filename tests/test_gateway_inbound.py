"""Inbound SMS webhooks of both providers: authenticity checks and parsing."""

import json
from datetime import datetime
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator
from vonage_http_client import Auth

from outbound_bulk_messaging.engine.errors import AccountError
from outbound_bulk_messaging.engine.gateways import GATEWAYS, InboundSms, WebhookRequest
from outbound_bulk_messaging.engine.gateways.base import SmsGateway
from outbound_bulk_messaging.tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN

VONAGE, TWILIO = GATEWAYS["vonage"], GATEWAYS["twilio"]
URL = "https://odoo.example.com/outbound/sms/vonage/inbound/t0k3n"
TWILIO_URL = "https://odoo.example.com/outbound/sms/twilio/inbound/t0k3n"
INBOUND = {
    "msisdn": "447911123456",
    "to": "447700900999",
    "messageId": "0A0000001234567C",
    "text": "Stop!",
    "type": "text",
    "keyword": "STOP!",
    "message-timestamp": "2026-11-27 09:05:11",
}
SIGNED_AT = 1795770311
SIGNED = {"api_key": "test-key", "signature_secret": "sig-secret", "now": SIGNED_AT + 2}
MESSAGE_SID = "SM" + "c" * 32


def webhook(params):
    return WebhookRequest(method="GET", url=f"{URL}?{urlencode(params)}", params=dict(params))


def json_webhook(fields):
    body = fields if isinstance(fields, bytes) else json.dumps(fields).encode()
    return WebhookRequest(method="POST", url=URL, body=body, content_type="application/json")


def signed(params, method="sha256", timestamp=SIGNED_AT, secret="sig-secret"):
    params = dict(params, **{"api-key": "test-key", "timestamp": str(timestamp)})
    params["nonce"] = "5c3f4ad3-16f4-4b6b-b8a3-8bd6d5f8e2d3"
    auth = Auth(api_key="test-key", signature_secret=secret, signature_method=method)
    return dict(params, sig=auth.sign_params(dict(params)))


# ---- VONAGE


def test_vonage_unsigned_inbound_is_read():
    sms = VONAGE.parse_inbound(webhook(INBOUND), api_key="test-key")
    assert sms == InboundSms(
        provider_id="0A0000001234567C",
        sender="+447911123456",
        to="447700900999",
        text="Stop!",
        received_at=datetime(2026, 11, 27, 9, 5, 11),
        keyword="STOP!",
    )


def test_vonage_post_form_and_json_are_read():
    form = WebhookRequest(method="POST", url=URL, params=dict(INBOUND))
    assert VONAGE.parse_inbound(form, api_key="test-key").sender == "+447911123456"
    sms = VONAGE.parse_inbound(json_webhook(dict(INBOUND, msisdn=447911123456)), api_key="k")
    assert sms.sender == "+447911123456"


def test_vonage_keyword_defaults_to_the_first_word():
    params = {key: value for key, value in INBOUND.items() if key != "keyword"}
    params["text"] = "call me later"
    assert VONAGE.parse_inbound(webhook(params), api_key="k").keyword == "CALL"


def test_vonage_unsigned_with_another_api_key_is_refused():
    with pytest.raises(AccountError, match="another API key"):
        VONAGE.parse_inbound(webhook(dict(INBOUND, **{"api-key": "other"})), api_key="test-key")
    ok = VONAGE.parse_inbound(webhook(dict(INBOUND, **{"api-key": "test-key"})), api_key="test-key")
    assert ok.provider_id == INBOUND["messageId"]


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
def test_vonage_signed_inbound_is_read(method):
    sms = VONAGE.parse_inbound(webhook(signed(INBOUND, method)), signature_method=method, **SIGNED)
    assert sms.text == "Stop!"


@pytest.mark.parametrize(
    "params, match",
    [
        (INBOUND, "another API key"),  # unsigned, so no api-key either
        (dict(INBOUND, **{"api-key": "test-key"}), "missing or wrong signature"),
        (dict(signed(INBOUND), text="START"), "missing or wrong signature"),
        (signed(INBOUND, secret="other-secret"), "missing or wrong signature"),
        (signed(INBOUND, timestamp=SIGNED_AT - 3600), "outside 5 minutes"),
        (signed(INBOUND, timestamp=SIGNED_AT + 3600), "outside 5 minutes"),
        (dict(signed(INBOUND), **{"api-key": "other"}), "another API key"),
    ],
)
def test_vonage_forged_or_stale_inbound_is_refused(params, match):
    with pytest.raises(AccountError, match=match):
        VONAGE.parse_inbound(webhook(params), signature_method="sha256", **SIGNED)


@pytest.mark.parametrize("missing", ["msisdn", "to", "messageId", "text"])
def test_vonage_inbound_without_a_field_is_malformed(missing):
    params = {key: value for key, value in INBOUND.items() if key != missing}
    with pytest.raises(ValueError, match=missing):
        VONAGE.parse_inbound(webhook(params), api_key="k")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1]",
        json.dumps(dict(INBOUND, text=["a"])).encode(),
        json.dumps(dict(INBOUND, msisdn={"n": 1})).encode(),
        json.dumps(dict(INBOUND, text=True)).encode(),
        json.dumps(dict(INBOUND, msisdn="ACME")).encode(),
        json.dumps(dict(INBOUND, msisdn="+0123")).encode(),
        json.dumps(dict(INBOUND, type="binary", text=None, data="00ff")).encode(),
        json.dumps(dict(INBOUND, concat="true", **{"concat-part": 3, "concat-total": 2})).encode(),
    ],
)
def test_vonage_malformed_inbound_is_refused(body):
    with pytest.raises(ValueError):
        VONAGE.parse_inbound(json_webhook(body), api_key="k")


def test_vonage_parts_of_a_long_text_are_read_one_by_one():
    params = dict(INBOUND, concat="true", **{"concat-ref": "7", "concat-part": "2"})
    params["concat-total"] = "3"
    sms = VONAGE.parse_inbound(webhook(params), api_key="k")
    assert (sms.part, sms.parts) == (2, 3)


# ---- TWILIO


def twilio_webhook(form=None, url=TWILIO_URL, token=AUTH_TOKEN, **changes):
    form = dict(
        form
        or {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "Body": " stop. ",
            "From": "+447911123456",
            "MessageSid": MESSAGE_SID,
            "NumMedia": "0",
            "SmsSid": MESSAGE_SID,
            "To": "+447700900999",
        },
        **changes,
    )
    signature = RequestValidator(token).compute_signature(url, form)
    content_type = "application/x-www-form-urlencoded"
    return WebhookRequest(
        method="POST",
        url=url,
        headers={"x-twilio-signature": signature, "content-type": content_type},
        params=form,
        body=urlencode(form).encode(),
        content_type=content_type,
    )


CONFIG = {"api_key": ACCOUNT_SID, "api_secret": AUTH_TOKEN}


def test_twilio_inbound_is_read():
    sms = TWILIO.parse_inbound(twilio_webhook(), **CONFIG)
    assert sms == InboundSms(
        provider_id=MESSAGE_SID,
        sender="+447911123456",
        to="+447700900999",
        text=" stop. ",
        received_at=None,
        keyword="STOP.",
    )


def test_twilio_forged_inbound_is_refused():
    hook = twilio_webhook()
    tampered = WebhookRequest(**dict(hook.__dict__, body=hook.body.replace(b"stop", b"start")))
    unsigned = WebhookRequest(**dict(hook.__dict__, headers={}))
    for forged, match in [
        (twilio_webhook(token="other-token"), "wrong signature"),
        (tampered, "wrong signature"),
        (unsigned, "without a signature"),
        (twilio_webhook(AccountSid="AC" + "9" * 32), "another account"),
    ]:
        with pytest.raises(AccountError, match=match):
            TWILIO.parse_inbound(forged, **CONFIG)
    with pytest.raises(AccountError, match="no Auth Token"):
        TWILIO.parse_inbound(hook, api_key=ACCOUNT_SID, api_secret=None)


@pytest.mark.parametrize(
    "changes",
    [
        {"From": ""},
        {"MessageSid": ""},
        {"MessageSid": "not-a-sid"},
        {"From": "ACME"},
        {"To": ""},
    ],
)
def test_twilio_malformed_inbound_is_refused(changes):
    with pytest.raises(ValueError):
        TWILIO.parse_inbound(twilio_webhook(**changes), **CONFIG)


def test_twilio_inbound_without_a_body_is_refused():
    form = dict(twilio_webhook().params)
    del form["Body"]
    with pytest.raises(ValueError, match="Body"):
        TWILIO.parse_inbound(twilio_webhook(form), **CONFIG)


def test_twilio_answer_sends_nothing_back():
    body, content_type = TWILIO.inbound_answer()
    assert content_type == "text/xml"
    assert "<Response></Response>" in body


def test_base_adapter_reads_no_inbound():
    with pytest.raises(NotImplementedError):
        SmsGateway.parse_inbound(webhook(INBOUND))
