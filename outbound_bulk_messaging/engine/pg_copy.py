"""Rows in the text format of PostgreSQL's ``COPY … FROM STDIN WITH (NULL '')``.

The import streams its rows to PostgreSQL with COPY. ``csv.writer`` tests every character of
every field against the quote, the delimiter and each character of the line terminator; COPY's
text format has only four characters to escape (backslash, tab, newline, carriage return), and
most rows have none of them: a search over the whole line tells, and only such a row is escaped
field by field. With ``NULL ''`` an empty field is NULL, so no marker needs writing either.
"""

COPY_OPTIONS = "NULL ''"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_line(values):
    """One line of COPY's text format, newline included, for ``values`` (strings or ``None``).

    ``None`` and ``""`` are both read as NULL when the COPY has :data:`COPY_OPTIONS`.
    PostgreSQL text cannot hold NUL characters: they must be removed beforehand.
    """
    line = "\t".join([value or "" for value in values])
    # Three substring searches cost less than one regular expression; tabs separate the fields.
    if "\\" in line or "\n" in line or "\r" in line or line.count("\t") != len(values) - 1:
        line = "\t".join([(value or "").translate(_ESCAPES) for value in values])
    return line + "\n"
