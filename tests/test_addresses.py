import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from outbound_bulk_messaging.engine.addresses import (
    PHONE_CACHE_SIZE,
    PhoneResult,
    _normalise_phone,
    classify_number,
    normalise_email,
    normalise_phone,
)

# ---- E-MAIL


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("john.doe@example.com", "john.doe@example.com"),
        ("  John.Doe@Example.COM \t", "john.doe@example.com"),
        ("o'brien+invoices@mail.example.co.uk", "o'brien+invoices@mail.example.co.uk"),
        ("John Doe <JD@Example.com>", "jd@example.com"),
        ('"Doe, John" <jd@example.com>', "jd@example.com"),
        ("<jd@example.com>", "jd@example.com"),
        ("jd@müller.de", "jd@xn--mller-kva.de"),
        ("Jürgen@Example.de", "jürgen@example.de"),
        ("x@xn--mller-kva.de", "x@xn--mller-kva.de"),
        ("someone@example.museum", "someone@example.museum"),
    ],
)
def test_email_accepted_is_lower_case(raw, expected):
    assert normalise_email(raw) == (expected, None)


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
def test_email_empty_is_neither_value_nor_error(raw):
    assert normalise_email(raw) == (None, None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a@x.com, b@y.com", "'a@x.com, b@y.com' contains several addresses"),
        ("a@x.com;b@y.com", "'a@x.com;b@y.com' contains several addresses"),
        ("a@x.com b@y.com", "'a@x.com b@y.com' contains several addresses"),
        ("john.example.com", "'john.example.com' has no @"),
        ("@example.com", "'@example.com' has nothing before the @"),
        ("john@", "'john@' has nothing after the @"),
        ("john@localhost", "'john@localhost' has a domain without a dot"),
        ("john doe@example.com", "'john doe@example.com' contains spaces"),
        ("john..doe@example.com", "'john..doe@example.com' contains consecutive dots"),
        ("john@example..com", "'john@example..com' contains consecutive dots"),
        (".john@example.com", "'.john@example.com' starts or ends with a dot before the @"),
        ("john.@example.com", "'john.@example.com' starts or ends with a dot before the @"),
        ("a@b@example.com", "'a@b@example.com' contains more than one @"),
        ("jo\x07hn@example.com", "'jo\\x07hn@example.com' contains control characters"),
        ("john(x)@example.com", "contains the character '(', not allowed before the @"),
        ("john@-example.com", "'john@-example.com' has an invalid domain"),
        ("john@example.c", "has an invalid top-level domain 'c'"),
        ("john@example.123", "has an invalid top-level domain '123'"),
        ("John <john@example.com", "is not an e-mail address nor a 'Name <address>' form"),
        ("John <>", "'John <>' contains no address between < and >"),
        ("a" * 65 + "@example.com", "has more than 64 characters before the @"),
        ("a" * 60 + "@" + ("b" * 60 + ".") * 4 + "com", "is longer than 254 characters"),
    ],
)
def test_email_rejected_with_error_naming_the_value(raw, message):
    value, error = normalise_email(raw)
    assert value is None
    assert message in error


def test_email_error_shortens_a_huge_value():
    _, error = normalise_email("x" * 5000 + "@example.com")
    assert "longer than 254 characters" in error
    assert len(error) < 150


# ---- PHONE


@pytest.mark.parametrize(
    ("raw", "region", "e164", "number_type"),
    [
        ("07400 123456", "GB", "+447400123456", "MOBILE"),
        ("07400 123456", "gb", "+447400123456", "MOBILE"),
        ("+44 7400 123456", None, "+447400123456", "MOBILE"),
        ("+44 (0)7400 123456", None, "+447400123456", "MOBILE"),
        ("0044 7400 123456", None, "+447400123456", "MOBILE"),
        ("0044 7400 123456", "US", "+447400123456", "MOBILE"),  # US dials out with 011
        ("(07400) 123-456", "GB", "+447400123456", "MOBILE"),
        ("07400 123456 #12", "GB", "+447400123456", "MOBILE"),  # E.164 has no extension
        ("0121 234 5678", "GB", "+441212345678", "FIXED_LINE"),
        ("06 12 34 56 78", "FR", "+33612345678", "MOBILE"),
        ("06.12.34.56.78", "FR", "+33612345678", "MOBILE"),
        ("+33 1 23 45 67 89", "GB", "+33123456789", "FIXED_LINE"),
        ("0033 6 12 34 56 78", "FR", "+33612345678", "MOBILE"),
        ("(201) 555-0123", "US", "+12015550123", "FIXED_LINE_OR_MOBILE"),
        ("+1 201-555-0123", "FR", "+12015550123", "FIXED_LINE_OR_MOBILE"),
        ("01512 3456789", "DE", "+4915123456789", "MOBILE"),
        ("030 123456", "DE", "+4930123456", "FIXED_LINE"),
        ("0470 12 34 56", "BE", "+32470123456", "MOBILE"),
        ("012 34 56 78", "BE", "+3212345678", "FIXED_LINE"),
        ("612 34 56 78", "ES", "+34612345678", "MOBILE"),
        ("+34 612-34-56-78", None, "+34612345678", "MOBILE"),
        ("081234 56789", "IN", "+918123456789", "MOBILE"),
        ("+91 81234 56789", None, "+918123456789", "MOBILE"),
    ],
)
def test_phone_valid(raw, region, e164, number_type):
    result = normalise_phone(raw, region)
    assert result.e164 == e164
    assert result.error is None
    assert result.number_type == number_type
    assert result.region == phonenumbers.region_code_for_number(phonenumbers.parse(e164))


def test_phone_region_of_a_shared_country_code():
    assert normalise_phone("+1 506 234 5678").region == "CA"
    assert normalise_phone("+44 1534 456789").region == "JE"


@pytest.mark.parametrize(
    ("raw", "region", "error"),
    [
        ("abc", "GB", "'abc' is not a phone number"),
        ("07400 12345A", "GB", "'07400 12345A' is not a phone number"),
        ("1-800-FLOWERS", "US", "'1-800-FLOWERS' is not a phone number"),
        ("--", "GB", "'--' is not a phone number"),
        (
            "07700 900123",
            None,
            "'07700 900123' has no country prefix and no default country is set",
        ),
        ("+44 7400", None, "'+44 7400' is too short for GB (+44)"),
        ("01234 5", "GB", "'01234 5' is too short for GB (+44)"),
        ("07400 123", "GB", "'07400 123' is not a valid number for GB (+44)"),
        ("+44 7400 123456 789", None, "'+44 7400 123456 789' is too long for GB (+44)"),
        # 07700 900xxx is Ofcom's range reserved for drama: never a real number.
        ("+44 7700 900123", None, "'+44 7700 900123' is not a valid number for GB (+44)"),
        ("06 12 34 56 78", "GB", "'06 12 34 56 78' is not a valid number for GB (+44)"),
        ("+999 123 456", None, "'+999 123 456' has an unknown country code"),
        ("0033 6 12", None, "'0033 6 12' is too short for FR (+33)"),
    ],
)
def test_phone_invalid_error_names_the_value(raw, region, error):
    result = normalise_phone(raw, region)
    assert result.e164 is None
    assert result.error == error
    assert result.number_type is None


def test_phone_error_keeps_the_country_when_known():
    assert normalise_phone("+44 7400").region == "GB"
    assert normalise_phone("abc").region is None


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_phone_empty_is_all_none(raw):
    assert normalise_phone(raw, "GB") == PhoneResult(None, None, None, None)


def test_phone_unknown_default_region_is_a_configuration_error():
    with pytest.raises(ValueError, match="unknown country code 'XX'"):
        normalise_phone("07400 123456", "XX")


def test_phone_results_are_cached_per_value_and_region():
    first = normalise_phone("+44 7400 654321", "GB")
    assert normalise_phone(" +44 7400 654321 ", "GB") is first
    assert normalise_phone("+44 7400 654321", "gb") == first
    assert normalise_phone("+44 7400 654321", "FR") is not first
    assert _normalise_phone.cache_info().maxsize == PHONE_CACHE_SIZE


def _example_numbers():
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                yield example
    for country_code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        yield phonenumbers.example_number_for_non_geo_entity(country_code)


def test_classify_number_agrees_with_phonenumbers_on_every_example_number():
    examples = [number for number in _example_numbers() if number is not None]
    assert len(examples) > 1000
    for number in examples:
        expected = (phonenumbers.region_code_for_number(number), phonenumbers.number_type(number))
        assert classify_number(number) == expected, number
