"""Write the error report of an import as a CSV file that is safe to open in a spreadsheet.

The cells come from the imported file, which anyone could have written: a cell such as
``=HYPERLINK(...)`` would run as a formula in Excel or LibreOffice (CSV injection), so every cell
goes through :func:`safe_cell`. The file is UTF-8 with a BOM, without which Excel reads it in the
local ANSI code page.
"""

import codecs
import csv
import re

from .csv_import import AccountRow, RowError

HEADER = ("line", "severity", "reference", "reason", "raw")
ERROR = "error"  # the row was rejected
WARNING = "warning"  # the row was imported with a problem
SEVERITIES = (ERROR, WARNING)
MAX_CELL_LENGTH = 1000
# The number types that are valid but are very unlikely to receive an SMS.
NOT_FOR_SMS_TYPES = frozenset(
    {"FIXED_LINE", "TOLL_FREE", "PREMIUM_RATE", "SHARED_COST", "UAN", "VOICEMAIL", "PAGER"}
)

# What spreadsheets read as the start of a formula; the full-width forms are folded to ASCII by
# some of them.
_FORMULA_START = frozenset("=+-@＝＋－＠")
# Tab, newline and carriage return are kept: they are legitimate inside a quoted CSV cell.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def safe_cell(value):
    """Return ``value`` as text that a spreadsheet shows as it is and never evaluates."""
    text = _CONTROL.sub("", "" if value is None else str(value))
    if text[:1] in ("\t", "\r") or text.lstrip()[:1] in _FORMULA_START:
        # OWASP's neutraliser: the cell is then text. It stays visible in a CSV file opened by a
        # spreadsheet, which also tells the reader that the value was altered.
        text = "'" + text
    if len(text) > MAX_CELL_LENGTH:
        text = text[: MAX_CELL_LENGTH - 1] + "…"
    return text


class _Utf8Sink:
    """The text side ``csv.writer`` needs, on the caller's binary stream."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):  # pylint: disable=method-required-super
        # "replace": an unpaired surrogate from a broken source file must not stop the report.
        return self._stream.write(text.encode("utf-8", "replace"))


class ReportWriter:
    """Write report rows one by one to a binary ``stream`` (nothing is kept in memory).

    ``counts`` gives the number of rows written per severity.
    """

    def __init__(self, stream):
        stream.write(codecs.BOM_UTF8)
        self._csv = csv.writer(_Utf8Sink(stream))
        self._csv.writerow(HEADER)
        self.counts = dict.fromkeys(SEVERITIES, 0)

    def add(self, line, severity, reference, reason, raw=""):
        if severity not in self.counts:
            raise ValueError(f"unknown severity {severity!r}, expected one of {SEVERITIES}")
        cells = (line, severity, reference, reason, raw)
        self._csv.writerow([safe_cell(cell) for cell in cells])
        self.counts[severity] += 1

    def add_result(self, result):
        """Report what :func:`~.csv_import.read_accounts` yielded: a rejected row, or the
        problems of an imported one (nothing when it has none)."""
        if isinstance(result, RowError):
            self.add(result.line, ERROR, result.reference, result.reason, result.raw)
        elif isinstance(result, AccountRow):
            for reason in account_warnings(result):
                self.add(result.line, WARNING, result.reference, reason)
        else:
            self.add(*result)


def account_warnings(row):
    """List the problems of an imported :class:`AccountRow`, each starting with its line."""
    warnings = []
    if row.email_error:
        warnings.append(f"line {row.line}: e-mail {row.email_error}")
    if row.sms_error:
        warnings.append(f"line {row.line}: SMS number {row.sms_error}")
    elif row.sms_number_type in NOT_FOR_SMS_TYPES:
        kind = row.sms_number_type.lower().replace("_", " ")
        warnings.append(
            f"line {row.line}: SMS number {row.sms_number!r} is a {kind} number,"
            " which probably cannot receive SMS"
        )
    return warnings


def write_report(results, stream):
    """Write a whole report to a binary ``stream`` and return the counts per severity.

    ``results`` may mix :class:`RowError`, :class:`AccountRow` and
    ``(line, severity, reference, reason, raw)`` tuples, e.g. the database checks of the ORM.
    """
    writer = ReportWriter(stream)
    for result in results:
        writer.add_result(result)
    return writer.counts
