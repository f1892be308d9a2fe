"""Message templates: ``$PLACEHOLDERS`` and Jinja2, rendered in a sandbox.

Templates are written by campaign users, not developers, and are rendered for every account of a
send job, so the engine must (1) tell the author precisely what is wrong when the template is
saved, (2) render fast, and (3) never let a template reach Python internals or exhaust the
server.

Placeholders in the user manual's style (``$ACCOUNT_NAME``, ``${ACCOUNT_NAME}s``, ``$$``) are
rewritten to Jinja expressions before compiling, on the same line, so that every error points at
the line the author wrote. Inside Jinja tags the author writes plain Jinja.

The sandbox builds on :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` (no ``_`` attributes,
no mutation of the context) and adds what that class leaves to its user:

- no globals but a ``range`` capped at :data:`MAX_RANGE` items; no macros, includes, imports,
  blocks, recursive loops, ``self``; loops nested at most :data:`MAX_LOOP_DEPTH` deep;
- every value built by an operator, a filter, a method or a ``~``/list/dict display is measured:
  nothing may exceed ``max_output`` characters, and the amplifying operations (``'x' * n``,
  ``center(n)``, ``replace``, ``join``, ``%`` and ``format`` widths, ``**``) are refused before
  they allocate;
- every loop iteration and every measured value draws on a per-render work budget
  (:data:`MAX_STEPS`), with :data:`RENDER_TIMEOUT` as a wall-clock backstop;
- methods are reachable only from an allow-list, and neither a method nor an undefined value can
  be printed, so no ``<built-in method … at 0x…>`` ever reaches a message;
- every failure is an :mod:`~outbound_bulk_messaging.engine.errors` class with the line.
"""

import functools
import re
import time
from collections.abc import Iterator
from itertools import islice

from jinja2 import nodes, pass_context, pass_environment
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import (
    SecurityError,
    TemplateSyntaxError as JinjaSyntaxError,
    UndefinedError,
)
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import Context, LoopContext, StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import missing
from markupsafe import EscapeFormatter, Markup

from .errors import (
    SandboxViolation,
    TemplateError,
    TemplateSyntaxError,
    UnknownPlaceholderError,
)
from .html_text import html_to_text

__all__ = [
    "STANDARD_PLACEHOLDERS",
    "CompiledTemplate",
    "check_header_text",
    "column_key",
    "compile_template",
    "html_to_text",
    "make_context",
    "render_subject",
]

STANDARD_PLACEHOLDERS = (
    "ACCOUNT_NAME",
    "ACCOUNT_SMS_NUMBER",
    "ACCOUNT_EMAIL",
    "ACCOUNT_REFERENCE",
    "ACCOUNT_STATUS",
    "LIST_NAME",
    "CAMPAIGN_NAME",
    "UNSUBSCRIBE_URL",
)
ACCOUNT_PREFIX = "ACCOUNT_"
JINJA_NAMES = ("account", "list", "campaign", "range")

MAX_RANGE = 1000
MAX_LOOP_DEPTH = 2
MAX_STEPS = 500_000
MAX_INT_BITS = 4096
RENDER_TIMEOUT = 0.5  # seconds; a real message renders in microseconds

_STANDARD = frozenset(STANDARD_PLACEHOLDERS)
_ACCOUNT_FIELDS = ("name", "reference", "email", "sms_number", "status")


# ---- NAMES


def column_key(name):
    """Placeholder suffix of an imported column: ``"Due date"`` -> ``"DUE_DATE"``.

    Non-ASCII letters are dropped like punctuation rather than transliterated, so the key is
    predictable from what the author sees (``"Échéance"`` -> ``"CH_ANCE"``).
    """
    return _NON_ALNUM.sub("_", name).strip("_").upper()


_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")


@functools.lru_cache(maxsize=4096)
def _column_variable(name):
    """``ACCOUNT_<KEY>`` for a column, or ``None``; cached because make_context runs per account."""
    key = column_key(name)
    return ACCOUNT_PREFIX + key if key else None


def _known_placeholders(columns):
    if columns is None:
        return None
    columns = {_column_variable(column) for column in columns} - {None}
    return _STANDARD | columns


def _is_known(name, known):
    if known is not None:
        return name in known
    return name in _STANDARD or (name.startswith(ACCOUNT_PREFIX) and name != ACCOUNT_PREFIX)


def _is_placeholder_name(name):
    return name in _STANDARD or name.startswith(ACCOUNT_PREFIX)


# ---- PLACEHOLDER TRANSLATION

_SPECIAL = re.compile(r"\$|\{[{%#]")
_PLACEHOLDER = re.compile(r"([A-Za-z_]\w*)|\{([A-Za-z_]\w*)\}", re.ASCII)
_TAG_TOKEN = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|\}\}|%\}""", re.DOTALL)
_RAW_START = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}")
_RAW_END = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_CLOSERS = {"{{": "}}", "{%": "%}"}


def _translate(source, field):
    """Rewrite ``$NAME`` outside Jinja tags as ``{{ NAME }}``, never adding or removing a newline.

    :returns: the Jinja source and the ``(NAME, offset)`` of every placeholder found
    """
    out, found, pos = [], [], 0
    while match := _SPECIAL.search(source, pos):
        out.append(source[pos : match.start()])
        if match.group() == "$":
            pos = _translate_dollar(source, match.start(), out, found, field)
        else:
            pos = _tag_end(source, match.start())
            out.append(source[match.start() : pos])
    out.append(source[pos:])
    return "".join(out), found


def _translate_dollar(source, index, out, found, field):
    following = source[index + 1 : index + 2]
    if following == "$":
        out.append("$")
        return index + 2
    match = _PLACEHOLDER.match(source, index + 1)
    if match is None:
        # "${{ amount }}" is a dollar sign before a Jinja tag; any other "${" is a typo.
        if following == "{" and not source.startswith(("{{", "{%", "{#"), index + 1):
            raise TemplateSyntaxError(
                f"Invalid placeholder '${{' on line {_line_of(source, index)} of the {field}: "
                "write ${NAME}, or $$ for a dollar sign",
                line=_line_of(source, index),
            )
        out.append("$")
        return index + 1
    name = (match.group(1) or match.group(2)).upper()
    found.append((name, index))
    _escape_open_brace(out)
    out.append("{{ %s }}" % name)
    return match.end()


def _escape_open_brace(out):
    """A literal "{" right before the expression would make Jinja read "{{{" as "{{" + "{"."""
    for position in range(len(out) - 1, -1, -1):
        if out[position]:
            if out[position].endswith("{"):
                out[position] = out[position][:-1] + "{{ '{' }}"
            return


def _tag_end(source, start):
    """Offset just after the Jinja tag (or raw block) opening at ``start``."""
    opener = source[start : start + 2]
    if opener == "{#":
        end = source.find("#}", start + 2)
        return len(source) if end < 0 else end + 2
    raw = _RAW_START.match(source, start)
    if raw:
        end = _RAW_END.search(source, raw.end())
        return end.end() if end else len(source)
    for token in _TAG_TOKEN.finditer(source, start + 2):
        if token.group() == _CLOSERS[opener]:
            return token.end()
    return len(source)  # unclosed: Jinja reports it with its line


def _line_of(source, offset):
    return source.count("\n", 0, offset) + 1


# ---- SANDBOX: ERRORS AND OPAQUE VALUES


class _Refused(SecurityError):
    """Raised by the sandbox's own checks; the text is meant for the template author."""


class _MissingValue(UndefinedError):
    """StrictUndefined's error, keeping the missing name for the author's message."""

    def __init__(self, message=None, *, name=None, top_level=False):
        super().__init__(message)
        self.name = name
        self.top_level = top_level


class _Undefined(StrictUndefined):
    """Fails on any use, including ``repr`` (lists of undefined values must not print)."""

    __slots__ = ()

    def __init__(self, hint=None, obj=missing, name=None, exc=UndefinedError):
        if exc is UndefinedError:
            exc = functools.partial(_MissingValue, name=name, top_level=obj is missing)
        super().__init__(hint, obj, name, exc)

    __repr__ = StrictUndefined.__str__  # which raises


class _Opaque:
    """A callable the template may call but never print: its repr would show a memory address."""

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def _refuse(self, *args):
        raise _Refused(f"'{self._name}' is a function: call it with ()")

    __str__ = __repr__ = __format__ = _refuse


class _BoundMethod(_Opaque):
    """An allowed method of a value; the sandbox calls it through :meth:`_Sandbox.call`."""

    __slots__ = ("_obj", "_func")

    def __init__(self, obj, name, func):
        super().__init__(name)
        self._obj, self._func = obj, func

    def invoke(self, environment, context, args, kwargs):
        """Call the method; a template cannot reach this (not in the allow-list)."""
        _charge(context, 1 + _length(self._obj))
        if self._name in ("format", "format_map") and isinstance(self._obj, str):
            return environment.format_string(self._obj, args, kwargs, self._func)
        precheck = _METHOD_PRECHECKS.get(self._name)
        if precheck:
            precheck(environment.max_output, self._obj, args, kwargs)
        return self._func(*args, **kwargs)


class _Range(_Opaque):
    """The only global: ``range`` limited to :data:`MAX_RANGE` items."""

    __slots__ = ()

    def __init__(self):
        super().__init__("range")

    def __call__(self, *args, **kwargs):
        result = range(*args, **kwargs)
        try:
            too_long = len(result) > MAX_RANGE
        except OverflowError:  # longer than sys.maxsize
            too_long = True
        if too_long:
            raise _Refused(f"range() is limited to {MAX_RANGE} items")
        return result


_RANGE = _Range()
# Read-only or bounded string methods; anything else (encode, expandtabs...) is refused.
_STR_METHODS = frozenset(
    {
        *("capitalize", "casefold", "lower", "upper", "swapcase", "title"),
        *("strip", "lstrip", "rstrip", "removeprefix", "removesuffix", "striptags", "unescape"),
        *("count", "find", "rfind", "index", "rindex", "startswith", "endswith"),
        *("isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "islower", "isnumeric"),
        *("isspace", "istitle", "isupper"),
        *("split", "rsplit", "splitlines", "partition", "rpartition"),
        *("center", "ljust", "rjust", "zfill", "replace", "join", "format", "format_map"),
    }
)
_METHODS = (
    (str, _STR_METHODS),
    (dict, frozenset({"get", "items", "keys", "values"})),
    ((list, tuple, range), frozenset({"count", "index"})),
    (LoopContext, frozenset({"cycle", "changed"})),
)


def _method_allowed(obj, name):
    return any(isinstance(obj, kind) and name in names for kind, names in _METHODS)


# ---- SANDBOX: SIZES AND WORK BUDGET


class _Context(Context):
    """A render's context, carrying its work budget (class defaults: nothing to set per render)."""

    steps_left = MAX_STEPS
    deadline = None


def _charge(context, steps):
    context.steps_left -= steps
    if context.steps_left < 0:
        raise _Refused("the template does too much work (loops or filters over large values)")
    now = time.monotonic()
    if context.deadline is None:
        context.deadline = now + RENDER_TIMEOUT
    elif now > context.deadline:
        raise _Refused(f"the template takes longer than {RENDER_TIMEOUT} s to render")


def _text_size(value, limit):
    """Roughly ``len(str(value))``, counting shared sub-lists each time, stopping past ``limit``.

    Counting stops early, so measuring costs at most about ``limit`` steps even for a list that
    holds itself a million times over.
    """
    stack, size = [value], 0
    while stack and size <= limit:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, (list, tuple, set, frozenset, dict)):
            size += 2 + 2 * len(item)
            stack.extend(islice(item.items() if isinstance(item, dict) else item, limit))
        elif isinstance(item, int):
            size += item.bit_length() // 3 + 1
        else:
            size += 8
    return size


def _length(value):
    if isinstance(value, Undefined):
        return 0  # len() would raise, and |default must still receive it
    try:
        return len(value)
    except TypeError:
        return 0


def _refuse_over(amount, limit, what, unit="characters"):
    if isinstance(amount, int) and amount > limit:
        raise _Refused(f"the {what} would exceed {limit} {unit}".rstrip())


def _refuse_bits(bits):
    if bits > MAX_INT_BITS:
        raise _Refused("a number in the template would be too large")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def _check_percent_widths(text, limit):
    for spec in _PERCENT_SPEC.finditer(str(text)):
        for width in spec.groups():
            if width == "*":
                raise _Refused("'*' widths are not allowed in % formatting")
            _check_width(width, limit)


def _check_width(digits, limit):
    if digits and (len(digits) > 9 or int(digits) > limit):
        raise _Refused(f"a format width or precision over {limit} is not allowed")


# ---- SANDBOX: PRE-CHECKS OF AMPLIFYING OPERATIONS
# Each raises _Refused before the operation allocates more than the output limit. Operators get
# (limit, left, right); filters and methods (limit, value, args, kwargs) as the template gave.


def _pre_multiply(limit, left, right):
    if isinstance(left, int) and isinstance(right, int):
        _refuse_bits(left.bit_length() + right.bit_length())
    elif isinstance(right, int) and _length(left):
        _refuse_over(_text_size(left, limit) * right, limit, "repeated value")
    elif isinstance(left, int) and _length(right):
        _refuse_over(_text_size(right, limit) * left, limit, "repeated value")


def _pre_power(_limit, left, right):
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        _refuse_bits(left.bit_length() * right)


def _pre_modulo(limit, left, _right):
    if isinstance(left, str):
        _check_percent_widths(left, limit)


def _argument(args, kwargs, position, name, default=None):
    """An argument of the filter or method call, given by position or by name."""
    return args[position] if len(args) > position else kwargs.get(name, default)


def _pre_width(limit, _value, args, kwargs):
    _refuse_over(_argument(args, kwargs, 0, "width", 80), limit, "padded text")


def _pre_indent(limit, value, args, kwargs):
    width = _argument(args, kwargs, 0, "width", 4)
    per_line = len(width) if isinstance(width, str) else width
    if isinstance(per_line, int):
        _refuse_over(per_line * (str(value).count("\n") + 1), limit, "indented text")


def _pre_replace(limit, value, args, kwargs):
    text = str(value)
    old, new = (str(_argument(args, kwargs, i, name, "")) for i, name in enumerate(("old", "new")))
    hits = text.count(old) if old else len(text) + 1
    count = _argument(args, kwargs, 2, "count")
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _refuse_over(len(text) + hits * max(len(new) - len(old), 0), limit, "replaced text")


def _pre_join_filter(limit, value, args, kwargs):
    separator = str(_argument(args, kwargs, 0, "d", ""))
    _refuse_over(len(separator) * _length(value), limit, "joined text")


def _pre_join_method(limit, separator, args, kwargs):
    _refuse_over(
        len(separator) * _length(_argument(args, kwargs, 0, "iterable")), limit, "joined text"
    )


def _pre_count(what, name):
    def check(limit, _value, args, kwargs):
        _refuse_over(_argument(args, kwargs, 0, name), limit, what, unit="")

    return check


def _pre_percent(limit, value, _args, _kwargs):
    _check_percent_widths(value, limit)


def _pre_sum(_limit, _value, args, kwargs):
    if not isinstance(_argument(args, kwargs, 1, "start", 0), (int, float)):
        raise _Refused("sum only adds numbers")


def _pre_tojson(_limit, value, args, kwargs):
    if isinstance(value, Undefined):
        str(value)  # raises the missing-value error, not "_Undefined is not JSON serializable"
    _refuse_over(_argument(args, kwargs, 0, "indent"), 8, "JSON indent", unit="spaces")


_BINOP_PRECHECKS = {"*": _pre_multiply, "**": _pre_power, "%": _pre_modulo}
_FILTER_PRECHECKS = {
    "center": _pre_width,
    "indent": _pre_indent,
    "format": _pre_percent,
    "replace": _pre_replace,
    "join": _pre_join_filter,
    "batch": _pre_count("batch size", "linecount"),
    "slice": _pre_count("number of slices", "slices"),
    "sum": _pre_sum,
    "tojson": _pre_tojson,
}
_METHOD_PRECHECKS = {
    "center": _pre_width,
    "ljust": _pre_width,
    "rjust": _pre_width,
    "zfill": _pre_width,
    "replace": _pre_replace,
    "join": _pre_join_method,
}


# ---- SANDBOX: ENVIRONMENT


class _Formatter(SandboxedFormatter):
    """str.format in the sandbox, refusing widths that would allocate gigabytes."""

    def format_field(self, value, format_spec):
        for digits in _DIGITS.findall(format_spec):
            _check_width(digits, self._env.max_output)
        return super().format_field(value, format_spec)


class _EscapeFormatter(_Formatter, EscapeFormatter):
    pass


class _CodeGenerator(CodeGenerator):
    """Measures ``~`` and list/tuple/dict displays, which build values without a sandbox hook."""

    def _checked(self, visit, node, frame):
        self.write("environment.checked(context, ")
        visit(node, frame)
        self.write(")")

    def visit_Concat(self, node, frame):
        return self._checked(super().visit_Concat, node, frame)

    def visit_List(self, node, frame):
        return self._checked(super().visit_List, node, frame)

    def visit_Dict(self, node, frame):
        return self._checked(super().visit_Dict, node, frame)

    def visit_Tuple(self, node, frame):
        if node.ctx != "load":  # a "for a, b in" target is not a value
            return super().visit_Tuple(node, frame)
        return self._checked(super().visit_Tuple, node, frame)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(ImmutableSandboxedEnvironment.default_binop_table)
    code_generator_class = _CodeGenerator
    context_class = _Context

    def __init__(self, *, html, max_output):
        super().__init__(autoescape=html, undefined=_Undefined, keep_trailing_newline=True)
        self.max_output = max_output
        self.globals.clear()
        self.globals["range"] = _RANGE
        self.filters = _guarded_filters(self.filters, max_output)

    # ---- values

    def checked(self, context, value):
        """Return ``value`` once measured against the output limit and charged to the budget."""
        size = _text_size(value, self.max_output)
        _charge(context, size)
        _refuse_over(size, self.max_output, "value")
        return value

    def concat(self, parts):
        """Join a {% set %} or {% filter %} block, refusing before the join allocates."""
        _refuse_over(sum(map(len, parts)), self.max_output, "block")
        return "".join(parts)

    # ---- attributes and calls

    def is_safe_attribute(self, obj, attr, value):
        if not super().is_safe_attribute(obj, attr, value):
            return False
        return not callable(value) or _method_allowed(obj, attr)

    def unsafe_undefined(self, obj, attribute):
        name = str(attribute)[:40]
        hint = f"'{name}' is not allowed in a template"
        return self.undefined(hint, obj=obj, name=attribute, exc=_Refused)

    def getattr(self, obj, attribute):
        return _wrap_callable(obj, attribute, super().getattr(obj, attribute))

    def getitem(self, obj, argument):
        return _wrap_callable(obj, argument, super().getitem(obj, argument))

    # Positional-only, so that a template may still pass "obj=" or "context=" to a method.
    def call(self, context, obj, /, *args, **kwargs):
        kwargs.pop("_loop_vars", None)
        kwargs.pop("_block_vars", None)
        if isinstance(obj, _BoundMethod):
            return self.checked(context, obj.invoke(self, context, args, kwargs))
        if isinstance(obj, (_Range, Undefined)):
            return obj(*args, **kwargs)  # an Undefined raises its own error
        raise _Refused("this value cannot be called")

    def format_string(self, s, args, kwargs, format_func=None):
        if isinstance(s, Markup):
            formatter = _EscapeFormatter(self, escape=s.escape)
        else:
            formatter = _Formatter(self)
        if format_func is not None and format_func.__name__ == "format_map":
            if len(args) != 1 or kwargs:
                raise TypeError("format_map() takes exactly one argument")
            args, kwargs = (), args[0]
        return type(s)(formatter.vformat(s, args, kwargs))

    # ---- operators

    def call_binop(self, context, operator, left, right):
        precheck = _BINOP_PRECHECKS.get(operator)
        if precheck:
            precheck(self.max_output, left, right)
        return self.checked(context, self.binop_table[operator](left, right))


def _wrap_callable(obj, name, value):
    if callable(value) and not isinstance(value, Undefined):
        return _BoundMethod(obj, name, value)
    return value


@pass_environment
def _attr_filter(environment, obj, name):
    """``|attr`` through the sandbox's getattr, so the result is wrapped like ``obj.name``."""
    return environment.getattr(obj, str(name))


@pass_context
def _loop_guard(context, iterable, weight):
    """Charge each iteration with the size of the loop body (set by the compiler, see below)."""
    for item in iterable:
        _charge(context, weight)
        yield item


_LOOP_GUARD = "loop guard"  # a space: no template can name this filter


def _guarded_filters(filters, limit):
    filters = dict(filters, attr=_attr_filter)
    guarded = {name: _guard_filter(name, func, limit) for name, func in filters.items()}
    guarded[_LOOP_GUARD] = _loop_guard
    return guarded


def _guard_filter(name, func, limit):
    kind = getattr(getattr(func, "jinja_pass_arg", None), "name", None)
    precheck = _FILTER_PRECHECKS.get(name)

    @pass_context
    def guarded(context, value, *args, **kwargs):
        _charge(context, 1 + _length(value))
        if precheck:
            precheck(limit, value, args, kwargs)
        result = func(*_passed(kind, context), value, *args, **kwargs)
        return context.environment.checked(context, _materialise(result, limit))

    return guarded


def _passed(kind, context):
    """The leading argument Jinja would pass to a filter decorated with pass_*."""
    if kind == "context":
        return (context,)
    if kind == "eval_context":
        return (context.eval_ctx,)
    if kind == "environment":
        return (context.environment,)
    return ()


def _materialise(result, limit):
    """Filters like map/batch return generators: list them (their repr shows an address)."""
    if not isinstance(result, Iterator):
        return result
    items = list(islice(result, limit + 1))
    _refuse_over(len(items), limit, "list", unit="items")
    return items


@functools.lru_cache(maxsize=16)
def _environment(html, max_output):
    return _Sandbox(html=html, max_output=max_output)


# ---- COMPILING


class CompiledTemplate:
    """A template checked and compiled once per send job, rendered once per account.

    :ivar placeholders: sorted tuple of the placeholder names the template reads
    :ivar variables: sorted tuple of every top-level name the template reads
    """

    def __init__(self, template, *, field, html, variables, max_output, pieces=None):
        self.field = field
        self.html = html
        self.max_output = max_output
        self.variables = variables
        self.placeholders = tuple(name for name in variables if _is_placeholder_name(name))
        self._template = template
        # A context from make_context lacks the globals; merging them costs a dict copy per
        # render, so it is done only for the templates that use range().
        self._shared = "range" not in variables
        # Literal text and placeholder names, when the template is nothing else (text only).
        self._pieces = pieces if not html else None

    @property
    def placeholders_only(self):
        """True when the template is fixed text and placeholders: no tag, filter or expression."""
        return self._pieces is not None

    def render_fast(self, context):
        """What :meth:`render` returns, joined without Jinja when the template is placeholders
        only (about ten times faster); anything unusual (a missing value, an oversized text)
        goes through :meth:`render`, which raises the error it would."""
        if self._pieces is None:
            return self.render(context)
        try:
            text = "".join(piece if literal else context[piece] for literal, piece in self._pieces)
        except (KeyError, TypeError):
            return self.render(context)
        return text if len(text) <= self.max_output else self.render(context)

    def render(self, context):
        """Render with ``context`` (see :func:`make_context`); raises a TemplateError subclass."""
        template = self._template
        try:
            chunks = template.root_render_func(template.new_context(context, self._shared))
            return self._collect(chunks)
        except TemplateError:
            raise
        except Exception as exc:
            raise _render_error(exc, template, self.field) from exc

    def _collect(self, chunks):
        """Join the output, stopping as soon as it passes ``max_output``."""
        parts, size, limit = [], 0, self.max_output
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise _Refused(f"the {self.field} would be longer than {limit} characters")
            parts.append(chunk)
        return "".join(parts)


def compile_template(source, *, html=False, columns=None, field="body", max_output=100_000):
    """Check and compile a template.

    :param columns: the imported column names the accounts have; ``None`` accepts any
        ``$ACCOUNT_<COLUMN>`` (shared templates) and leaves a missing one to fail at render
    :param field: what the template is ("body", "subject"), named in error messages
    :raises TemplateSyntaxError, UnknownPlaceholderError, SandboxViolation: with ``line``
    """
    source = source or ""  # an empty Odoo field is False
    environment = _environment(bool(html), max_output)
    known = _known_placeholders(columns)
    try:
        return _compile(environment, source, known, field)
    except (RecursionError, MemoryError) as exc:
        raise SandboxViolation(f"The {field} is too deeply nested or too large") from exc


def _compile(environment, source, known, field):
    text, found = _translate(source, field)
    try:
        ast = environment.parse(text)
        _check_constructs(ast, field)
        _check_placeholders(source, found, known, field)
        variables = _check_variables(ast, known, field)
        _guard_loops(ast, environment)
        pieces = _concat_pieces(ast)
        template = environment.from_string(ast)
    except JinjaSyntaxError as exc:  # also unknown filters and tests, found while compiling
        raise _syntax_error(exc, field) from exc
    return CompiledTemplate(
        template,
        field=field,
        html=environment.autoescape,
        variables=variables,
        max_output=environment.max_output,
        pieces=pieces,
    )


def _concat_pieces(ast):
    """``((is_literal, text_or_name), ...)`` of a template that is only text and placeholders,
    else ``None``: Jinja's own parse tree decides, so the join is what Jinja would output."""
    pieces = []
    for output in ast.body:
        if not isinstance(output, nodes.Output):
            return None
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                pieces.append((True, node.data))
            elif isinstance(node, nodes.Const) and isinstance(node.value, str):
                pieces.append((True, node.value))
            elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name.isupper():
                pieces.append((False, node.name))
            else:
                return None
    return tuple(pieces)


def _syntax_error(exc, field):
    return TemplateSyntaxError(
        f"Syntax error on line {exc.lineno} of the {field}: {exc.message}", line=exc.lineno
    )


_REFUSED_NODES = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Include: "{% include %}",
    nodes.Extends: "{% extends %}",
    nodes.Block: "{% block %}",
}


def _check_constructs(ast, field):
    for node in ast.find_all((nodes.Stmt, nodes.Name)):
        construct = _refused_construct(node)
        if construct:
            raise SandboxViolation(
                f"{construct} is not allowed in a message template "
                f"(line {node.lineno} of the {field})",
                line=node.lineno,
            )
    _check_loop_depth(ast, 0, field)


def _refused_construct(node):
    if isinstance(node, nodes.For) and node.recursive:
        return "A recursive loop"
    if isinstance(node, nodes.Name):
        return "'self'" if node.name == "self" and node.ctx == "load" else None
    return _REFUSED_NODES.get(type(node))


def _check_loop_depth(node, depth, field):
    for child in node.iter_child_nodes():
        inner = depth + isinstance(child, nodes.For)
        if inner > MAX_LOOP_DEPTH:
            raise SandboxViolation(
                f"Loops may be nested at most {MAX_LOOP_DEPTH} deep "
                f"(line {child.lineno} of the {field})",
                line=child.lineno,
            )
        _check_loop_depth(child, inner, field)


def _check_placeholders(source, found, known, field):
    for name, offset in found:
        if not _is_known(name, known):
            line = _line_of(source, offset)
            raise UnknownPlaceholderError(
                f"Unknown placeholder ${name} on line {line} of the {field}"
                f"{_suggestion(name, known)} (known: {_known_list(known)})",
                line=line,
                placeholder=name,
            )


def _suggestion(name, known):
    for candidate in sorted(known or _STANDARD, key=len, reverse=True):
        if name.startswith(candidate):
            rest = name[len(candidate) :].lower()
            return f"; write ${{{candidate}}}{rest} to follow it by letters"
    return ""


def _known_list(known):
    if known is None:
        return ", ".join(f"${name}" for name in STANDARD_PLACEHOLDERS) + ", $ACCOUNT_<COLUMN>"
    columns = sorted(known - _STANDARD)
    return ", ".join(f"${name}" for name in STANDARD_PLACEHOLDERS + tuple(columns))


def _check_variables(ast, known, field):
    variables = find_undeclared_variables(ast)  # leaves out the globals: add range if read
    variables.update(n.name for n in ast.find_all(nodes.Name) if n.name == "range")
    for name in sorted(variables):
        if name not in JINJA_NAMES and not (name.isupper() and _is_known(name, known)):
            raise _unknown_variable(ast, name, known, field)
    return tuple(sorted(variables))


def _unknown_variable(ast, name, known, field):
    line = next((n.lineno for n in ast.find_all(nodes.Name) if n.name == name), None)
    if _is_placeholder_name(name) or name.isupper():
        message = f"Unknown placeholder {name} on line {line} of the {field}"
        message += f" (known: {_known_list(known)})"
    else:
        message = f"Unknown variable {name} on line {line} of the {field}"
        message += f" (known: {', '.join(JINJA_NAMES)} and the placeholder names)"
    return UnknownPlaceholderError(message, line=line, placeholder=name)


def _guard_loops(ast, environment):
    """Make each loop charge the render's budget per iteration, weighted by its body's size."""
    for loop in ast.find_all(nodes.For):
        weight = 1 + sum(1 + sum(1 for _ in stmt.find_all(nodes.Node)) for stmt in loop.body)
        guard = nodes.Filter(loop.iter, _LOOP_GUARD, [nodes.Const(weight)], [], None, None)
        loop.iter = guard.set_lineno(loop.iter.lineno).set_environment(environment)


# ---- RENDER ERRORS


def _render_error(exc, template, field):
    line = _template_line(exc, template)
    where = f" on line {line} of the {field}" if line else f" in the {field}"
    if isinstance(exc, _MissingValue):
        return _missing_value_error(exc, line, where)
    if isinstance(exc, (SecurityError, RecursionError, MemoryError, OverflowError, ValueError)):
        return SandboxViolation(f"Refused{where}: {_sandbox_reason(exc)}", line=line)
    if isinstance(exc, UndefinedError):
        return UnknownPlaceholderError(f"Undefined value{where}", line=line)
    return TemplateError(f"Error{where}: {_sanitise(exc)}", line=line)


def _missing_value_error(exc, line, where):
    name = exc.name
    if exc.top_level and isinstance(name, str) and name.startswith(ACCOUNT_PREFIX):
        message = (
            f"Unknown placeholder ${name}{where}: the account has no column "
            f"{name[len(ACCOUNT_PREFIX) :]}"
        )
    elif exc.top_level:
        message = f"Unknown variable {name}{where}"
    else:
        message = f"Unknown value '{str(name)[:40]}'{where}: there is no such key or attribute"
    return UnknownPlaceholderError(message, line=line, placeholder=name)


def _sandbox_reason(exc):
    if isinstance(exc, _Refused):
        return str(exc)
    if isinstance(exc, SecurityError):
        return "the template uses something that is not allowed"
    if isinstance(exc, RecursionError):
        return "the template nests too deeply"
    if isinstance(exc, MemoryError):
        return "the template needs too much memory"
    if isinstance(exc, OverflowError):
        return "a number is too large"
    return f"invalid value ({_sanitise(exc)})"


_INTERNALS = re.compile(r"<[^<>]*>|\b0x[0-9a-fA-F]+\b")


def _sanitise(exc):
    """The exception text without object reprs or memory addresses, cut to a readable length."""
    return _INTERNALS.sub("...", str(exc))[:200] or type(exc).__name__


def _template_line(exc, template):
    """Line of the template being rendered when ``exc`` was raised (innermost template frame)."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__jinja_template__") is template:
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


# ---- CONTEXT AND SUBJECTS


def make_context(account, *, list_name="", campaign_name="", names=None):
    """The render context of one account: a flat dict of strings, plus dicts for Jinja users.

    :param account: a plain dict with reference, name, email, sms_number, status (the label to
        show) and data (original column name -> value)
    :param names: when given, only these placeholders (a template's ``placeholders``), with the
        values the full context would give them: several times faster, for a template that
        is placeholders only
    """
    if names is not None:
        return _placeholder_context(account, names, list_name, campaign_name)
    data, context = {}, {}
    for column, value in (account.get("data") or {}).items():
        data[column] = value = _text(value)
        key = _column_variable(column)
        if key:
            context[key] = value
    fields = {field: _text(account.get(field)) for field in _ACCOUNT_FIELDS}
    list_name, campaign_name = _text(list_name), _text(campaign_name)
    # Set after the columns: a column named "Name" must not hide the account's name.
    context["ACCOUNT_NAME"] = fields["name"]
    context["ACCOUNT_SMS_NUMBER"] = fields["sms_number"]
    context["ACCOUNT_EMAIL"] = fields["email"]
    context["ACCOUNT_REFERENCE"] = fields["reference"]
    context["ACCOUNT_STATUS"] = fields["status"]
    context["LIST_NAME"] = list_name
    context["CAMPAIGN_NAME"] = campaign_name
    # The email transport sets the message's own link; empty elsewhere (SMS, previews).
    context["UNSUBSCRIBE_URL"] = ""
    fields["data"] = data
    context["account"] = fields
    context["list"] = {"name": list_name}
    context["campaign"] = {"name": campaign_name}
    return context


_STANDARD_VALUES = {
    "ACCOUNT_NAME": lambda account, _list, _campaign: _text(account.get("name")),
    "ACCOUNT_SMS_NUMBER": lambda account, _list, _campaign: _text(account.get("sms_number")),
    "ACCOUNT_EMAIL": lambda account, _list, _campaign: _text(account.get("email")),
    "ACCOUNT_REFERENCE": lambda account, _list, _campaign: _text(account.get("reference")),
    "ACCOUNT_STATUS": lambda account, _list, _campaign: _text(account.get("status")),
    "LIST_NAME": lambda _account, list_name, _campaign: _text(list_name),
    "CAMPAIGN_NAME": lambda _account, _list, campaign_name: _text(campaign_name),
}


def _placeholder_context(account, names, list_name, campaign_name):
    context = {}
    if any(name not in _STANDARD_VALUES for name in names):
        # As make_context: the last column with that key wins, the standard ones win over all.
        for column, value in (account.get("data") or {}).items():
            key = _column_variable(column)
            if key in names:
                context[key] = _text(value)
    for name in names:
        value = _STANDARD_VALUES.get(name)
        if value is not None:
            context[name] = value(account, list_name, campaign_name)
    return context


def _text(value):
    """Missing values (None, or False from an empty Odoo field) render as an empty string."""
    if value is None or value is False:
        return ""
    return value if isinstance(value, str) else str(value)


def check_header_text(text, field="subject"):
    """Refuse a header value (or subject template) with a line break: it would inject headers."""
    text = text or ""
    newline = _LINE_BREAK.search(text)
    if newline:
        line = _line_of(text, newline.start())
        raise TemplateError(
            f"The {field} must be a single line (line break after line {line})", line=line
        )
    return text


_LINE_BREAK = re.compile(r"[\r\n]")


def render_subject(compiled, context):
    """Render a subject template and refuse a result containing CR or LF."""
    return check_header_text(compiled.render(context), compiled.field)
