"""``parse_number`` answers as ``phonenumbers.parse``: same number, same error, every region."""

import phonenumbers
import pytest
from hypothesis import example, given, settings, strategies as st
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from outbound_bulk_messaging.engine import phone_parsing
from outbound_bulk_messaging.engine.phone_parsing import parse_number

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
# Default regions with an unusual prefix or national prefix rule: 011 and a national "1" (US),
# a transform rule (AR), numbers kept with their leading zero (IT), several IDDs (AU, RU).
DEFAULT_REGIONS = (None, "GB", "US", "IT", "AR", "AU", "RU")


def outcome(parse, text, region):
    """What a parser made of ``text``: the number, or the kind of error."""
    try:
        number = parse(text, region)
    except NumberParseException as exc:
        return "error", exc.error_type
    return "number", number


def _example_numbers():
    for region in REGIONS:
        for number_type in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                yield example
    for country_code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(country_code)
        if example is not None:
            yield example


def _written_forms(number):
    """The ways a person or a spreadsheet writes a number, good and spoilt."""
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    digits = phonenumbers.national_significant_number(number)
    yield from (national, international, e164, "00" + e164[1:], "011 " + e164[1:], digits)
    yield from (e164[1:], "+" + digits, e164[:-2], e164 + "12", "0" + digits, "+0" + e164[1:])
    yield "+00" + e164[1:]


EXAMPLES = list(_example_numbers())
FORMS = sorted({form for number in EXAMPLES for form in _written_forms(number)})


def test_every_example_number_written_every_way_parses_as_phonenumbers_does():
    assert len(EXAMPLES) > 1000
    plain = [text for text in FORMS if phone_parsing._PLAIN.fullmatch(text)]
    assert len(plain) > 0.9 * len(FORMS)  # most of them take the fast path
    for text in FORMS:
        for region in DEFAULT_REGIONS:
            expected = outcome(phonenumbers.parse, text, region)
            assert outcome(parse_number, text, region) == expected, (text, region)


def test_international_forms_parse_as_phonenumbers_does_in_every_region():
    forms = [text for text in FORMS if text.startswith(("+", "00"))]
    for region in REGIONS:
        for text in forms[:: len(REGIONS) // 7 or 1]:
            expected = outcome(phonenumbers.parse, text, region)
            assert outcome(parse_number, text, region) == expected, (text, region)


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("020 7946 0018", "GB"),
        ("+44 (20) 7946-0018", None),
        ("44 20 7946 0018", "GB"),  # the region's own code without a prefix
        ("0044 20 7946 0018", "GB"),
        ("00 0044 20", "GB"),  # a 0 after the prefix: not a prefix
        ("+0044 20 7946 0018", "GB"),  # an unknown code after "+" is read without it
        ("+0 20 7946 0018", None),
        ("+999 123 456", None),
        ("+1 2", None),
        ("07", "GB"),
        ("0000", "IT"),  # leading zeros kept, all but the last
        ("02 1234 5678", "IT"),
        ("011 54 9 11 1234 5678", "US"),
        ("011 15 2345 6789", "AR"),  # national prefix transformed, not only stripped
        ("1 201 555 0123", "US"),
        ("123456789012345678901", "GB"),
        ("8 (495) 123-45-67", "RU"),
        ("+800 1234 5678", "GB"),  # a non-geographical country code
    ],
)
def test_tricky_numbers_parse_as_phonenumbers_does(text, region):
    assert outcome(parse_number, text, region) == outcome(phonenumbers.parse, text, region)


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("07400 123456 ext. 12", "GB"),
        ("1-800-FLOWERS", "US"),
        ("＋４４ ７４００ １２３４５６", None),
        ("tel:+44-20-7946-0018;isub=12", None),
        ("(+44) 20 7946 0018", None),
        ("07400 123456", "gb"),
        ("07400 123456", "XX"),
        ("1 2", "GB"),
        ("+44 20 7946 0018" + " " * 240, None),
    ],
)
def test_other_text_is_left_to_phonenumbers(text, region, monkeypatch):
    expected = outcome(phonenumbers.parse, text, region)
    calls = []
    original = phonenumbers.parse
    monkeypatch.setattr(
        phone_parsing.phonenumbers, "parse", lambda *a: calls.append(a) or original(*a)
    )
    assert outcome(parse_number, text, region) == expected
    assert calls == [(text, region)]


def test_plain_text_never_reaches_phonenumbers_parse(monkeypatch):
    def refuse(*args):
        raise AssertionError(f"phonenumbers.parse{args} was called")

    monkeypatch.setattr(phone_parsing.phonenumbers, "parse", refuse)
    number = parse_number("+44 (0)20 7946-0018", None)
    assert (number.country_code, number.national_number) == (44, 2079460018)
    assert parse_number("06.12.34.56.78", "FR").national_number == 612345678


# ---- PROPERTIES

ANY_REGION = st.one_of(st.none(), st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
# The fast path's alphabet, and characters that send the text to phonenumbers instead.
PLAIN_LIKE = st.text(alphabet="0123456789+ ().-", min_size=1, max_size=25)
OTHER_LIKE = st.text(alphabet="0123456789+ ().-/x#,;*~ext０", min_size=1, max_size=25)


@settings(max_examples=2000)
@given(PLAIN_LIKE, ANY_REGION)
@example("+", None)
@example("+-0", "GB")
@example("00", "IT")
def test_plain_text_parses_as_phonenumbers_does(text, region):
    assert outcome(parse_number, text, region) == outcome(phonenumbers.parse, text, region)


@settings(max_examples=500)
@given(OTHER_LIKE, ANY_REGION)
def test_other_text_parses_as_phonenumbers_does(text, region):
    assert outcome(parse_number, text, region) == outcome(phonenumbers.parse, text, region)


@st.composite
def near_example_numbers(draw):
    """Digits close to a real number, with or without its country code, prefix or zero."""
    number = draw(st.sampled_from(EXAMPLES))
    digits = phonenumbers.national_significant_number(number)
    kept = draw(st.integers(0, len(digits)))
    digits = digits[:kept] + draw(st.text(alphabet="0123456789", max_size=len(digits) - kept + 2))
    prefix = draw(st.sampled_from(["", "0", "00", "011", "8", "1", "15", "+", "+0"]))
    country = draw(st.sampled_from(["", str(number.country_code)]))
    separator = draw(st.sampled_from(["", " ", "-", ".", " (", ") "]))
    return prefix + country + separator + digits


@settings(max_examples=1000)
@given(near_example_numbers(), ANY_REGION)
def test_numbers_near_the_examples_parse_as_phonenumbers_does(text, region):
    assert outcome(parse_number, text, region) == outcome(phonenumbers.parse, text, region)
