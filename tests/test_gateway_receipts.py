"""Vonage delivery receipts: authenticity checks and parsing (the reconciliation's input)."""

import hashlib
import json
from datetime import datetime
from urllib.parse import urlencode

import pytest
from vonage_http_client import Auth

from outbound_bulk_messaging.engine.errors import AccountError
from outbound_bulk_messaging.engine.gateways import GATEWAYS, WebhookRequest

VONAGE = GATEWAYS["vonage"]
URL = "https://odoo.example.com/outbound/sms/receipt/vonage/t0k3n"
RECEIPT = {
    "msisdn": "447911123456",
    "to": "ACME",
    "network-code": "23410",
    "messageId": "0A0000001234567B",
    "price": "0.03330000",
    "status": "delivered",
    "scts": "2611270905",
    "err-code": "0",
    "api-key": "test-key",
    "client-ref": "4242",
    "message-timestamp": "2026-11-27 09:05:11",
}
SIGNED_AT = 1795770311  # the signed receipts' timestamp
SIGNED = {"api_key": "test-key", "signature_secret": "sig-secret", "now": SIGNED_AT + 2}


def webhook(params):
    """Vonage's GET webhook: the receipt's fields in the query string."""
    return WebhookRequest(method="GET", url=f"{URL}?{urlencode(params)}", params=dict(params))


def json_webhook(fields):
    """Vonage's POST-JSON webhook: the receipt's fields in the body (``fields`` may be any JSON)."""
    body = fields if isinstance(fields, bytes) else json.dumps(fields).encode()
    return WebhookRequest(
        method="POST",
        url=URL,
        headers={"content-type": "application/json"},
        body=body,
        content_type="application/json",
    )


def signed(params, secret="sig-secret", method="sha256", timestamp=SIGNED_AT):
    params = dict(params, timestamp=str(timestamp))
    auth = Auth(api_key="test-key", signature_secret=secret, signature_method=method)
    return dict(params, sig=auth.sign_params(dict(params)))


def md5_hash_signed(params, secret="sig-secret"):
    """Signed by hand as the Vonage dashboard's default "MD5 hash" method describes."""
    params = dict(params, timestamp=str(SIGNED_AT))
    text = "".join(f"&{key}={params[key]}" for key in sorted(params)) + secret
    return dict(params, sig=hashlib.md5(text.encode()).hexdigest())


def test_unsigned_receipt_is_read():
    receipt = VONAGE.parse_receipt(webhook(RECEIPT), api_key="test-key")
    assert receipt.client_ref == "4242"
    assert receipt.provider_id == "0A0000001234567B"
    assert receipt.to == "447911123456"
    assert receipt.status == "delivered"
    assert receipt.error_code is None
    # scts, when the carrier reported the delivery, not message-timestamp (when Vonage pushed it).
    assert receipt.delivered_at == datetime(2026, 11, 27, 9, 5)


def test_receipt_for_another_account_is_refused():
    with pytest.raises(AccountError, match="another API key"):
        VONAGE.parse_receipt(webhook(RECEIPT), api_key="other-key")
    with pytest.raises(AccountError):
        VONAGE.parse_receipt(webhook(RECEIPT), api_key=None)


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
def test_signed_receipt_is_checked_with_the_sdk(method):
    params = signed(RECEIPT, method=method)
    receipt = VONAGE.parse_receipt(webhook(params), signature_method=method, **SIGNED)
    assert receipt.status == "delivered"


def test_md5_hash_signed_receipt_is_checked():
    params = md5_hash_signed(RECEIPT)

    receipt = VONAGE.parse_receipt(webhook(params), signature_method="md5hash", **SIGNED)

    assert receipt.client_ref == "4242"
    with pytest.raises(AccountError, match="signature"):
        VONAGE.parse_receipt(webhook(params), signature_method="md5", **SIGNED)
    with pytest.raises(AccountError, match="signature"):
        VONAGE.parse_receipt(
            webhook(md5_hash_signed(RECEIPT, secret="other")), signature_method="md5hash", **SIGNED
        )


@pytest.mark.parametrize(
    "change",
    [
        {"status": "failed"},  # tampered after signing
        {"sig": "0" * 64},
        {"sig": "é" * 64},  # hmac.compare_digest refuses non-ASCII text
        {"sig": None},
        {"timestamp": None},
    ],
)
def test_forged_or_unsigned_receipt_is_refused_when_a_secret_is_set(change):
    params = signed(RECEIPT)
    params.update(change)
    params = {key: value for key, value in params.items() if value is not None}
    with pytest.raises(AccountError, match="signature"):
        VONAGE.parse_receipt(webhook(params), signature_method="sha256", **SIGNED)


@pytest.mark.parametrize("offset", [-300, -240, 0, 240, 300])
def test_signed_receipt_within_five_minutes_is_accepted(offset):
    params = signed(RECEIPT)

    receipt = VONAGE.parse_receipt(
        webhook(params), signature_method="sha256", **dict(SIGNED, now=SIGNED_AT + offset)
    )

    assert receipt.status == "delivered"


@pytest.mark.parametrize("offset", [30 * 24 * 3600, 301, -301])
def test_signed_receipt_with_a_stale_or_future_timestamp_is_refused(offset):
    params = signed(RECEIPT)

    with pytest.raises(AccountError) as raised:
        VONAGE.parse_receipt(
            webhook(params), signature_method="sha256", **dict(SIGNED, now=SIGNED_AT + offset)
        )

    assert str(raised.value).startswith(
        "vonage: delivery receipt timestamp outside 5 minutes of now"
    )


def test_signed_receipt_is_checked_against_the_current_time_by_default():
    with pytest.raises(AccountError, match="timestamp outside"):  # SIGNED_AT is in 2026
        VONAGE.parse_receipt(
            webhook(signed(RECEIPT)),
            api_key="test-key",
            signature_secret="sig-secret",
            signature_method="sha256",
        )


def test_signed_receipt_with_a_non_numeric_timestamp_is_malformed():
    params = signed(RECEIPT, timestamp="yesterday")

    with pytest.raises(ValueError, match="timestamp 'yesterday' is not epoch seconds"):
        VONAGE.parse_receipt(webhook(params), signature_method="sha256", **SIGNED)


def test_failed_receipt_keeps_the_error_code():
    receipt = VONAGE.parse_receipt(
        webhook(dict(RECEIPT, status="failed", **{"err-code": "6"})), api_key="test-key"
    )
    assert (receipt.status, receipt.error_code) == ("undelivered", "6")


def test_unknown_status_and_scts_only():
    params = dict(RECEIPT, status="weird")
    del params["message-timestamp"]
    receipt = VONAGE.parse_receipt(webhook(params), api_key="test-key")
    assert receipt.status == "unknown"
    assert receipt.delivered_at == datetime(2026, 11, 27, 9, 5)


@pytest.mark.parametrize("scts", [None, "", "not a date"])
def test_message_timestamp_is_the_fallback_without_a_readable_scts(scts):
    params = dict(RECEIPT, scts=scts)
    params = {key: value for key, value in params.items() if value is not None}

    receipt = VONAGE.parse_receipt(webhook(params), api_key="test-key")

    assert receipt.delivered_at == datetime(2026, 11, 27, 9, 5, 11)


def test_receipt_without_reference_is_malformed():
    params = dict(RECEIPT)
    del params["client-ref"]
    with pytest.raises(ValueError, match="client-ref"):
        VONAGE.parse_receipt(webhook(params), api_key="test-key")


# ---- JSON BODY


def test_json_receipt_with_numbers_is_read_as_text():
    fields = dict(RECEIPT, **{"client-ref": 4242, "msisdn": 447911123456, "err-code": 0})

    receipt = VONAGE.parse_receipt(json_webhook(fields), api_key="test-key")

    assert (receipt.client_ref, receipt.to, receipt.provider_id) == (
        "4242",
        "447911123456",
        "0A0000001234567B",
    )
    assert all(isinstance(getattr(receipt, name), str) for name in ("client_ref", "to", "status"))
    assert receipt.error_code is None
    assert receipt.delivered_at == datetime(2026, 11, 27, 9, 5)


def test_signed_json_receipt_is_checked():
    fields = signed(RECEIPT)

    receipt = VONAGE.parse_receipt(json_webhook(fields), signature_method="sha256", **SIGNED)

    assert receipt.status == "delivered"
    with pytest.raises(AccountError, match="signature"):
        VONAGE.parse_receipt(
            json_webhook(dict(fields, status="failed")), signature_method="sha256", **SIGNED
        )


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("client-ref", [4242], "list"),
        ("messageId", {"id": "0A00"}, "dict"),
        ("status", True, "bool"),
    ],
)
def test_json_receipt_with_a_field_of_the_wrong_type_is_malformed(field, value, kind):
    fields = dict(RECEIPT, **{field: value})

    with pytest.raises(ValueError) as raised:
        VONAGE.parse_receipt(json_webhook(fields), api_key="test-key")

    assert str(raised.value) == (
        f"vonage: delivery receipt field {field!r} must be text or a number, not {kind}"
    )


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"\xff\xfe", b"[]", b"42", b'"delivered"', b"null", b"{"],
)
def test_json_receipt_that_is_not_an_object_is_malformed(body):
    with pytest.raises(ValueError, match="JSON body"):
        VONAGE.parse_receipt(json_webhook(body), api_key="test-key", signature_secret="s")
