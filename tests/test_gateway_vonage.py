"""The Vonage gateway, through the real vonage SDK, over HTTPS to the local FakeVonage."""

import hashlib
import json
import select
import signal
import subprocess
import sys
import time

import pytest

from outbound_bulk_messaging.engine import errors
from outbound_bulk_messaging.engine.gateways import GATEWAYS, get_gateway
from outbound_bulk_messaging.engine.gateways.base import SmsRequest
from outbound_bulk_messaging.engine.gateways.vonage import (
    SIGNATURE_METHODS,
    STATUS_ERRORS,
    VonageGateway,
    md5_hash_signature,
)
from outbound_bulk_messaging.tests import fakes
from outbound_bulk_messaging.tests.fakes import FakeVonage, free_port, make_tls_files

TO = "+447700900000"
LONG_TEXT = "x" * 200  # two segments of GSM text
RECEIPT_URL = "https://odoo.example.com/outbound/sms/receipt/vonage/t0k3n"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def fake(tls_files):
    with FakeVonage(tls_files=tls_files) as server:
        yield server
    assert server.errors == []


def connect(fake, **config):
    config = {
        "api_key": "test-key",
        "api_secret": "test-secret",
        "rest_host": fake.rest_host,
        "timeout": 1,
        "ca_bundle": fake.ca_file,
        **config,
    }
    return get_gateway("vonage", **config)


@pytest.fixture
def gateway(fake):
    with connect(fake) as gateway:
        yield gateway


def sms(ref="1001", to=TO, text="Your balance is due", unicode=False, status_callback=None):
    return SmsRequest(
        to=to,
        sender="Acme",
        text=text,
        client_ref=ref,
        unicode=unicode,
        status_callback=status_callback,
    )


def send_error(gateway, request):
    with pytest.raises(errors.GatewayError) as raised:
        gateway.send(request)
    return raised.value


# ---- SUCCESS


def test_send_returns_the_provider_result_in_one_request(fake, gateway):
    result = gateway.send(sms(ref="1001"))

    assert result.provider_id.startswith("FAKE")
    assert (result.parts, result.price, result.network) == (1, 0.0333, "23410")
    assert result.remaining_balance == pytest.approx(10 - 0.0333)
    assert result.raw["messages"][0]["client-ref"] == "1001"
    [received] = fake.requests
    assert received["auth"] == "basic"
    assert received["form"] == {
        "to": "447700900000",
        "from": "Acme",
        "text": "Your balance is due",
        "client-ref": "1001",
        "type": "text",
    }


def test_unicode_text_is_sent_as_type_unicode(fake, gateway):
    gateway.send(sms(text="Zaległość: 12 zł", unicode=True))

    assert fake.requests[0]["form"]["type"] == "unicode"
    assert fake.requests[0]["form"]["text"] == "Zaległość: 12 zł"


def test_status_callback_asks_for_a_receipt_at_that_url(fake, gateway):
    gateway.send(sms(ref="1002", status_callback=RECEIPT_URL))

    [received] = fake.requests
    assert received["form"] == {
        "to": "447700900000",
        "from": "Acme",
        "text": "Your balance is due",
        "client-ref": "1002",
        "type": "text",
        "callback": RECEIPT_URL,
        "status-report-req": "1",
    }


def test_too_long_status_callback_is_an_account_error_before_sending(fake, gateway):
    url = RECEIPT_URL + "/" + "x" * 100

    error = send_error(gateway, sms(status_callback=url))

    assert (type(error), error.sent) == (errors.AccountError, False)
    assert str(error) == (f"vonage: the delivery receipt URL is longer than 100 characters: {url}")
    assert fake.requests == []


def test_multi_part_message_sums_prices_and_joins_ids(fake, gateway):
    result = gateway.send(sms(text=LONG_TEXT))

    assert result.parts == 2
    assert result.price == pytest.approx(2 * 0.0333)
    assert result.provider_id.split(",") == [m["message-id"] for m in result.raw["messages"]]
    assert len(fake.requests) == 1


def test_thirty_sends_reuse_one_tls_connection(fake, gateway):
    results = [gateway.send(sms(ref=str(ref))) for ref in range(30)]

    assert len({result.provider_id for result in results}) == 30
    assert fake.connections == 1
    assert fake.count_by_client_ref() == {str(ref): 1 for ref in range(30)}


def test_per_number_override_fails_only_that_message(tls_files):
    numbers = {"+447700900001": "invalid"}
    with FakeVonage(tls_files=tls_files, numbers=numbers) as fake, connect(fake) as gateway:
        gateway.send(sms(ref="1"))
        error = send_error(gateway, sms(ref="2", to="+447700900001"))
        gateway.send(sms(ref="3"))

    assert isinstance(error, errors.RecipientError)
    assert len(fake.requests) == 3


def test_signature_auth_sends_a_signature_the_fake_verifies(tls_files):
    with (
        FakeVonage(tls_files=tls_files, signature_secret="sig-secret") as fake,
        # False, as Odoo gives an empty field.
        connect(fake, api_secret=False, signature_secret="sig-secret") as gateway,
    ):
        result = gateway.send(sms(text="Pay now & save = 10%"))

    [received] = fake.requests
    assert result.parts == 1
    assert received["auth"] == "signature"
    assert {"sig", "timestamp"} <= set(received["form"])
    assert "api_secret" not in received["form"]


def test_wrong_signature_secret_is_an_account_error(tls_files):
    with (
        FakeVonage(tls_files=tls_files, signature_secret="sig-secret") as fake,
        connect(fake, api_secret=None, signature_secret="other") as gateway,
    ):
        error = send_error(gateway, sms())

    assert isinstance(error, errors.AccountError)
    assert (error.code, error.sent) == (14, False)
    assert str(error) == "vonage: status 14: Invalid Signature"


@pytest.mark.parametrize("method", [code for code, _label in SIGNATURE_METHODS])
def test_every_signature_method_signs_what_the_fake_verifies(tls_files, method):
    with (
        FakeVonage(
            tls_files=tls_files, signature_secret="sig-secret", signature_method=method
        ) as fake,
        connect(
            fake, api_secret=None, signature_secret="sig-secret", signature_method=method
        ) as gateway,
    ):
        result = gateway.send(sms(text="Pay now & save = 10%", status_callback=RECEIPT_URL))

    [received] = fake.requests
    assert result.parts == 1
    assert received["auth"] == "signature"
    # The fake checks the signature over every field, the receipt request's included.
    assert (received["form"]["callback"], received["form"]["status-report-req"]) == (
        RECEIPT_URL,
        "1",
    )


def test_md5_hash_signature_is_not_an_hmac(tls_files):
    with (
        FakeVonage(
            tls_files=tls_files, signature_secret="sig-secret", signature_method="md5"
        ) as fake,
        connect(
            fake, api_secret=None, signature_secret="sig-secret", signature_method="md5hash"
        ) as gateway,
    ):
        error = send_error(gateway, sms())

    assert (type(error), error.code) == (errors.AccountError, 14)


def test_md5_hash_signature_matches_a_hand_computed_vector():
    # The vector of vonage-python 3.x's test_signature (its md5hash mode), then the replacements.
    assert (
        md5_hash_signature({"a": "1", "b": "2", "timestamp": "1461605396"}, "secret")
        == "6af838ef94998832dbfc29020b564830"
    )
    params = {"text": "Pay & save = 10%", "timestamp": 1461605396}
    expected = hashlib.md5(b"&text=Pay _ save _ 10%&timestamp=1461605396secret").hexdigest()
    assert md5_hash_signature(params, "secret") == expected == "bb4f35f86251679234f552ba2e4ff55f"


# ---- PROVIDER STATUSES


@pytest.mark.parametrize(
    ("mode", "error_class", "code", "text"),
    [
        ("throttled", errors.ThrottledError, 1, "Throughput Rate Exceeded"),
        ("invalid", errors.RecipientError, 3, "Invalid to number"),
        ("barred", errors.RecipientError, 7, "Number barred."),
        ("quota", errors.AccountError, 9, "Quota Exceeded - rejected"),
        ("bad_credentials", errors.AccountError, 4, "Bad Credentials"),
    ],
)
def test_status_maps_to_error_class(fake, gateway, mode, error_class, code, text):
    fake.mode = mode

    error = send_error(gateway, sms())

    assert type(error) is error_class
    assert (error.code, error.sent) == (code, False)
    assert str(error).startswith(f"vonage: status {code}: {text}")


def test_wrong_api_secret_gets_status_4(fake):
    with connect(fake, api_secret="wrong") as gateway:
        error = send_error(gateway, sms())

    assert isinstance(error, errors.AccountError)
    assert error.scope == errors.JOB
    assert str(error) == "vonage: status 4: Bad Credentials"


def test_partial_failure_is_rejected_but_never_resent(fake, gateway):
    fake.mode = "partial"

    error = send_error(gateway, sms(text=LONG_TEXT))

    assert isinstance(error, errors.MessageRejectedError)
    assert error.sent is None
    assert str(error) == (
        "vonage: only 1 of 2 parts accepted: status 1: "
        "Throughput Rate Exceeded - please wait [ 30 ] and retry"
    )


@pytest.mark.parametrize(
    ("status", "error_class", "sent"),
    [
        (status, error_class, None if status == "5" else False)
        for status, error_class in STATUS_ERRORS.items()
    ]
    + [("99", errors.MessageRejectedError, False)],
)
def test_every_documented_status_has_a_class(status, error_class, sent):
    body = {"message-count": "1", "messages": [{"status": status, "error-text": "Text"}]}

    error = VonageGateway._status_error(body)

    assert (type(error), error.code, error.sent) == (error_class, int(status), sent)
    assert f"status {status}: Text" in str(error)


def test_all_parts_failed_maps_like_a_single_part():
    failed = {"status": "7", "error-text": "Number barred."}
    body = {"message-count": "2", "messages": [failed, failed]}

    error = VonageGateway._status_error(body)

    assert isinstance(error, errors.RecipientError)
    assert error.sent is False


# ---- HTTP STATUSES


def test_http_401_is_an_account_error_with_the_body(fake, gateway, caplog):
    fake.mode = "http401"

    error = send_error(gateway, sms())

    assert isinstance(error, errors.AccountError)
    assert (error.code, error.sent) == (401, False)
    assert f"vonage: HTTP 401 from {fake.rest_host}" in str(error)
    assert "You did not provide correct credentials." in str(error)
    # The SDK warns on its own logger: callers that expect the error mute "vonage".
    assert [r.levelname for r in caplog.records if r.name == "vonage"] == ["WARNING"]


def test_bad_credentials_can_be_refused_with_http_401(tls_files):
    with (
        FakeVonage(tls_files=tls_files, reject_with_401=True) as fake,
        connect(fake, api_secret="wrong") as gateway,
    ):
        error = send_error(gateway, sms())

    assert isinstance(error, errors.AccountError)
    assert error.code == 401


def test_http_429_is_throttled_with_retry_after(fake, gateway):
    fake.mode = "http429"

    error = send_error(gateway, sms())

    assert isinstance(error, errors.ThrottledError)
    assert (error.code, error.sent, error.retry_after) == (429, False, 2)
    assert error.scope == errors.RETRY


@pytest.mark.parametrize(("mode", "code"), [("http500", 500), ("http503", 503)])
def test_server_errors_leave_the_outcome_unknown(fake, gateway, mode, code):
    fake.mode = mode

    error = send_error(gateway, sms())

    assert isinstance(error, errors.ProviderUnavailableError)
    assert (error.code, error.sent) == (code, None)
    assert len(fake.requests) == 1


def test_invalid_json_leaves_the_outcome_unknown(fake, gateway):
    fake.mode = "invalid_json"

    error = send_error(gateway, sms(ref="77"))

    assert isinstance(error, errors.OutcomeUnknownError)
    assert error.sent is None
    assert "Bad Gateway" in str(error)
    assert "message 77" in str(error)


@pytest.mark.parametrize(
    "answer",
    [
        {"message-count": "1", "messages": []},
        {"message-count": "2", "messages": []},
        {"message-count": "0", "messages": []},
        {"message-count": "1"},
        {"message-count": "1", "messages": "0"},
        {"message-count": "1", "messages": {"0": {"status": "0"}}},
        {"message-count": "1", "messages": ["0"]},
        {"message-count": "2", "messages": [{"status": "0", "message-id": "A"}, "0"]},
        {"message-count": "2", "messages": [{"status": "4", "error-text": "Bad"}, None]},
        {"message-count": "1", "messages": [{"status": 4}]},
        # vonage_sms's SmsResponse refuses it: the id would be lost.
        {"message-count": "1", "messages": [{"status": "0", "message-id": 1234}]},
        [],
        "ok",
        None,
    ],
)
def test_answer_without_readable_parts_leaves_the_outcome_unknown(fake, gateway, answer):
    fake.mode, fake.raw_answer = "raw", answer

    error = send_error(gateway, sms(ref="88"))

    assert type(error) is errors.OutcomeUnknownError
    assert error.sent is None
    assert str(error).startswith(f"vonage: unexpected answer from {fake.rest_host}: ")
    assert str(error).endswith("the outcome of message 88 is unknown")
    assert fake.count_by_client_ref() == {"88": 1}


# ---- TRANSPORT


def test_timeout_is_outcome_unknown_and_quick(fake, gateway):
    fake.mode = "timeout"
    started = time.monotonic()

    error = send_error(gateway, sms(ref="5150"))

    assert time.monotonic() - started < 2
    assert isinstance(error, errors.OutcomeUnknownError)
    assert error.sent is None
    assert str(error) == (
        f"vonage: no answer within 1 s from {fake.rest_host}; "
        "the outcome of message 5150 is unknown"
    )
    assert fake.count_by_client_ref() == {"5150": 1}


def test_connection_dropped_after_the_request_is_sent_once(fake, gateway):
    fake.mode = "drop"

    error = send_error(gateway, sms(ref="6001"))

    assert isinstance(error, errors.OutcomeUnknownError)
    assert error.sent is None
    assert "RemoteDisconnected" in str(error)
    assert "the outcome of message 6001 is unknown" in str(error)
    # The SDK alone would have sent it again up to pool_maxsize (10) times.
    assert fake.count_by_client_ref() == {"6001": 1}


def test_next_send_after_a_drop_opens_a_new_connection(fake, gateway):
    fake.mode = "drop"
    send_error(gateway, sms(ref="1"))
    fake.mode = "ok"

    gateway.send(sms(ref="2"))

    assert fake.connections == 2


def test_connection_refused_is_not_sent():
    host = f"127.0.0.1:{free_port()}"
    with VonageGateway("test-key", "test-secret", rest_host=host, timeout=1) as gateway:
        error = send_error(gateway, sms())

    assert isinstance(error, errors.ProviderUnavailableError)
    assert error.sent is False
    assert str(error) == f"vonage: cannot connect to {host}: Connection refused"


def test_untrusted_certificate_is_not_sent(fake):
    with connect(fake, ca_bundle=None) as gateway:
        error = send_error(gateway, sms())

    assert isinstance(error, errors.ProviderUnavailableError)
    assert error.sent is False
    assert f"vonage: TLS certificate of {fake.rest_host} not trusted" in str(error)
    assert fake.requests == []


def test_too_long_client_ref_is_rejected_before_sending(fake, gateway):
    error = send_error(gateway, sms(ref="9" * 101))

    assert isinstance(error, errors.MessageRejectedError)
    assert error.sent is False
    assert fake.requests == []


# ---- CONFIGURATION


def test_registry_builds_the_vonage_gateway(fake):
    assert GATEWAYS["vonage"] is VonageGateway
    with connect(fake) as gateway:
        assert isinstance(gateway, VonageGateway)


def test_unknown_provider_is_an_account_error():
    known = ", ".join(sorted(GATEWAYS))
    with pytest.raises(errors.AccountError) as raised:
        get_gateway("acme")

    assert str(raised.value) == f"unknown SMS provider 'acme' (known: {known})"
    assert "vonage" in GATEWAYS


def test_missing_configuration_lists_every_problem(tmp_path):
    with pytest.raises(errors.AccountError) as raised:
        get_gateway(
            "vonage",
            rest_host="https://rest.nexmo.com",
            timeout=0,
            ca_bundle=str(tmp_path / "none.pem"),
        )

    assert str(raised.value) == (
        "vonage: invalid configuration: the API key is missing; "
        "the API secret (or the signature secret) is missing; "
        "the timeout must be whole seconds >= 1; "
        "the REST host must be a host name with an optional port, e.g. rest.nexmo.com; "
        f"the CA bundle {tmp_path / 'none.pem'} does not exist"
    )


def test_valid_configuration_has_no_problems():
    config = {
        "api_key": "k",
        "signature_secret": "s",
        "signature_method": "sha256",
        "rest_host": "127.0.0.1:8443",
    }

    assert VonageGateway.describe_config_errors(config) == []
    assert VonageGateway.describe_config_errors({**config, "signature_method": "md5hash"}) == []
    assert VonageGateway.describe_config_errors({**config, "signature_method": "crc32"}) == [
        "the signature method must be one of md5hash, md5, sha1, sha256, sha512"
    ]


def test_adapter_declares_its_settings_and_signature_methods():
    assert VonageGateway.label == "Vonage"
    assert VonageGateway.settings == (
        "api_key",
        "api_secret",
        "signature_secret",
        "signature_method",
        "rest_host",
        "timeout",
        "ca_bundle",
    )
    assert VonageGateway.default_rest_host == "rest.nexmo.com"
    assert VonageGateway.status_errors is STATUS_ERRORS
    assert VonageGateway.signature_methods is SIGNATURE_METHODS
    assert SIGNATURE_METHODS == (
        ("md5hash", "MD5 hash"),
        ("md5", "HMAC-MD5"),
        ("sha1", "HMAC-SHA1"),
        ("sha256", "HMAC-SHA256"),
        ("sha512", "HMAC-SHA512"),
    )


# ---- FAKE AS A PROCESS


def test_fake_vonage_process_logs_requests_and_stops_on_sigterm(tmp_path):
    cert, key, ca = make_tls_files(tmp_path)
    jsonl = tmp_path / "sms.jsonl"
    command = [
        sys.executable,
        fakes.__file__,
        "vonage",
        "--port",
        "0",
        "--cert",
        cert,
        "--key",
        key,
    ]
    with subprocess.Popen(
        [*command, "--jsonl", str(jsonl)], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert select.select([process.stdout], [], [], 10)[0], "the fake did not start"
            rest_host = process.stdout.readline().split()[-1]
            with VonageGateway(
                "test-key", "test-secret", rest_host=rest_host, ca_bundle=ca
            ) as sms_gateway:
                sms_gateway.send(sms(ref="4242", status_callback=RECEIPT_URL))
            [line] = jsonl.read_text().splitlines()
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=5)

    assert returncode == 0
    record = json.loads(line)
    assert (record["client_ref"], record["to"], record["auth"]) == ("4242", "447700900000", "basic")
    assert (record["callback"], record["status_report_req"]) == (RECEIPT_URL, "1")


# ---- PRICES (Account API, through vonage_account)


def test_country_prices_one_request_per_country(fake, gateway):
    prices = gateway.country_prices(["GB", "FR", "DE"])
    assert prices == {"GB": (0.0333, "EUR"), "FR": (0.0745, "EUR")}  # no price for DE
    assert [(r["path"], r["form"], r["auth"]) for r in fake.requests] == [
        ("/account/get-pricing/outbound/sms", {"country": code}, "basic")
        for code in ("GB", "FR", "DE")
    ]


def test_all_country_prices_in_one_request(fake, gateway):
    assert gateway.country_prices() == {
        "FR": (0.0745, "EUR"),
        "GB": (0.0333, "EUR"),
        "US": (0.0081, "EUR"),
    }
    assert [r["path"] for r in fake.requests] == ["/account/get-full-pricing/outbound/sms"]


def test_country_prices_with_bad_credentials(fake):
    with (
        connect(fake, api_secret="wrong") as gateway,
        pytest.raises(errors.AccountError, match="401"),
    ):
        gateway.country_prices(["GB"])
