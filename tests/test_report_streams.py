"""The generic report writers: CSV streamed in chunks and XLSX in constant memory."""

import codecs
import csv
import io
import zipfile
from datetime import datetime

import pytest

from outbound_bulk_messaging.engine import report
from outbound_bulk_messaging.engine.report import iter_csv, plain_cell, write_xlsx

HEADER = ("Message ID", "Reason", "Sent At")
HOSTILE = '=HYPERLINK("http://evil.example","click")'
SENT_AT = datetime(2026, 12, 1, 9, 30, 5, 123456)


def parse_csv(chunks):
    data = b"".join(chunks)
    assert data.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.fixture
def openpyxl():
    """XLSX needs xlsxwriter (to write) and openpyxl (to read back): both come with Odoo, which
    this suite does not need, so these tests are skipped without them."""
    pytest.importorskip("xlsxwriter")
    return pytest.importorskip("openpyxl")


def xlsx_rows(data):
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return {sheet.title: [list(row) for row in sheet.values] for sheet in workbook.worksheets}


# ---- CSV


def test_iter_csv_neutralises_cells_and_formats_datetimes():
    rows = [(7, HOSTILE, SENT_AT), (8, None, None)]
    assert parse_csv(iter_csv(HEADER, rows)) == [
        list(HEADER),
        ["7", "'" + HOSTILE, "2026-12-01 09:30:05"],
        ["8", "", ""],
    ]


def test_iter_csv_yields_bounded_chunks_as_rows_come():
    consumed = []

    def rows():
        for index in range(1000):
            consumed.append(index)
            yield (index, "x" * 50, None)

    chunks = iter_csv(HEADER, rows(), chunk_bytes=1024)
    first = next(chunks)
    # The first chunk left before the rows were all read, and is about chunk_bytes long.
    assert 1024 <= len(first) < 1024 + 100
    assert len(consumed) < 30
    rest = list(chunks)
    assert all(len(chunk) < 1024 + 100 for chunk in rest)
    assert len(parse_csv([first, *rest])) == 1001


def test_iter_csv_of_no_rows_is_the_header():
    assert parse_csv(iter_csv(HEADER, iter(()))) == [list(HEADER)]


# ---- XLSX


def test_xlsx_texts_are_string_cells_never_formulas(openpyxl):
    target = io.BytesIO()
    rows = [(7, HOSTILE, SENT_AT), (8, "+447911123002", None), (9, "a\x00b\x07c", None)]
    assert write_xlsx(target, HEADER, rows, sheet_name="Messages") == 3
    data = target.getvalue()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml  # no formula anywhere
    assert xlsx_rows(data) == {
        "Messages": [
            list(HEADER),
            [7, HOSTILE, SENT_AT.replace(microsecond=0)],
            [8, "+447911123002", None],  # a text stays a text, not a number
            [9, "abc", None],
        ]
    }


def test_xlsx_datetimes_are_date_cells(openpyxl):
    target = io.BytesIO()
    write_xlsx(target, HEADER, [(1, "", SENT_AT)])
    sheet = openpyxl.load_workbook(io.BytesIO(target.getvalue())).active
    cell = sheet.cell(row=2, column=3)
    assert cell.is_date
    assert cell.number_format == "yyyy-mm-dd hh:mm:ss"
    assert sheet.cell(row=2, column=1).data_type == "n"
    assert sheet.cell(row=2, column=2).value is None  # empty cells are left out


def test_xlsx_continues_on_a_new_sheet_when_one_is_full(openpyxl, monkeypatch):
    monkeypatch.setattr(report, "XLSX_MAX_ROWS", 3)  # header + 2 rows per sheet
    target = io.BytesIO()
    assert write_xlsx(target, HEADER, ((index, "r", None) for index in range(5)), "M") == 5
    assert xlsx_rows(target.getvalue()) == {
        "M": [list(HEADER), [0, "r", None], [1, "r", None]],
        "M (2)": [list(HEADER), [2, "r", None], [3, "r", None]],
        "M (3)": [list(HEADER), [4, "r", None]],
    }


def test_xlsx_of_no_rows_has_its_header(openpyxl):
    target = io.BytesIO()
    assert write_xlsx(target, HEADER, []) == 0
    assert xlsx_rows(target.getvalue()) == {"Report": [list(HEADER)]}


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (HOSTILE, HOSTILE),
        ("two\nlines", "two\nlines"),
        ("a\x00b\x1bc", "abc"),
        (None, ""),
        ("x" * 5000, "x" * (report.MAX_CELL_LENGTH - 1) + "…"),
    ],
)
def test_plain_cell(value, cell):
    assert plain_cell(value) == cell
