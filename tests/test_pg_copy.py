import re

import pytest
from hypothesis import example, given, strategies as st

from outbound_bulk_messaging.engine.pg_copy import copy_line

# PostgreSQL's reading of a text-format field (COPY documentation, "Text Format") with NULL '':
# an empty field is NULL, a backslash escapes the next character or names b f n r t v, an octal
# or a hex byte.
_NAMED = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)


def _unescape(match):
    octal, hexa, char = match.groups()
    if octal:
        return chr(int(octal, 8))
    if hexa:
        return chr(int(hexa, 16))
    return _NAMED.get(char, char)


def read_line(line):
    """The values PostgreSQL reads from one line of COPY's text format."""
    assert line.endswith("\n") and "\n" not in line[:-1] and "\r" not in line
    fields = line[:-1].split("\t")
    return [_ESCAPE.sub(_unescape, field) if field else None for field in fields]


@pytest.mark.parametrize(
    ("values", "line"),
    [
        (["1", "ACC1", "Ann Smith", None, ""], "1\tACC1\tAnn Smith\t\t\n"),
        (["a\tb", "c\\d", "two\nlines", "cr\r"], "a\\tb\tc\\\\d\ttwo\\nlines\tcr\\r\n"),
        (['{"note": "say \\"hi\\""}'], '{"note": "say \\\\"hi\\\\""}\n'),
        (["\\N", "N"], "\\\\N\tN\n"),  # the text \N, not NULL
        (["0", " "], "0\t \n"),
    ],
)
def test_copy_line(values, line):
    assert copy_line(values) == line


@given(
    st.lists(st.one_of(st.none(), st.text(st.characters(exclude_characters="\x00"))), min_size=1)
)
@example(["\\", "\\\\N", "\t\\N", "é\u2028\x85", "\t", ""])
def test_copy_line_reads_back_as_written(values):
    expected = [value or None for value in values]  # "" is NULL too
    assert read_line(copy_line(values)) == expected
