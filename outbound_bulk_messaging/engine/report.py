"""Write reports that are safe to open in a spreadsheet: the import's error report (CSV) and the
rows of any other report, as CSV or XLSX, written one row at a time.

The cells come from imported files and from what recipients and providers sent back, which anyone
could have written: a cell such as ``=HYPERLINK(...)`` would run as a formula in Excel or
LibreOffice (CSV injection). In CSV every cell goes through :func:`safe_cell`; the file is UTF-8
with a BOM, without which Excel reads it in the local ANSI code page. In XLSX every text is
written as a string cell (:func:`write_xlsx`), which a spreadsheet never evaluates, so it keeps
its exact text.
"""

import codecs
import csv
import io
import re
from datetime import date, datetime

from .csv_import import AccountRow, RowError

HEADER = ("line", "severity", "reference", "reason", "raw")
ERROR = "error"  # the row was rejected
WARNING = "warning"  # the row was imported with a problem
SEVERITIES = (ERROR, WARNING)
MAX_CELL_LENGTH = 1000
# Bytes of CSV gathered before :func:`iter_csv` hands them on: a few network packets' worth.
CSV_CHUNK_BYTES = 64 * 1024
# Rows of an XLSX sheet, the header included; the rows after it go on the next sheet.
XLSX_MAX_ROWS = 1_048_576
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# The number types that are valid but are very unlikely to receive an SMS.
NOT_FOR_SMS_TYPES = frozenset(
    {"FIXED_LINE", "TOLL_FREE", "PREMIUM_RATE", "SHARED_COST", "UAN", "VOICEMAIL", "PAGER"}
)

# What spreadsheets read as the start of a formula; the full-width forms are folded to ASCII by
# some of them.
_FORMULA_START = frozenset("=+-@＝＋－＠")
# Tab, newline and carriage return are kept: they are legitimate inside a quoted CSV cell.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _text(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(DATETIME_FORMAT)  # no microseconds, the same in every report
    return str(value)


def _cut(text):
    if len(text) > MAX_CELL_LENGTH:
        return text[: MAX_CELL_LENGTH - 1] + "…"
    return text


def safe_cell(value):
    """Return ``value`` as text that a spreadsheet shows as it is and never evaluates."""
    if value is None or value == "":
        return ""  # the many empty cells of a large report, at no cost
    text = _CONTROL.sub("", _text(value))
    if text[:1] in ("\t", "\r") or text.lstrip()[:1] in _FORMULA_START:
        # OWASP's neutraliser: the cell is then text. It stays visible in a CSV file opened by a
        # spreadsheet, which also tells the reader that the value was altered.
        text = "'" + text
    return _cut(text)


def plain_cell(value):
    """``value`` as the text of an XLSX string cell: control characters (invalid in XML)
    removed and as long as in CSV; a string cell is never evaluated, so nothing is added."""
    return _cut(_CONTROL.sub("", _text(value)))


class _Utf8Sink:
    """The text side ``csv.writer`` needs, on the caller's binary stream."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):  # pylint: disable=method-required-super
        # "replace": an unpaired surrogate from a broken source file must not stop the report.
        return self._stream.write(text.encode("utf-8", "replace"))


class SafeCsvWriter:
    """Write spreadsheet-safe CSV rows one by one to a binary ``stream``: a BOM, the ``header``,
    then each row with every cell through :func:`safe_cell` (nothing is kept in memory)."""

    def __init__(self, stream, header):
        stream.write(codecs.BOM_UTF8)
        self._csv = csv.writer(_Utf8Sink(stream))
        self.writerow(header)

    def writerow(self, cells):
        self._csv.writerow([safe_cell(cell) for cell in cells])


def iter_csv(header, rows, chunk_bytes=CSV_CHUNK_BYTES):
    """Yield a spreadsheet-safe CSV file of ``header`` and ``rows`` as chunks of UTF-8 bytes.

    ``rows`` may be a generator: only one chunk is held at a time, whatever the number of rows.
    """
    buffer = io.BytesIO()
    writer = SafeCsvWriter(buffer, header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= chunk_bytes:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_xlsx(target, header, rows, sheet_name="Report"):
    """Write ``header`` and ``rows`` as an XLSX workbook to ``target`` (a path or a binary file)
    and return the number of rows written.

    xlsxwriter runs in ``constant_memory`` mode: each row goes to a temporary file as soon as the
    next one starts, so memory does not grow with ``rows``. Texts are string cells (never
    formulas, URLs or numbers, whatever they look like), datetimes are date cells, integers
    numbers. Past the 1 048 576 rows of a sheet, the rows go on a new sheet under the header.
    """
    import xlsxwriter  # Odoo's own dependency; imported here so that CSV needs nothing more

    options = {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    workbook = xlsxwriter.Workbook(target, options)
    formats = {
        "header": workbook.add_format({"bold": True}),
        "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
    }
    count, sheet, row_index = 0, None, XLSX_MAX_ROWS
    try:
        for row in rows:
            if row_index == XLSX_MAX_ROWS:
                number = count // (XLSX_MAX_ROWS - 1) + 1
                name = sheet_name if number == 1 else f"{sheet_name} ({number})"
                sheet = _xlsx_sheet(workbook, name, header, formats["header"])
                row_index = 1
            _write_xlsx_row(sheet, row_index, row, formats["datetime"])
            row_index += 1
            count += 1
        if sheet is None:
            _xlsx_sheet(workbook, sheet_name, header, formats["header"])
    finally:
        workbook.close()
    return count


def _xlsx_sheet(workbook, name, header, header_format):
    sheet = workbook.add_worksheet(name)
    for column, label in enumerate(header):
        sheet.write_string(0, column, plain_cell(label), header_format)
    sheet.freeze_panes(1, 0)
    return sheet


def _write_xlsx_row(sheet, row_index, cells, datetime_format):
    for column, value in enumerate(cells):
        if value is None or value == "" or value is False:
            continue
        if isinstance(value, datetime):
            # To the second, as in CSV: a sent_at written by the dispatcher has microseconds.
            sheet.write_datetime(row_index, column, value.replace(microsecond=0), datetime_format)
        elif isinstance(value, date):
            sheet.write_datetime(row_index, column, value, datetime_format)
        elif isinstance(value, int) and not isinstance(value, bool):
            sheet.write_number(row_index, column, value)
        else:
            sheet.write_string(row_index, column, plain_cell(value))


class ReportWriter:
    """Write import report rows one by one to a binary ``stream`` (nothing is kept in memory).

    ``counts`` gives the number of rows written per severity.
    """

    def __init__(self, stream):
        self._csv = SafeCsvWriter(stream, HEADER)
        self.counts = dict.fromkeys(SEVERITIES, 0)

    def add(self, line, severity, reference, reason, raw=""):
        if severity not in self.counts:
            raise ValueError(f"unknown severity {severity!r}, expected one of {SEVERITIES}")
        self._csv.writerow((line, severity, reference, reason, raw))
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
