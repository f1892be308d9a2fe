"""Cost before sending: fast segment counts, destination countries, placeholders-only rendering,
the tally of a send and the sender rules by country."""

from datetime import datetime

import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st

from outbound_bulk_messaging.engine import senders
from outbound_bulk_messaging.engine.addresses import normalise_phone, number_region
from outbound_bulk_messaging.engine.caps import period_start
from outbound_bulk_messaging.engine.errors import SegmentLimitError, SmsEncodingError
from outbound_bulk_messaging.engine.render import compile_template, make_context
from outbound_bulk_messaging.engine.sms import (
    GSM_BASIC,
    GSM_EXTENSION,
    analyse,
    check_segments,
    count_segments,
)
from outbound_bulk_messaging.engine.sms_cost import tally

BOUNDED = settings(max_examples=300, deadline=None)
texts = st.one_of(
    st.text(alphabet=GSM_BASIC + GSM_EXTENSION, max_size=700),
    st.text(alphabet=st.sampled_from(list("ab{€ ") + ["ê", "\U0001f600"]), max_size=500),
    st.text(max_size=300),
)


@BOUNDED
@given(texts)
def test_fast_segment_count_is_the_split(text):
    assert count_segments(text) == analyse(text).segments


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 0),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # 160 septets
        ("a" * 159 + "€", 2),  # 161 septets
        ("a" * 152 + "€" + "a" * 152, 3),  # 306 septets, but the euro sign cannot straddle
        ("é" * 160, 1),  # é is GSM-7
        ("ê" * 70, 1),
        ("ê" * 71, 2),
        ("ê" * 134, 2),
        ("ê" * 135, 3),
        ("a" * 66 + "\U0001f600" + "a" * 67, 3),  # the pair stays whole: 66 + 68 units
    ],
)
def test_segments_by_hand(text, segments):
    assert count_segments(text) == segments == analyse(text).segments


def test_check_segments_refuses_like_check():
    assert check_segments("a" * 307, 3) == 3
    with pytest.raises(SegmentLimitError, match="3 SMS segments, the template allows 2"):
        check_segments("a" * 307, 2)
    with pytest.raises(SmsEncodingError, match=r"U\+0000"):
        check_segments("a\x00")


NUMBERS = [
    "+447911123456",
    "+447781123456",  # Guernsey mobile, +44 like the UK
    "+447624123456",  # Isle of Man
    "+33612345678",
    "+14155550123",
    "+16135550123",  # Ottawa
    "+17875550123",  # Puerto Rico
    "+79161234567",
    "+77011234567",  # Kazakhstan, +7 like Russia
    "+390612345678",  # Italy keeps its leading zero
    "+61412345678",
    "+5511987654321",
]


@pytest.mark.parametrize("e164", NUMBERS)
def test_number_region_agrees_with_phonenumbers(e164):
    expected = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    assert number_region(e164) == expected


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)), st.integers(0, 10**9))
def test_number_region_of_valid_numbers(region, seed):
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return
    national = str(example.national_number)
    varied = national[:-3] + f"{seed % 1000:03d}" if len(national) > 4 else national
    result = normalise_phone("+" + str(example.country_code) + varied)
    if result.e164:
        parsed = phonenumbers.parse(result.e164)
        assert number_region(result.e164) == phonenumbers.region_code_for_number(parsed)


def test_number_region_of_nonsense():
    assert number_region("") is None
    assert number_region("+") is None
    assert number_region("+999123") is None


def _context(**data):
    account = {"reference": "R1", "name": "Zoe", "email": "", "sms_number": "+33612345678"}
    return make_context(dict(account, status="Unused", data=data), list_name="L", campaign_name="C")


@pytest.mark.parametrize(
    "source",
    [
        "Dear $ACCOUNT_NAME, you owe $ACCOUNT_AMOUNT.",
        "Cost: $$5 for ${ACCOUNT_NAME}s\n",
        "{$ACCOUNT_NAME} and {{ '{' }}",
        "line\n\n$LIST_NAME $CAMPAIGN_NAME $ACCOUNT_REFERENCE\n",
        "",
    ],
)
def test_placeholders_only_joins_as_jinja_renders(source):
    compiled = compile_template(source, columns=["amount"])
    assert compiled.placeholders_only
    context = _context(amount="12.50")
    assert compiled.render_fast(context) == compiled.render(context)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ACCOUNT_NAME | upper }}",
        "{% if ACCOUNT_NAME %}hi{% endif %}",
        "{{ account.name }}",
        "{# note #}$ACCOUNT_NAME",
    ],
)
def test_other_templates_render_with_jinja(source):
    compiled = compile_template(source, columns=[])
    context = _context()
    assert compiled.render_fast(context) == compiled.render(context)
    if "{#" not in source:
        assert not compiled.placeholders_only


def test_a_missing_column_fails_as_the_render_does():
    compiled = compile_template("$ACCOUNT_AGENT", columns=None)
    with pytest.raises(Exception) as fast:
        compiled.render_fast(_context())
    with pytest.raises(Exception) as slow:
        compiled.render(_context())
    assert str(fast.value) == str(slow.value)
    assert "AGENT" in str(fast.value)


def test_tally_counts_segments_by_country_and_what_fails_apart():
    compiled = compile_template("Dear $ACCOUNT_NAME, $ACCOUNT_NOTE", columns=["note"])
    recipients = [
        ("+447400123456", _context(note="a" * 100)),  # GSM-7, 1 segment
        ("+447400123457", _context(note="a" * 200)),  # GSM-7, 2 segments
        ("+33612345678", _context(note="ê")),  # UCS-2, 1 segment
        ("+33612345679", _context(note="x" * 500)),  # over the limit of 3
        ("+14155550123", _context(note="\x00")),  # unsendable
    ]
    result = tally(recipients, compiled, max_segments=3)
    expected_gb = 1 + 2
    assert result.segments == {"GB": expected_gb, "FR": 1}
    assert result.accounts == {"GB": 2, "FR": 1}
    assert (result.over_limit, result.failing) == (1, 1)
    assert "U+0000" in result.first_error
    total, missing = result.cost({"GB": 0.04})
    assert total == pytest.approx(expected_gb * 0.04)
    assert missing == ["FR"]


@pytest.mark.parametrize(
    ("sender", "alphanumeric"),
    [("ACME", True), ("Acme Ltd", True), ("+447700900999", False), ("12345", False), ("", False)],
)
def test_alphanumeric_senders(sender, alphanumeric):
    assert senders.is_alphanumeric(sender) is alphanumeric


def test_refusing_regions():
    assert senders.refusing_regions("ACME", {"GB", "US", "CA", None}) == ["CA", "US"]
    assert senders.refusing_regions("+447700900999", {"US"}) == []


@pytest.mark.parametrize(
    ("period", "now", "start"),
    [
        ("day", datetime(2026, 12, 1, 23, 59), datetime(2026, 12, 1)),
        ("week", datetime(2026, 12, 6, 12, 0), datetime(2026, 11, 30)),  # a Sunday
        ("week", datetime(2026, 11, 30, 0, 0), datetime(2026, 11, 30)),  # a Monday
        ("month", datetime(2026, 12, 31, 18, 0), datetime(2026, 12, 1)),
        ("month", datetime(2027, 1, 1, 0, 0, 1), datetime(2027, 1, 1)),
    ],
)
def test_cap_period_start(period, now, start):
    assert period_start(period, now) == start


def test_cap_period_unknown():
    with pytest.raises(ValueError, match="unknown cap period"):
        period_start("year", datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "names",
    [
        {"ACCOUNT_NAME"},
        {"ACCOUNT_AMOUNT", "ACCOUNT_NAME", "LIST_NAME", "CAMPAIGN_NAME"},
        {"ACCOUNT_DUE_DATE", "ACCOUNT_STATUS", "ACCOUNT_SMS_NUMBER", "ACCOUNT_EMAIL"},
        {"ACCOUNT_MISSING"},
    ],
)
def test_placeholder_context_is_the_full_context_cut_down(names):
    account = {
        "reference": "R1",
        "name": None,
        "email": "a@b.c",
        "sms_number": "+33612345678",
        "status": "Unused",
        # Two columns with one key (the last wins) and one named like a standard placeholder.
        "data": {"amount": 1.5, "Amount": "2.50", "due date": "2026-12-31", "name": "Column"},
    }
    full = make_context(account, list_name="L", campaign_name=None)
    cut = make_context(account, list_name="L", campaign_name=None, names=frozenset(names))
    assert cut == {name: full[name] for name in names if name in full}
