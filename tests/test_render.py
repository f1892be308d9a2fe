"""Templates as the campaign user writes them: placeholders, Jinja, errors with lines, HTML."""

import pytest

from outbound_bulk_messaging.engine import render
from outbound_bulk_messaging.engine.errors import (
    SandboxViolation,
    TemplateError,
    TemplateSyntaxError,
    UnknownPlaceholderError,
)
from outbound_bulk_messaging.engine.render import (
    STANDARD_PLACEHOLDERS,
    check_header_text,
    column_key,
    compile_template,
    html_to_text,
    make_context,
    render_subject,
)

COLUMNS = ["Due date", "Amount"]


def account(**values):
    base = {
        "reference": "R-001",
        "name": "Ann Smith",
        "email": "ann@example.com",
        "sms_number": "+32470000001",
        "status": "Overdue",
        "data": {"Due date": "2024-05-31", "Amount": "120.50"},
    }
    base.update(values)
    return base


def rendered(source, acc=None, **options):
    context = make_context(acc or account(), list_name="May list", campaign_name="Spring")
    return compile_template(source, **options).render(context)


# ---- NAMES


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Due date", "DUE_DATE"),
        ("e-mail 2", "E_MAIL_2"),
        ("  Amount (EUR) ", "AMOUNT_EUR"),
        ("due__date", "DUE_DATE"),
        ("Échéance", "CH_ANCE"),
        ("straße", "STRA_E"),  # not "STRASSE": upper-casing must not create ASCII letters
        ("2024", "2024"),
        ("---", ""),
    ],
)
def test_column_key(name, key):
    assert column_key(name) == key


def test_standard_placeholders():
    assert STANDARD_PLACEHOLDERS == (
        "ACCOUNT_NAME",
        "ACCOUNT_SMS_NUMBER",
        "ACCOUNT_EMAIL",
        "ACCOUNT_REFERENCE",
        "ACCOUNT_STATUS",
        "LIST_NAME",
        "CAMPAIGN_NAME",
        "UNSUBSCRIBE_URL",
    )


# ---- CONTEXT


def test_make_context_is_flat_with_columns_and_nested_views():
    context = make_context(account(), list_name="May list", campaign_name="Spring")
    assert context["ACCOUNT_NAME"] == "Ann Smith"
    assert context["ACCOUNT_SMS_NUMBER"] == "+32470000001"
    assert context["ACCOUNT_DUE_DATE"] == "2024-05-31"
    assert context["ACCOUNT_AMOUNT"] == "120.50"
    assert context["LIST_NAME"] == "May list"
    assert context["CAMPAIGN_NAME"] == "Spring"
    assert context["account"]["data"] == {"Due date": "2024-05-31", "Amount": "120.50"}
    assert context["account"]["status"] == "Overdue"
    assert context["list"] == {"name": "May list"}
    assert context["campaign"] == {"name": "Spring"}


def test_standard_name_wins_over_a_column_with_the_same_key():
    context = make_context(account(data={"Name": "from the file", "E-mail": "other@x"}))
    assert context["ACCOUNT_NAME"] == "Ann Smith"
    assert context["ACCOUNT_EMAIL"] == "ann@example.com"
    assert context["account"]["data"]["Name"] == "from the file"


def test_missing_values_render_empty():
    acc = account(name=None, email=False, data={"Amount": None, "Count": 3})
    assert rendered("[$ACCOUNT_NAME][$ACCOUNT_EMAIL][$ACCOUNT_AMOUNT][$ACCOUNT_COUNT]", acc) == (
        "[][][][3]"
    )


def test_make_context_does_not_share_the_callers_data():
    acc = account()
    context = make_context(acc)
    assert context["account"]["data"] is not acc["data"]


# ---- PLACEHOLDER SYNTAX


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Dear $ACCOUNT_NAME,", "Dear Ann Smith,"),
        ("Dear $account_name.", "Dear Ann Smith."),
        ("${ACCOUNT_NAME}s file", "Ann Smiths file"),
        ("Pay $ACCOUNT_AMOUNT by $ACCOUNT_DUE_DATE", "Pay 120.50 by 2024-05-31"),
        ("$LIST_NAME / $CAMPAIGN_NAME / $ACCOUNT_STATUS", "May list / Spring / Overdue"),
        ("costs $5, $ 10, 100$", "costs $5, $ 10, 100$"),
        ("$$ACCOUNT_NAME is literal", "$ACCOUNT_NAME is literal"),
        ("$$$ACCOUNT_REFERENCE", "$R-001"),
        ("${{ account.data.Amount }}", "$120.50"),
        ("{$ACCOUNT_REFERENCE}", "{R-001}"),
        ("{{ '{' }}$ACCOUNT_REFERENCE}}", "{R-001}}"),
        ("{# $ACCOUNT_FOO #}ok", "ok"),
        ("{% raw %}$ACCOUNT_FOO {{ x }}{% endraw %}", "$ACCOUNT_FOO {{ x }}"),
        ("{{ '$ACCOUNT_NAME }}' }}", "$ACCOUNT_NAME }}"),
        ("line\n", "line\n"),
    ],
)
def test_placeholder_syntax(source, expected):
    assert rendered(source, columns=COLUMNS) == expected


def test_invalid_braced_placeholder_is_a_syntax_error_with_its_line():
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template("Hello\nyou ${ACCOUNT NAME}")
    assert info.value.line == 2
    assert "line 2" in str(info.value)


def test_unknown_placeholder_names_the_placeholder_the_line_and_the_known_names():
    source = "Dear $ACCOUNT_NAME,\n\nyou owe $ACCOUNT_AMOUNT by $ACCOUNT_FOO.\n"
    with pytest.raises(UnknownPlaceholderError) as info:
        compile_template(source, columns=COLUMNS)
    error = info.value
    assert (error.line, error.placeholder) == (3, "ACCOUNT_FOO")
    assert str(error).startswith("Unknown placeholder $ACCOUNT_FOO on line 3 of the body")
    assert "$ACCOUNT_NAME" in str(error) and "$ACCOUNT_DUE_DATE" in str(error)


def test_unknown_placeholder_suggests_braces_when_letters_follow():
    with pytest.raises(UnknownPlaceholderError) as info:
        compile_template("$ACCOUNT_NAMEs", columns=COLUMNS)
    assert info.value.placeholder == "ACCOUNT_NAMES"
    assert "${ACCOUNT_NAME}s" in str(info.value)


def test_field_is_named_in_errors():
    with pytest.raises(UnknownPlaceholderError, match="of the subject"):
        compile_template("Re: $NOPE", field="subject")


def test_without_columns_any_account_column_compiles_and_a_missing_one_fails_at_render():
    compiled = compile_template("Hi\n$ACCOUNT_SEGMENT")
    assert compiled.render(make_context(account(data={"Segment": "B"}))) == "Hi\nB"
    with pytest.raises(UnknownPlaceholderError) as info:
        compiled.render(make_context(account()))
    assert (info.value.line, info.value.placeholder) == (2, "ACCOUNT_SEGMENT")
    assert "$ACCOUNT_SEGMENT" in str(info.value) and "no column SEGMENT" in str(info.value)


def test_without_columns_a_non_account_name_is_still_unknown():
    with pytest.raises(UnknownPlaceholderError) as info:
        compile_template("$FOO")
    assert info.value.placeholder == "FOO"


def test_placeholders_and_variables_are_reported():
    compiled = compile_template(
        "$ACCOUNT_NAME {{ account.email }} {{ CAMPAIGN_NAME }} {% for i in range(2) %}{% endfor %}"
    )
    assert compiled.placeholders == ("ACCOUNT_NAME", "CAMPAIGN_NAME")
    assert compiled.variables == ("ACCOUNT_NAME", "CAMPAIGN_NAME", "account", "range")


def test_error_lines_stay_on_the_original_line_after_placeholders():
    source = "$ACCOUNT_NAME $ACCOUNT_NAME ${ACCOUNT_REFERENCE}\n$$ and $5\n{{ account.name }\n"
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template(source)
    assert info.value.line == 3


# ---- JINJA


def test_jinja_in_tags():
    source = (
        "{{ account.name|upper }} {{ ACCOUNT_NAME }} {{ list.name }} {{ campaign.name }}\n"
        "{% for column, value in account.data|dictsort %}{{ loop.index }}:{{ column }}={{ value }}"
        "{{ loop.cycle(',', ';') }}{% endfor %}\n"
        "{% if account.status == 'Overdue' %}late{% else %}ok{% endif %}"
        "{% set total = account.data.Amount|float * 2 %} {{ '%.2f'|format(total) }}"
    )
    assert rendered(source) == (
        "ANN SMITH Ann Smith May list Spring\n1:Amount=120.50,2:Due date=2024-05-31;\nlate 241.00"
    )


def test_unknown_jinja_variable_is_refused_at_compile_with_its_line():
    with pytest.raises(UnknownPlaceholderError) as info:
        compile_template("Hello\n{{ customer.name }}")
    assert (info.value.line, info.value.placeholder) == (2, "customer")
    assert "Unknown variable customer on line 2" in str(info.value)


def test_unknown_uppercase_name_in_a_tag_is_checked_against_columns():
    assert rendered("{{ ACCOUNT_AMOUNT }}", columns=COLUMNS) == "120.50"
    with pytest.raises(UnknownPlaceholderError) as info:
        compile_template("{{ ACCOUNT_TOTAL }}", columns=COLUMNS)
    assert info.value.placeholder == "ACCOUNT_TOTAL"


def test_loop_and_set_names_are_declared_by_jinja():
    source = (
        "{% set greeting = 'Hi' %}{% for k in account.data %}{{ greeting }} {{ k }};{% endfor %}"
    )
    assert rendered(source) == "Hi Due date;Hi Amount;"


def test_undefined_attribute_fails_at_render_with_the_name_and_line():
    compiled = compile_template("Dear\n\n{{ account.data.Segment }}")
    with pytest.raises(UnknownPlaceholderError) as info:
        compiled.render(make_context(account()))
    assert (info.value.line, info.value.placeholder) == (3, "Segment")
    assert "'Segment'" in str(info.value) and "line 3" in str(info.value)


def test_undefined_is_strict_in_conditions_too():
    with pytest.raises(UnknownPlaceholderError):
        rendered("{% if account.nickname %}x{% endif %}")


def test_defined_test_and_default_filter_handle_an_optional_value():
    assert rendered("{% if account.data.Segment is defined %}x{% else %}none{% endif %}") == "none"
    assert rendered("{{ account.data.Segment|default('none') }}") == "none"
    assert rendered("{{ account.data.Amount|default('none') }}") == "120.50"


def test_syntax_error_and_unknown_filter():
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template("a\n{% if %}")
    assert info.value.line == 2
    with pytest.raises(TemplateSyntaxError, match="No filter named 'shout'") as info:
        compile_template("\n\n{{ account.name|shout }}")
    assert info.value.line == 3


def test_runtime_type_error_is_a_template_error_with_its_line():
    with pytest.raises(TemplateError) as info:
        rendered("ok\n{{ account.name + 1 }}")
    assert info.value.line == 2
    assert "concatenate" in str(info.value)


def test_compiled_once_rendered_for_many_accounts_without_touching_contexts():
    compiled = compile_template("{% set ACCOUNT_NAME = 'x' %}$ACCOUNT_REFERENCE")
    first = make_context(account(reference="A"))
    second = make_context(account(reference="B"))
    assert [compiled.render(first), compiled.render(second)] == ["A", "B"]
    assert first["ACCOUNT_NAME"] == "Ann Smith"


def test_empty_template_renders_empty():
    assert rendered("") == ""
    assert rendered(False) == ""


def test_output_is_capped():
    with pytest.raises(SandboxViolation, match="longer than 20 characters"):
        rendered("$ACCOUNT_NAME " * 3, max_output=20)


# ---- VALUES: UNICODE AND HTML


def test_unicode_and_emoji_values_are_kept():
    acc = account(name="Zoë Ñúñez 😀", data={"Note": "日本語 €"})
    assert rendered("Hi $ACCOUNT_NAME — $ACCOUNT_NOTE", acc) == "Hi Zoë Ñúñez 😀 — 日本語 €"
    assert rendered("<b>$ACCOUNT_NAME</b>", acc, html=True) == "<b>Zoë Ñúñez 😀</b>"


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('"><img src=x onerror=alert(1)>', "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        ("Tom & Jerry's", "Tom &amp; Jerry&#39;s"),
    ],
)
def test_html_body_escapes_account_values_but_not_the_template(value, escaped):
    acc = account(name=value, data={"Amount": value})
    source = '<p title="$ACCOUNT_NAME">{{ account.name }} $ACCOUNT_AMOUNT</p>'
    assert rendered(source, acc, html=True) == f'<p title="{escaped}">{escaped} {escaped}</p>'
    assert rendered(source, acc) == f'<p title="{value}">{value} {value}</p>'


# ---- SUBJECTS


def test_subject_renders_on_one_line():
    compiled = compile_template("Your file $ACCOUNT_REFERENCE", field="subject")
    assert render_subject(compiled, make_context(account())) == "Your file R-001"


@pytest.mark.parametrize("value", ["A\r\nBcc: x@evil.test", "A\nB", "A\rB"])
def test_subject_refuses_line_breaks_from_values(value):
    compiled = compile_template("Re: $ACCOUNT_NAME", field="subject")
    with pytest.raises(TemplateError, match="subject must be a single line"):
        render_subject(compiled, make_context(account(name=value)))


def test_check_header_text():
    assert check_header_text("Hello $ACCOUNT_NAME") == "Hello $ACCOUNT_NAME"
    with pytest.raises(TemplateError) as info:
        check_header_text("Hello\nthere", field="subject")
    assert info.value.line == 1
    assert "subject" in str(info.value)


def test_template_line_endings_are_normalised_to_newlines():
    # Jinja's lexer turns CRLF and CR in the template text into LF; values are left alone.
    assert rendered("a\r\nb\rc $ACCOUNT_NAME", account(name="x\r\ny")) == "a\nb\nc x\r\ny"


# ---- HTML TO TEXT


def test_html_to_text_reads_like_the_email():
    html = (
        "<html><head><title>Reminder</title><style>p { color: red }</style></head><body>"
        "<h1>Hello &amp; welcome</h1><p>Dear   <b>Ann</b>,<br>your bill<br/>is due.</p>"
        "<ul><li>one</li><li>two <a href='https://pay.example/1'>pay now</a></li></ul>"
        "<p><a href='https://example.com'>https://example.com</a> "
        "<a href='mailto:help@example.com'>help@example.com</a> <a href='#top'>top</a></p>"
        "<script>alert(1)</script><div>a&nbsp;b</div><div>caf&eacute;</div></body></html>"
    )
    assert html_to_text(html) == (
        "Hello & welcome\n\n"
        "Dear Ann,\nyour bill\nis due.\n\n"
        "- one\n- two pay now [https://pay.example/1]\n\n"
        "https://example.com help@example.com top\n\n"
        "a b\ncafé"
    )


def test_html_to_text_keeps_preformatted_text_and_table_cells_apart():
    html = "<table><tr><td>Ref</td><td>R-1</td></tr></table><pre>  a\n    b</pre>end"
    assert html_to_text(html) == "Ref R-1\n\n  a\n    b\n\nend"


def test_html_to_text_of_a_link_without_text_shows_the_url():
    assert html_to_text("<p>Banner: <a href='https://x.test'><img src='b.png'></a></p>") == (
        "Banner: [https://x.test]"
    )


def test_html_to_text_of_nothing():
    assert html_to_text("") == ""
    assert html_to_text(None) == ""


def test_html_to_text_is_exported_by_render():
    assert render.html_to_text is html_to_text
