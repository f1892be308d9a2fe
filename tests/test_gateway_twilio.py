"""The Twilio gateway, through the real twilio SDK, over HTTPS to the local FakeTwilio."""

import dataclasses
import json
import logging
import select
import signal
import subprocess
import sys
import time

import pytest
from twilio.http.response import Response

from outbound_bulk_messaging.engine import errors
from outbound_bulk_messaging.engine.gateways import (
    GATEWAYS,
    gateway_config,
    get_gateway,
    twilio as twilio_module,
)
from outbound_bulk_messaging.engine.gateways.base import DELIVERY_STATES, SmsRequest, WebhookRequest
from outbound_bulk_messaging.engine.gateways.twilio import (
    DELIVERY_STATUSES,
    ERROR_CODES,
    TwilioGateway,
)
from outbound_bulk_messaging.tests import fake_twilio, fakes
from outbound_bulk_messaging.tests.fake_common import free_port, make_tls_files
from outbound_bulk_messaging.tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

TO = "+447700900000"
SERVICE_SID = "MG" + "a" * 32
CALLBACK = "https://odoo.example.com/outbound/receipt/twilio/s3cret"
MESSAGE_SID = "SM" + "b" * 32


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def fake(tls_files):
    with FakeTwilio(tls_files=tls_files) as server:
        yield server
    assert server.errors == []


def connect(fake, **config):
    # ca_bundle switches REQUESTS_CA_BUNDLE (set in this sandbox) off for the gateway's session.
    config = {
        "api_key": ACCOUNT_SID,
        "api_secret": AUTH_TOKEN,
        "rest_host": fake.rest_host,
        "timeout": 1,
        "ca_bundle": fake.ca_file,
        **config,
    }
    return get_gateway("twilio", **config)


@pytest.fixture
def gateway(fake):
    with connect(fake) as gateway:
        yield gateway


def sms(ref="1001", to=TO, text="Your balance is due", sender="Acme", callback=None):
    return SmsRequest(to=to, sender=sender, text=text, client_ref=ref, status_callback=callback)


def send_error(gateway, request):
    with pytest.raises(errors.GatewayError) as raised:
        gateway.send(request)
    return raised.value


# ---- SUCCESS


def test_send_posts_the_message_once_and_returns_the_sid(fake, gateway):
    result = gateway.send(sms(ref="1001", callback=f"{CALLBACK}?lang=en"))

    assert result.provider_id.startswith("SM") and len(result.provider_id) == 34
    assert (result.parts, result.price, result.currency) == (1, None, "USD")
    assert result.raw["status"] == "queued"
    [received] = fake.requests
    assert received["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert received["auth"] == ACCOUNT_SID
    assert received["form"] == {
        "To": TO,
        "From": "Acme",
        "Body": "Your balance is due",
        "StatusCallback": f"{CALLBACK}?lang=en&ref=1001",
    }


def test_without_status_callback_none_is_sent(fake, gateway):
    gateway.send(sms())

    assert "StatusCallback" not in fake.requests[0]["form"]


def test_numeric_sender_gets_its_plus(fake, gateway):
    gateway.send(sms(sender="447700900999"))

    assert fake.requests[0]["form"]["From"] == "+447700900999"


def test_messaging_service_replaces_the_sender(fake):
    with connect(fake, messaging_service_sid=SERVICE_SID) as gateway:
        result = gateway.send(sms(callback=CALLBACK))

    form = fake.requests[0]["form"]
    assert "From" not in form
    assert form["MessagingServiceSid"] == SERVICE_SID
    assert form["StatusCallback"] == f"{CALLBACK}?ref=1001"
    assert result.raw["status"] == "accepted"


def test_price_is_positive_when_twilio_gives_one(fake, gateway):
    fake.price = "-0.00750"

    assert gateway.send(sms()).price == pytest.approx(0.0075)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("x" * 160, 1),
        ("x" * 161, 2),
        ("€" * 80, 1),  # extension characters cost two septets
        ("€" * 81, 2),
        ("Zaległość: 12 zł", 1),
        ("ł" * 70, 1),
        ("ł" * 71, 2),
        ("Zaległość " * 14, 3),  # 140 UTF-16 units: 67 per segment
    ],
)
def test_segments_follow_the_encoding_of_the_text(fake, gateway, text, parts):
    result = gateway.send(sms(text=text))

    assert result.parts == parts
    assert fake.requests[0]["form"]["Body"] == text


def test_thirty_sends_reuse_one_tls_connection(fake, gateway):
    results = [gateway.send(sms(to=f"+4477009{ref:05d}")) for ref in range(30)]

    assert len({result.provider_id for result in results}) == 30
    assert fake.connections == 1


def test_the_sdk_logs_nothing_at_info(fake, gateway, caplog):
    caplog.set_level(logging.INFO)

    gateway.send(sms())

    assert caplog.records == []


# ---- TWILIO ERRORS


@pytest.mark.parametrize(
    ("mode", "error_class", "code", "text"),
    [
        ("invalid", errors.RecipientError, 21211, f"The 'To' number {TO} is not a valid"),
        ("not_mobile", errors.RecipientError, 21614, "'To' number is not a valid mobile"),
        ("opted_out", errors.OptedOutError, 21610, "Attempt to send to unsubscribed recipient"),
        ("region", errors.AccountError, 21408, "Permission to send an SMS has not been enabled"),
        ("bad_from", errors.AccountError, 21606, "The 'From' phone number provided (Acme)"),
        ("bad_credentials", errors.AccountError, 20003, "Authenticate"),
    ],
)
def test_error_code_maps_to_error_class(fake, gateway, mode, error_class, code, text):
    fake.mode = mode

    error = send_error(gateway, sms())

    assert type(error) is error_class
    assert (error.code, error.sent) == (code, False)
    assert str(error).startswith(f"twilio: error {code}: {text}")
    assert len(fake.requests) == 1


def test_opted_out_is_a_recipient_error_of_that_message(fake, gateway):
    fake.mode = "opted_out"

    error = send_error(gateway, sms())

    assert isinstance(error, errors.RecipientError)
    assert error.scope == errors.MESSAGE


def test_wrong_auth_token_is_refused_by_basic_auth(fake):
    with connect(fake, api_secret="wrong") as gateway:
        error = send_error(gateway, sms())

    assert isinstance(error, errors.AccountError)
    assert error.scope == errors.JOB
    assert str(error) == (
        "twilio: error 20003: Authenticate (HTTP 401, https://www.twilio.com/docs/errors/20003)"
    )


def test_throttled_is_retried_after_the_retry_after_header(fake, gateway):
    fake.mode = "throttled"

    error = send_error(gateway, sms())

    assert isinstance(error, errors.ThrottledError)
    assert (error.code, error.sent, error.retry_after) == (20429, False, 2)
    assert error.scope == errors.RETRY


def test_server_error_leaves_the_outcome_unknown(fake, gateway):
    fake.mode = "http500"

    error = send_error(gateway, sms())

    assert isinstance(error, errors.ProviderUnavailableError)
    assert (error.code, error.sent) == (20500, None)
    assert str(error).startswith("twilio: error 20500: Internal Server Error (HTTP 500")
    assert len(fake.requests) == 1


def test_missing_body_is_rejected_by_the_fake_as_by_twilio(fake, gateway):
    error = send_error(gateway, sms(text=""))

    assert isinstance(error, errors.MessageRejectedError)
    assert (error.code, error.sent) == (21602, False)


def test_unexpected_201_body_leaves_the_outcome_unknown(fake, gateway):
    fake.mode = "invalid_json"

    error = send_error(gateway, sms(ref="77"))

    assert isinstance(error, errors.OutcomeUnknownError)
    assert error.sent is None
    assert "HTTP 201: '<html><body>Bad Gateway</body></html>'" in str(error)
    assert "the outcome of message 77 is unknown" in str(error)


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_code_of_the_table_maps_to_its_class(code):
    status = 429 if code == "20429" else 400
    body = {"code": int(code), "message": "Text", "more_info": "https://t/1", "status": status}
    response = Response(status, json.dumps(body), {"Retry-After": "7"})

    error = twilio_module._coded_error(response, body)

    assert (type(error), error.code, error.sent) == (ERROR_CODES[code], int(code), False)
    assert str(error) == f"twilio: error {code}: Text (HTTP {status}, https://t/1)"
    assert error.retry_after == (7 if code == "20429" else None)


@pytest.mark.parametrize(
    ("status", "error_class", "sent"),
    [
        (400, errors.MessageRejectedError, False),
        (403, errors.AccountError, False),
        (404, errors.AccountError, False),
        (429, errors.ThrottledError, False),
        (503, errors.ProviderUnavailableError, None),
    ],
)
def test_unknown_codes_follow_the_http_status(status, error_class, sent):
    body = {"code": 99999, "message": "New", "status": status}

    error = twilio_module._coded_error(Response(status, json.dumps(body), {}), body)

    assert (type(error), error.sent) == (error_class, sent)


@pytest.mark.parametrize(
    ("status", "error_class", "sent"),
    [
        (502, errors.ProviderUnavailableError, None),
        (401, errors.AccountError, False),
        (413, errors.MessageRejectedError, False),
        (302, errors.OutcomeUnknownError, None),
    ],
)
def test_answers_without_a_twilio_code_follow_the_http_status(status, error_class, sent):
    response = Response(status, "<html>Bad Gateway</html>", {})

    error = twilio_module._http_error(response, "api.twilio.com")

    assert (type(error), error.code, error.sent) == (error_class, status, sent)
    assert str(error) == f"twilio: HTTP {status} from api.twilio.com: <html>Bad Gateway</html>"


# ---- TRANSPORT


def test_timeout_is_outcome_unknown_within_the_timeout(fake, gateway):
    fake.mode = "timeout"
    started = time.monotonic()

    error = send_error(gateway, sms(ref="5150"))

    assert time.monotonic() - started < 1 + 1  # the configured timeout, plus a margin
    assert isinstance(error, errors.OutcomeUnknownError)
    assert error.sent is None
    assert str(error) == (
        f"twilio: no answer within 1 s from {fake.rest_host}; "
        "the outcome of message 5150 is unknown"
    )
    assert len(fake.requests) == 1


def test_connection_dropped_after_the_request_is_sent_once(fake, gateway):
    fake.mode = "drop"

    error = send_error(gateway, sms(ref="6001"))

    assert isinstance(error, errors.OutcomeUnknownError)
    assert error.sent is None
    assert "RemoteDisconnected" in str(error)
    assert "the outcome of message 6001 is unknown" in str(error)
    assert fake.count_by_to() == {TO: 1}


def test_no_retry_is_mounted_for_https(gateway):
    retry = gateway._http.session.get_adapter("https://api.twilio.com").max_retries

    assert (retry.total, retry.read) == (0, False)


def test_next_send_after_a_drop_opens_a_new_connection(fake, gateway):
    fake.mode = "drop"
    send_error(gateway, sms(ref="1"))
    fake.mode = "ok"

    gateway.send(sms(ref="2"))

    assert (fake.connections, len(fake.requests)) == (2, 2)


def test_connection_refused_is_not_sent():
    host = f"127.0.0.1:{free_port()}"
    with TwilioGateway(ACCOUNT_SID, AUTH_TOKEN, rest_host=host, timeout=1) as gateway:
        error = send_error(gateway, sms())

    assert isinstance(error, errors.ProviderUnavailableError)
    assert error.sent is False
    assert str(error) == f"twilio: cannot connect to {host}: Connection refused"


def test_untrusted_certificate_is_not_sent(fake):
    # Without ca_bundle the system authorities (REQUESTS_CA_BUNDLE here) do not know the fake's.
    with connect(fake, ca_bundle=None) as gateway:
        error = send_error(gateway, sms())

    assert isinstance(error, errors.ProviderUnavailableError)
    assert error.sent is False
    assert f"twilio: TLS certificate of {fake.rest_host} not trusted" in str(error)
    assert fake.requests == []


# ---- CONFIGURATION


def test_registry_builds_the_twilio_gateway_from_its_settings_only(fake):
    config = {
        "api_key": ACCOUNT_SID,
        "api_secret": AUTH_TOKEN,
        "signature_secret": "vonage only",
        "signature_method": "md5",
        "rest_host": fake.rest_host,
        "ca_bundle": fake.ca_file,
    }

    assert GATEWAYS["twilio"] is TwilioGateway
    assert set(gateway_config("twilio", config)) == {
        "api_key",
        "api_secret",
        "rest_host",
        "ca_bundle",
    }
    with get_gateway("twilio", **config) as gateway:
        assert isinstance(gateway, TwilioGateway)
    assert (TwilioGateway.label, TwilioGateway.status_errors) == ("Twilio", ERROR_CODES)


def test_invalid_configuration_lists_every_problem(tmp_path):
    with pytest.raises(errors.AccountError) as raised:
        get_gateway(
            "twilio",
            api_key="12345",
            messaging_service_sid="MG123",
            rest_host="https://api.twilio.com",
            timeout=0,
            ca_bundle=str(tmp_path / "none.pem"),
        )

    assert str(raised.value) == (
        "twilio: invalid configuration: "
        "the Account SID must be AC followed by 32 hexadecimal digits; "
        "the Auth Token is missing; "
        "the Messaging Service SID must be MG followed by 32 hexadecimal digits; "
        "the timeout must be whole seconds >= 1; "
        "the REST host must be a host name with an optional port, e.g. api.twilio.com; "
        f"the CA bundle {tmp_path / 'none.pem'} does not exist"
    )


def test_valid_configuration_has_no_problems():
    config = {"api_key": ACCOUNT_SID, "api_secret": "t", "timeout": 5}

    # Odoo gives False for empty fields: the default host, no messaging service.
    assert TwilioGateway.describe_config_errors(config) == []
    assert (
        TwilioGateway.describe_config_errors(
            {**config, "rest_host": False, "messaging_service_sid": False}
        )
        == []
    )
    assert TwilioGateway.describe_config_errors({**config, "timeout": True}) == [
        "the timeout must be whole seconds >= 1"
    ]


# ---- STATUS CALLBACKS


def callback(url=f"{CALLBACK}?ref=4242", status="delivered", **kwargs):
    return WebhookRequest(
        **fake_twilio.status_callback(url, message_sid=MESSAGE_SID, status=status, **kwargs)
    )


def parse(webhook, **config):
    return TwilioGateway.parse_receipt(
        webhook, **{"api_key": ACCOUNT_SID, "api_secret": AUTH_TOKEN, **config}
    )


def test_signed_status_callback_is_read():
    receipt = parse(callback(error_code=None))

    assert receipt.client_ref == "4242"
    assert receipt.provider_id == MESSAGE_SID
    assert (receipt.to, receipt.status, receipt.error_code) == (TO, "delivered", None)
    assert receipt.delivered_at is None  # Twilio sends no time of delivery


def test_failed_callback_carries_its_error_code():
    receipt = parse(callback(status="undelivered", error_code=30003))

    assert (receipt.status, receipt.error_code) == ("undelivered", "30003")
    assert ERROR_CODES[receipt.error_code] is errors.RecipientError


def test_signature_over_a_url_with_port_and_other_parameters():
    url = "https://odoo.example.com:8443/outbound/receipt/twilio/s3cret?lang=en&ref=12"

    assert parse(callback(url)).client_ref == "12"


def test_signature_is_checked_from_params_without_the_raw_body():
    bare = dataclasses.replace(callback(), body=b"", content_type="")

    assert parse(bare).client_ref == "4242"


@pytest.mark.parametrize(
    "change",
    [
        {"headers": {}},
        {"headers": {"x-twilio-signature": "Zm9yZ2Vk"}},
        {"url": f"{CALLBACK}?ref=4243"},  # the signature covers the URL
    ],
    ids=["missing", "forged", "other-url"],
)
def test_unsigned_or_forged_callback_is_an_account_error(change):
    with pytest.raises(errors.AccountError, match="signature"):
        parse(dataclasses.replace(callback(), **change))


def test_tampered_parameter_breaks_the_signature():
    webhook = callback()
    params = {**webhook.params, "MessageStatus": "failed"}
    body = webhook.body.replace(b"MessageStatus=delivered", b"MessageStatus=failed")

    with pytest.raises(errors.AccountError, match="wrong signature"):
        parse(dataclasses.replace(webhook, params=params, body=body))


def test_callback_signed_with_another_token_is_an_account_error():
    with pytest.raises(errors.AccountError, match="wrong signature"):
        parse(callback(auth_token="other-token"))


def test_callback_of_another_account_is_an_account_error():
    other = "AC" + "f" * 32

    with pytest.raises(errors.AccountError, match="another account"):
        parse(callback(account_sid=other))


def test_gateway_without_auth_token_reads_no_callback():
    with pytest.raises(errors.AccountError, match="no Auth Token"):
        parse(callback(), api_secret=False)


def test_callback_without_ref_is_malformed():
    with pytest.raises(ValueError, match="ref"):
        parse(callback(CALLBACK))


def test_callback_without_message_sid_is_malformed():
    webhook = fake_twilio.status_callback(f"{CALLBACK}?ref=1", message_sid="", status="sent")

    with pytest.raises(ValueError, match="MessageSid"):
        parse(WebhookRequest(**webhook))


@pytest.mark.parametrize(
    ("twilio_status", "state"),
    [
        ("queued", "accepted"),
        ("accepted", "accepted"),
        ("scheduled", "accepted"),
        ("sending", "buffered"),
        ("sent", "buffered"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "undelivered"),
        ("canceled", "rejected"),
        ("receiving", "unknown"),
    ],
)
def test_every_status_is_mapped(twilio_status, state):
    assert parse(callback(status=twilio_status)).status == state
    assert state in DELIVERY_STATES


def test_the_status_table_covers_every_twilio_status():
    assert set(DELIVERY_STATUSES.values()) <= set(DELIVERY_STATES)
    assert len(DELIVERY_STATUSES) == 10


# ---- FAKE AS A PROCESS


@pytest.mark.parametrize(
    "command",
    [[fake_twilio.__file__], [fakes.__file__, "twilio"]],
    ids=["fake_twilio.py", "fakes.py twilio"],
)
def test_fake_twilio_process_logs_requests_and_stops_on_sigterm(tmp_path, command):
    cert, key, ca = make_tls_files(tmp_path)
    jsonl = tmp_path / "sms.jsonl"
    arguments = ["--port", "0", "--cert", cert, "--key", key, "--jsonl", str(jsonl)]
    with subprocess.Popen(
        [sys.executable, *command, *arguments], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert select.select([process.stdout], [], [], 10)[0], "the fake did not start"
            rest_host = process.stdout.readline().split()[-1]
            with TwilioGateway(
                ACCOUNT_SID, AUTH_TOKEN, rest_host=rest_host, ca_bundle=ca
            ) as sms_gateway:
                sms_gateway.send(sms(callback=CALLBACK))
            [line] = jsonl.read_text().splitlines()
        finally:
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=5)

    assert returncode == 0
    record = json.loads(line)
    assert (record["to"], record["from"], record["auth"]) == (TO, "Acme", ACCOUNT_SID)
    assert record["status_callback"] == f"{CALLBACK}?ref=1001"
