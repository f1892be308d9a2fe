import phonenumbers
from hypothesis import example, given, settings, strategies as st
from phonenumbers import PhoneNumber, PhoneNumberType

from outbound_bulk_messaging.engine.addresses import (
    classify_number,
    normalise_email,
    normalise_phone,
)
from outbound_bulk_messaging.engine.report import MAX_CELL_LENGTH, safe_cell

REGIONS = st.sampled_from([None, "GB", "FR", "US", "DE", "BE", "ES", "IN", "AU", "JE"])
# Text that looks like a number reaches the parsing and validation paths, not only the first check.
PHONE_LIKE = st.text(alphabet="0123456789+ ()-./", min_size=1, max_size=25)


# ---- PHONE


def _check_phone_result(raw, result):
    if not (raw or "").strip():
        assert result.e164 is None and result.error is None
        return
    assert (result.e164 is None) != (result.error is None)
    if result.e164:
        number = phonenumbers.parse(result.e164)
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == (
            result.e164
        )
        assert result.number_type != "UNKNOWN"


@given(st.text(), REGIONS)
@example("\x00", "GB")
@example("＋４４ ７４００ １２３４５６", None)
def test_normalise_phone_never_raises_on_any_text(raw, region):
    _check_phone_result(raw, normalise_phone(raw, region))


@settings(max_examples=500)
@given(PHONE_LIKE, REGIONS)
def test_normalise_phone_e164_is_always_a_valid_number(raw, region):
    _check_phone_result(raw, normalise_phone(raw, region))


@given(PHONE_LIKE, REGIONS)
def test_normalise_phone_of_its_own_e164_is_the_same_number(raw, region):
    e164 = normalise_phone(raw, region).e164
    if e164:
        assert normalise_phone(e164).e164 == e164


def _near_example_numbers():
    """Numbers close to the example ones, so that many of them are valid."""
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    types = [t for t in PhoneNumberType.values() if t != PhoneNumberType.UNKNOWN]

    @st.composite
    def number(draw):
        example = phonenumbers.example_number_for_type(
            draw(st.sampled_from(regions)), draw(st.sampled_from(types))
        )
        if example is None:
            example = phonenumbers.example_number(draw(st.sampled_from(regions)))
        digits = str(example.national_number)
        kept = draw(st.integers(0, len(digits)))
        tail = draw(st.text(alphabet="0123456789", max_size=len(digits) - kept + 2))
        return PhoneNumber(
            country_code=example.country_code, national_number=int(digits[:kept] + tail or "0")
        )

    return number()


@settings(max_examples=1000)
@given(_near_example_numbers())
def test_classify_number_agrees_with_phonenumbers(number):
    expected = (phonenumbers.region_code_for_number(number), phonenumbers.number_type(number))
    assert classify_number(number) == expected


# ---- E-MAIL


def _check_email(raw):
    value, error = normalise_email(raw)
    if value is None:
        return
    assert error is None
    assert value == value.lower()
    assert normalise_email(value) == (value, None)


@given(st.text())
@example("İ@x.com")
@example("a@ÄÖ.de")
def test_normalise_email_never_raises_is_lower_case_and_idempotent(raw):
    _check_email(raw)


@given(st.emails())
def test_normalise_email_accepts_generated_addresses(raw):
    value, error = normalise_email(raw)
    assert value is not None or "longer than" in error or "top-level" in error, error
    _check_email(raw)


@given(st.text(alphabet="aB.@ <>,;\t-é", max_size=30))
def test_normalise_email_on_email_like_text(raw):
    _check_email(raw)


# ---- REPORT CELLS


@given(st.one_of(st.text(), st.integers(), st.none()))
@example(" \t=1+1")
@example("\x00=cmd")
@example("－1")
def test_safe_cell_never_starts_a_formula(value):
    cell = safe_cell(value)
    assert cell.lstrip()[:1] not in set("=+-@＝＋－＠")
    assert not cell.startswith(("\t", "\r"))
    assert len(cell) <= MAX_CELL_LENGTH
    assert not any(ord(c) < 32 and c not in "\t\n\r" for c in cell)
