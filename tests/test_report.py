import codecs
import csv
import io

import pytest

from outbound_bulk_messaging.engine.csv_import import AccountRow, RowError
from outbound_bulk_messaging.engine.report import (
    MAX_CELL_LENGTH,
    ReportWriter,
    account_warnings,
    safe_cell,
    write_report,
)


def account(**values):
    fields = dict.fromkeys(
        ("name", "email", "email_error", "sms_number", "sms_e164", "sms_error", "sms_number_type")
    )
    fields.update(line=7, reference="R7", status="unused", data={})
    fields.update(values)
    return AccountRow(**fields)


def parse_report(data):
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# ---- CELLS


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+33 6 12 34 56 78", "'+33 6 12 34 56 78"),
        ("-12.50", "'-12.50"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("   =1+1", "'   =1+1"),
        ("\t=1+1", "'\t=1+1"),
        ("\rcmd", "'\rcmd"),
        ("＝1+1", "'＝1+1"),
        ("＋1", "'＋1"),
        ("－1", "'－1"),
        ("＠x", "'＠x"),
        ("\x00=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("a\x00b\x07c\x1bd\x7fe\x85f", "abcdef"),
        ("two\nlines\tand tab\r\n", "two\nlines\tand tab\r\n"),
        ("john@example.com", "john@example.com"),
        ("Ann = Bob", "Ann = Bob"),
        ("", ""),
        (None, ""),
        (12, "12"),
        (-3, "'-3"),
    ],
)
def test_safe_cell(value, cell):
    assert safe_cell(value) == cell


def test_safe_cell_truncates_long_values_after_neutralising():
    cell = safe_cell("=" + "x" * 5000)
    assert len(cell) == MAX_CELL_LENGTH
    assert cell.startswith("'=x")
    assert cell.endswith("x…")
    assert safe_cell("y" * MAX_CELL_LENGTH) == "y" * MAX_CELL_LENGTH


# ---- WRITER


def test_report_is_utf8_with_bom_header_and_crlf():
    stream = io.BytesIO()
    ReportWriter(stream).add(3, "error", "R3", "line 3: the reference is missing", "é")
    data = stream.getvalue()
    assert data.startswith(codecs.BOM_UTF8 + b"line,severity,reference,reason,raw\r\n")
    assert data.endswith("é\r\n".encode())


def test_every_cell_is_neutralised_and_round_trips_through_csv():
    stream = io.BytesIO()
    writer = ReportWriter(stream)
    raw = '=cmd|"/C calc"!A0,"multi\nline",x;y'
    writer.add(12, "error", "+R1", "line 12: unknown status '-'", raw)
    rows = parse_report(stream.getvalue())
    assert rows == [
        ["line", "severity", "reference", "reason", "raw"],
        ["12", "error", "'+R1", "line 12: unknown status '-'", "'" + raw],
    ]


def test_counts_per_severity_and_unknown_severity():
    writer = ReportWriter(io.BytesIO())
    writer.add(1, "error", "R1", "bad")
    writer.add(2, "warning", "R2", "odd")
    writer.add(3, "warning", "R3", "odd")
    assert writer.counts == {"error": 1, "warning": 2}
    with pytest.raises(ValueError, match="unknown severity 'fatal'"):
        writer.add(4, "fatal", "R4", "?")


def test_rows_are_written_as_they_come():
    stream = io.BytesIO()
    writer = ReportWriter(stream)
    sizes = [len(stream.getvalue())]
    for line in range(3):
        writer.add(line, "error", "R", "reason")
        sizes.append(len(stream.getvalue()))
    assert sizes == sorted(set(sizes))


def test_unpaired_surrogate_does_not_stop_the_report():
    stream = io.BytesIO()
    ReportWriter(stream).add(1, "error", "R\ud800", "reason")
    assert parse_report(stream.getvalue())[1][2] == "R?"


# ---- RESULTS OF THE READER


def test_account_warnings():
    assert account_warnings(account()) == []
    assert account_warnings(account(email_error="'x@' has nothing after the @")) == [
        "line 7: e-mail 'x@' has nothing after the @"
    ]
    assert account_warnings(account(sms_error="'abc' is not a phone number")) == [
        "line 7: SMS number 'abc' is not a phone number"
    ]
    fixed = account(sms_number="0121 234 5678", sms_e164="+441212345678")
    assert account_warnings(fixed) == []
    assert account_warnings(account(sms_number="0121 234 5678", sms_number_type="FIXED_LINE")) == [
        "line 7: SMS number '0121 234 5678' is a fixed line number,"
        " which probably cannot receive SMS"
    ]
    assert account_warnings(account(sms_number="07400 123456", sms_number_type="MOBILE")) == []


def test_write_report_from_reader_results_and_database_checks():
    results = (
        item
        for item in [
            RowError(
                line=2, reason="line 2: expected 6 columns, found 4", reference="R2", raw="R2,a"
            ),
            account(line=3, reference="R3"),
            account(line=4, reference="R4", email_error="'a@' has nothing after the @"),
            (5, "warning", "R5", "line 5: already in the list", ""),
        ]
    )
    stream = io.BytesIO()
    assert write_report(results, stream) == {"error": 1, "warning": 2}
    assert parse_report(stream.getvalue())[1:] == [
        ["2", "error", "R2", "line 2: expected 6 columns, found 4", "R2,a"],
        ["4", "warning", "R4", "line 4: e-mail 'a@' has nothing after the @", ""],
        ["5", "warning", "R5", "line 5: already in the list", ""],
    ]
