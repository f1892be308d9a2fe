"""Hostile templates: each fails fast with a clean error and reveals nothing of Python."""

import re
import time

import pytest

from outbound_bulk_messaging.engine import render
from outbound_bulk_messaging.engine.errors import SandboxViolation, UnknownPlaceholderError
from outbound_bulk_messaging.engine.render import compile_template, make_context

SV, UP = SandboxViolation, UnknownPlaceholderError

PAYLOADS = [
    # reaching Python internals
    ("{{ ''.__class__.__mro__ }}", SV),
    ("{{ account.__class__ }}", SV),
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", SV),
    ("{{ ().__class__ }}", SV),
    ("{{ ''.__class__.__base__.__subclasses__()[40]('/etc/passwd').read() }}", SV),
    ("{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}", SV),
    ("{{ cycler.__init__.__globals__ }}", UP),
    ("{{ lipsum.__globals__ }}", UP),
    ("{{ self._TemplateReference__context }}", SV),
    ("{{ self.__init__.__globals__ }}", SV),
    ("{{ ''|attr('__class__') }}", SV),
    ("{{ account|attr('__class__') }}", SV),
    ("{{ account|attr('\\x5f\\x5fclass\\x5f\\x5f') }}", SV),
    ("{{ account['__class__'] }}", SV),
    ("{{ '{0.__class__}'.format(account) }}", SV),
    ("{{ '{0.__class__.__base__}'.format(account) }}", SV),
    ("{{ '{0[__class__]}'.format(account) }}", SV),
    ("{{ '{x.__class__}'.format_map({'x': account}) }}", SV),
    ("{{ '%s'|format(account.__class__) }}", SV),
    ("{{ ''.format_map }}", SV),
    ("{{ account.items }}", SV),
    ("{{ account.items.__self__ }}", UP),
    ("{{ account.items.invoke }}", SV),
    ("{{ [''.upper] }}", SV),
    ("{{ ''.upper|string }}", SV),
    ("{{ range }}", SV),
    ("{{ range.__call__.__globals__ }}", SV),
    ("{{ (9).to_bytes(8, 'big') }}", SV),
    ("{{ ''.encode('utf-8') }}", SV),
    ("{{ account.data.get.__self__ }}", UP),
    ("{{ ['a', 'b']|map(attribute='__class__')|list }}", SV),
    ("{{ ['a', 'b']|sort(attribute='__class__') }}", SV),
    ("{{ ['a']|groupby('__class__') }}", SV),
    ("{{ ['a', 'b']|selectattr('__class__')|list }}", SV),
    ("{{ ['a']|map(attribute='upper')|list }}", SV),
    ("{{ account.nope|tojson }}", UP),
    # names that exist in other Jinja deployments
    ("{{ request }}", UP),
    ("{{ request.application.__globals__ }}", UP),
    ("{{ config }}", UP),
    ("{{ config.items() }}", UP),
    ("{{ namespace }}", UP),
    ("{{ dict(a=1) }}", UP),
    ("{{ joiner }}", UP),
    ("{{ __builtins__ }}", UP),
    ("{{ get_flashed_messages() }}", UP),
    ("{{ url_for.__globals__ }}", UP),
    ("{{ super() }}", UP),
    # mutating the context
    ("{{ account.update({'x': 1}) }}", SV),
    ("{{ account.data.clear() }}", SV),
    ("{{ [].pop() }}", SV),
    ("{{ account.data.setdefault('x', 1) }}", SV),
    # constructs refused at compile time
    ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", SV),
    ("{% call range(1) %}x{% endcall %}", SV),
    ("{% include 'x' %}", SV),
    ("{% extends 'x' %}", SV),
    ("{% import 'x' as y %}", SV),
    ("{% from 'x' import y %}", SV),
    ("{% block a %}{{ self.a() }}{{ self.a() }}{% endblock %}", SV),
    ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", SV),
    (
        "{% for a in range(9) %}{% for b in range(9) %}{% for c in range(9) %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        SV,
    ),
    # exhausting memory or CPU
    ("{% for i in range(10**9) %}{% endfor %}", SV),
    ("{{ range(0, -10**9, -1)|list }}", SV),
    ("{{ range(10**30)|list }}", SV),
    ("{{ 'a' * 999999999 }}", SV),
    ("{{ [1] * 10**9 }}", SV),
    ("{{ (1,) * 10**9 }}", SV),
    ("{{ 9**(9**9) }}", SV),
    ("{{ 2**100000 }}", SV),
    ("{{ '%999999999d' % 1 }}", SV),
    ("{{ '%*d' % (999999999, 1) }}", SV),
    ("{{ '%.999999999f' % 1.5 }}", SV),
    ("{{ '%999999999d'|format(1) }}", SV),
    ("{{ '{:999999999}'.format(1) }}", SV),
    ("{{ '{:.999999999f}'.format(1.5) }}", SV),
    ("{{ '{:{}}'.format(1, 999999999) }}", SV),
    ("{{ '%c' % 99999999 }}", SV),
    ("{{ 'a'|center(999999999) }}", SV),
    ("{{ 'a'|indent(999999999) }}", SV),
    ("{{ 'a'.ljust(999999999) }}", SV),
    ("{{ 'a'.zfill(999999999) }}", SV),
    ("{{ 'ab'|replace('', 'x' * 100000) }}", SV),
    ("{{ 'ab'.replace('a', 'x' * 100000) * 2 }}", SV),
    ("{{ range(1000)|join('x' * 1000) }}", SV),
    ("{{ ('x' * 1000).join(range(1000)|map('string')) }}", SV),
    ("{{ [1]|batch(999999999, 0)|list }}", SV),
    ("{{ [1]|slice(999999999)|list }}", SV),
    ("{{ [[1] * 1000] * 1000 }}", SV),
    ("{{ [[1] * 1000]|sum(start=[]) }}", SV),
    ("{{ account|tojson(indent=999999999) }}", SV),
    ("{% set a = 'x' * 1000 %}" + "{% set a = a ~ a %}" * 40 + "{{ a|length }}", SV),
    ("{% set a = 'x' * 1000 %}" + "{% set a = a + a %}" * 40 + "{{ a|length }}", SV),
    ("{% set a = ['x'] %}" + "{% set a = [a, a, a, a, a, a, a, a, a, a] %}" * 12 + "{{ a }}", SV),
    ("{% set a = {'x': 1} %}" + "{% set a = {'a': a, 'b': a, 'c': a} %}" * 30 + "{{ a }}", SV),
    ("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", SV),
    ("{% for i in range(1000) %}{% for j in range(1000) %}{{ i }}{% endfor %}{% endfor %}", SV),
    (
        "{% set s %}{% for i in range(1000) %}{% for j in range(1000) %}{{ 'x' * 1000 }}"
        "{% endfor %}{% endfor %}{% endset %}{{ s|length }}",
        SV,
    ),
    (
        "{% filter upper %}{% for i in range(1000) %}{{ 'x' * 99999 }}{% endfor %}{% endfilter %}",
        SV,
    ),
    (
        "{% for i in range(1000) %}{% for j in range(1000) %}{% set x = range(1000)|sum %}"
        "{% endfor %}{% endfor %}",
        SV,
    ),
    ("{% for c in 'x' * 100000 %}{% for d in 'x' * 100000 %}{% endfor %}{% endfor %}", SV),
    ("{{ '(' * 10000 }}", None),  # a harmless string of parentheses, not a parser bomb
    ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", SV),
]

# What a message must never show: memory addresses, reprs of Python objects, traceback bits.
INTERNALS = re.compile(
    r"0x[0-9a-fA-F]{4,}|<(class|built-in|function|bound|module|generator|method)|object at"
    r"|Traceback|File \"|site-packages|jinja2\.|__globals__|__subclasses__|__mro__|__init__"
)


def attempt(source):
    started = time.perf_counter()
    try:
        output = compile_template(source).render(make_context({"name": "Ann", "data": {}}))
    except (SandboxViolation, UnknownPlaceholderError) as exc:
        return exc, time.perf_counter() - started
    return output, time.perf_counter() - started


@pytest.mark.parametrize(("source", "error"), PAYLOADS, ids=[p[0][:60] for p in PAYLOADS])
def test_payload_fails_cleanly_and_fast(source, error):
    result, elapsed = attempt(source)
    assert elapsed < 0.5, f"took {elapsed:.2f}s"
    if error is None:
        assert isinstance(result, str) and len(result) == 10000
        return
    assert type(result) is error, result
    assert not INTERNALS.search(str(result)), str(result)
    assert result.line in (1, None)


def test_violation_points_at_the_line():
    result, _elapsed = attempt("Dear $ACCOUNT_NAME,\n\nyour {{ account.__class__ }}")
    assert isinstance(result, SandboxViolation)
    assert result.line == 3
    assert "line 3" in str(result) and "'__class__' is not allowed" in str(result)


def test_refused_construct_is_named_with_its_line():
    result, _elapsed = attempt("a\n{% include 'footer.html' %}")
    assert isinstance(result, SandboxViolation)
    assert result.line == 2
    assert "{% include %}" in str(result)


def test_mutation_attempt_leaves_the_context_unchanged():
    context = make_context({"name": "Ann", "data": {"Amount": "1"}})
    with pytest.raises(SandboxViolation):
        compile_template("{{ account.data.clear() }}").render(context)
    assert context["account"]["data"] == {"Amount": "1"}


def test_jinja_pow_is_left_associative_so_9_9_9_is_small():
    # Unlike Python, Jinja reads 9**9**9 as (9**9)**9 == 9**81: a 78-digit number, not a bomb.
    result, elapsed = attempt("{{ 9**9**9 }}")
    assert result == str(9**81)
    assert elapsed < 0.5


def test_work_budget_is_per_render(monkeypatch):
    monkeypatch.setattr(render, "MAX_STEPS", 200)
    monkeypatch.setattr(render._Context, "steps_left", 200)
    compiled = compile_template("{% for i in range(50) %}{{ i }}{% endfor %}")
    context = make_context({"name": "Ann"})
    assert compiled.render(context).startswith("0123")
    assert compiled.render(context).startswith("0123")  # a second render has a fresh budget
    with pytest.raises(SandboxViolation, match="too much work"):
        compile_template("{% for i in range(250) %}{% endfor %}").render(context)


def test_wall_clock_backstop(monkeypatch):
    monkeypatch.setattr(render, "RENDER_TIMEOUT", -1.0)
    compiled = compile_template("{% for i in range(3) %}{{ i }}{% endfor %}")
    with pytest.raises(SandboxViolation, match="takes longer than"):
        compiled.render(make_context({"name": "Ann"}))


# ---- WHAT THE SANDBOX STILL ALLOWS


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ ACCOUNT_NAME.upper() }} {{ account.name.replace('n', 'N') }}", "ANN ANN"),
        ("{{ '{:>6}|{:<4}|'.format(account.name, 'x') }}", "   Ann|x   |"),
        ("{{ '{name} owes'.format_map(account) }}", "Ann owes"),
        ("{{ '{obj}-{context}-{self}'.format(obj=1, context=2, self=3) }}", "1-2-3"),
        ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
        ("{{ range(1000)|length }}", "1000"),
        (
            "{% for i in range(2) %}{% for j in range(2) %}{{ i }}{{ j }} {% endfor %}{% endfor %}",
            "00 01 10 11 ",
        ),
        ("{{ ', '.join(['a', 'b']) }} {{ 'a,b'.split(',') }}", "a, b ['a', 'b']"),
        ("{{ '%s: %05.1f' % ('total', 3.14159) }}", "total: 003.1"),
        ("{{ 2 ** 10 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 'ab' * 3 }}", "1024 3 1 ababab"),
        ("{{ account.data.get('Segment', 'none') }}", "none"),
        ("{{ ['b', 'a']|sort|join('-') }} {{ [1, 2, 3]|sum }}", "a-b 6"),
        ("{{ account.name|center(7) }}|", "  Ann  |"),
        ("{% set x %}<{{ account.name }}>{% endset %}{{ x|upper }}", "<ANN>"),
        ("{{ 'x' * 1000 ~ '' }}", "x" * 1000),
        ("{% for k, v in {'a': 1}.items() %}{{ k }}{{ v }}{% endfor %}", "a1"),
    ],
)
def test_ordinary_templates_still_work(source, expected):
    assert compile_template(source).render(make_context({"name": "Ann", "data": {}})) == expected
