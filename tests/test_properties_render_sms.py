"""Properties of SMS splitting and of rendering, over generated texts."""

from hypothesis import given, settings, strategies as st
from markupsafe import escape

from outbound_bulk_messaging.engine.render import compile_template, make_context
from outbound_bulk_messaging.engine.sms import GSM_BASIC, GSM_EXTENSION, analyse, split

BOUNDED = settings(max_examples=200, deadline=None)
LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}

gsm_text = st.text(alphabet=GSM_BASIC + GSM_EXTENSION, max_size=700)
# GSM characters, extension characters, accents outside GSM and emoji, in long runs.
mixed_text = st.text(
    alphabet=st.sampled_from(list("ab{€ ") + ["ê", "\u00e7", "\U0001f600", "\U0001f4a9"]),
    max_size=500,
)
any_text = st.one_of(gsm_text, mixed_text, st.text(max_size=300))


def units(text, encoding):
    if encoding == "GSM-7":
        return sum(2 if c in GSM_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@BOUNDED
@given(any_text)
def test_segment_count_matches_the_split(text):
    info = analyse(text)
    segments = split(text)
    assert info.segments == len(segments)
    assert "".join(segments) == text
    assert info.units == units(text, info.encoding)


@BOUNDED
@given(any_text)
def test_every_segment_fits_its_limit(text):
    info = analyse(text)
    single, multi = LIMITS[info.encoding]
    limit = single if info.segments <= 1 else multi
    assert info.per_segment == limit
    assert all(0 < units(s, info.encoding) <= limit for s in split(text))
    if info.segments:
        assert info.remaining == limit - units(split(text)[-1], info.encoding)


@BOUNDED
@given(gsm_text)
def test_gsm_only_text_is_never_ucs2(text):
    assert analyse(text).encoding == "GSM-7"


# Jinja turns "\r" in template text into "\n" (see test_render); leave it out of the text here.
plain_text = st.text(
    alphabet=st.characters(blacklist_characters="${}\r", blacklist_categories=("Cs",)),
    max_size=300,
)
CONTEXT = make_context({"name": "Ann"})


@BOUNDED
@given(plain_text, st.booleans())
def test_text_without_placeholders_or_braces_renders_unchanged(text, html):
    assert compile_template(text, html=html).render(CONTEXT) == text


@BOUNDED
@given(st.text(max_size=200), st.text(max_size=200))
def test_values_are_inserted_verbatim_in_text_and_escaped_in_html(name, amount):
    context = make_context({"name": name, "data": {"Amount": amount}})
    source = "<p>$ACCOUNT_NAME|{{ account.data.Amount }}</p>"
    assert compile_template(source).render(context) == f"<p>{name}|{amount}</p>"
    html = compile_template(source, html=True).render(context)
    assert html == f"<p>{escape(name)}|{escape(amount)}</p>"
