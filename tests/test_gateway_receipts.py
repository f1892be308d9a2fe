"""Vonage delivery receipts: authenticity checks and parsing (the reconciliation's input)."""

from datetime import datetime

import pytest
from vonage_http_client import Auth

from outbound_bulk_messaging.engine.errors import AccountError
from outbound_bulk_messaging.engine.gateways import GATEWAYS

VONAGE = GATEWAYS["vonage"]
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


def signed(params, secret="sig-secret", method="sha256"):
    params = dict(params, timestamp="1795770311")
    auth = Auth(api_key="test-key", signature_secret=secret, signature_method=method)
    return dict(params, sig=auth.sign_params(dict(params)))


def test_unsigned_receipt_is_read():
    receipt = VONAGE.parse_receipt(RECEIPT, api_key="test-key")
    assert receipt.client_ref == "4242"
    assert receipt.provider_id == "0A0000001234567B"
    assert receipt.to == "447911123456"
    assert receipt.status == "delivered"
    assert receipt.error_code is None
    assert receipt.delivered_at == datetime(2026, 11, 27, 9, 5, 11)


def test_receipt_for_another_account_is_refused():
    with pytest.raises(AccountError, match="another API key"):
        VONAGE.parse_receipt(RECEIPT, api_key="other-key")
    with pytest.raises(AccountError):
        VONAGE.parse_receipt(RECEIPT, api_key=None)


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
def test_signed_receipt_is_checked_with_the_sdk(method):
    params = signed(RECEIPT, method=method)
    receipt = VONAGE.parse_receipt(
        params, api_key="test-key", signature_secret="sig-secret", signature_method=method
    )
    assert receipt.status == "delivered"


@pytest.mark.parametrize(
    "change",
    [
        {"status": "failed"},  # tampered after signing
        {"sig": "0" * 64},
        {"sig": None},
    ],
)
def test_forged_or_unsigned_receipt_is_refused_when_a_secret_is_set(change):
    params = signed(RECEIPT)
    params.update(change)
    params = {key: value for key, value in params.items() if value is not None}
    with pytest.raises(AccountError, match="signature"):
        VONAGE.parse_receipt(
            params, api_key="test-key", signature_secret="sig-secret", signature_method="sha256"
        )


def test_failed_receipt_keeps_the_error_code():
    receipt = VONAGE.parse_receipt(
        dict(RECEIPT, status="failed", **{"err-code": "6"}), api_key="test-key"
    )
    assert (receipt.status, receipt.error_code) == ("failed", "6")


def test_unknown_status_and_scts_only():
    params = dict(RECEIPT, status="weird")
    del params["message-timestamp"]
    receipt = VONAGE.parse_receipt(params, api_key="test-key")
    assert receipt.status == "unknown"
    assert receipt.delivered_at == datetime(2026, 11, 27, 9, 5)


def test_receipt_without_reference_is_malformed():
    params = dict(RECEIPT)
    del params["client-ref"]
    with pytest.raises(ValueError, match="client-ref"):
        VONAGE.parse_receipt(params, api_key="test-key")
