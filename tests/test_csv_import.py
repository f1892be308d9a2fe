import collections
import importlib.util
import io
import tracemalloc
from pathlib import Path

import pytest

from outbound_bulk_messaging.engine.csv_import import (
    AccountRow,
    ImportProfile,
    ReadStats,
    RowError,
    read_accounts,
)
from outbound_bulk_messaging.engine.errors import ImportFormatError
from outbound_bulk_messaging.engine.statuses import ACCOUNT_STATUSES, STATUS_CODES

HEADER = "reference,name,status,email,mobile,amount\n"


def profile(**values):
    values.setdefault("reference_column", "reference")
    values.setdefault("name_column", "name")
    values.setdefault("status_column", "status")
    values.setdefault("email_column", "email")
    values.setdefault("sms_column", "mobile")
    values.setdefault("default_region", "GB")
    return ImportProfile(**values)


def read(content, stats=None, **values):
    data = content.encode(values.get("encoding", "utf-8")) if isinstance(content, str) else content
    return list(read_accounts(io.BytesIO(data), profile(**values), stats))


def accepted(results):
    return [result for result in results if isinstance(result, AccountRow)]


def rejected(results):
    return [result for result in results if isinstance(result, RowError)]


def only_error(content, **values):
    errors = rejected(read(content, **values))
    assert len(errors) == 1, errors
    return errors[0]


# ---- COLUMNS


def test_columns_by_header_name_ignore_case_and_spaces():
    content = " Reference ;Full Name; STATUS ;E-mail;Mobile\nR1;Ann Lee;Call Back;ann@x.com;\n"
    rows = read(
        content,
        delimiter=";",
        reference_column="REFERENCE",
        name_column="full name",
        email_column="e-mail",
    )
    assert [(r.reference, r.name, r.status, r.email) for r in rows] == [
        ("R1", "Ann Lee", "callback", "ann@x.com")
    ]


def test_columns_by_number_with_and_without_header():
    numbers = {"reference_column": "2", "name_column": "1", "status_column": ""}
    numbers |= {"email_column": None, "sms_column": "3"}
    with_header = read("name,ref,tel\nAnn,R1,07400 123456\n", **numbers)
    without = read("Ann,R1,07400 123456\n", has_header=False, **numbers)
    for rows, line in ((with_header, 2), (without, 1)):
        (row,) = rows
        assert (row.line, row.reference, row.name, row.sms_e164) == (
            line,
            "R1",
            "Ann",
            "+447400123456",
        )
        assert row.status == "unused"


def test_missing_column_names_it_and_the_header():
    with pytest.raises(ImportFormatError) as caught:
        read("ref,name,email\nR1,Ann,a@x.com\n", reference_column="reference")
    message = str(caught.value)
    assert "'reference'" in message
    assert "'ref', 'name', 'email'" in message


def test_column_name_without_header_is_refused():
    with pytest.raises(ImportFormatError, match="no header line: give its number"):
        read("R1,Ann\n", has_header=False, name_column=None, status_column=None)


def test_column_number_beyond_the_file_is_refused():
    with pytest.raises(ImportFormatError, match="column 7 does not exist: the file has 6 columns"):
        read(HEADER + "R1,Ann,,,,1\n", sms_column="7")


def test_column_used_twice_is_refused():
    with pytest.raises(ImportFormatError, match="column 4 is used both as email and as sms"):
        read(HEADER, sms_column="4")


def test_ambiguous_header_name_is_refused():
    with pytest.raises(ImportFormatError, match="'email' appears 2 times"):
        read("reference,email,Email\n", name_column=None, status_column=None, sms_column=None)


@pytest.mark.parametrize("has_header", [True, False])
def test_empty_file_is_refused(has_header):
    with pytest.raises(ImportFormatError, match="the file is empty"):
        read(" \n\n", has_header=has_header, reference_column="1", name_column=None)


def test_format_error_is_raised_before_iterating():
    stream = io.BytesIO(b"ref\nR1\n")
    with pytest.raises(ImportFormatError):
        read_accounts(stream, profile())


def test_data_holds_every_other_column_under_its_header_name():
    content = "Reference,Name,Due Date,,amount,Amount\nR1,Ann, 2025-01-31 ,x,12.50,13\n"
    (row,) = read(content, status_column=None, email_column=None, sms_column=None)
    assert row.data == {
        "Due Date": "2025-01-31",
        "column_4": "x",
        "amount": "12.50",
        "Amount": "13",
    }


def test_data_keys_without_header_and_repeated_names():
    columns = {"name_column": None, "status_column": None, "email_column": None, "sms_column": None}
    (row,) = read("R1,a,b\n", has_header=False, reference_column="1", **columns)
    assert row.data == {"column_2": "a", "column_3": "b"}
    (row,) = read("reference,x,x\nR1,a,b\n", **columns)
    assert row.data == {"x": "a", "x_3": "b"}


# ---- DIALECT AND LINES


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter(delimiter):
    content = HEADER.replace(",", delimiter) + delimiter.join(
        ["R1", '"Lee, Ann; Jr | x"', "", "ann@x.com", "07400 123456", "10"]
    )
    (row,) = read(content, delimiter=delimiter)
    assert (row.reference, row.name, row.email, row.data) == (
        "R1",
        "Lee, Ann; Jr | x",
        "ann@x.com",
        {"amount": "10"},
    )


def test_quoted_fields_spanning_lines_keep_physical_line_numbers():
    content = HEADER + 'R1,"Ann\nLee\n",,,,1\nR2,"Bob ""the"" Builder",,,,2\nR3,Carl,,,,\n'
    rows = read(content)
    assert [(r.line, r.reference, r.name) for r in rows] == [
        (2, "R1", "Ann\nLee"),
        (5, "R2", 'Bob "the" Builder'),
        (6, "R3", "Carl"),
    ]


def test_blank_lines_are_skipped_and_still_counted():
    content = HEADER + "\n   \n,,,,,\nR1,Ann,,,,\r\n\r\nR2,Bob,,,,\n"
    stats = ReadStats()
    rows = read(content, stats)
    assert [(r.line, r.reference) for r in rows] == [(5, "R1"), (7, "R2")]
    assert stats.lines_read == 7


def test_values_are_stripped_and_empty_values_are_none():
    (row,) = read(HEADER + '  R1 , " Ann " ,  , ,\t, 5 \n')
    assert (row.reference, row.name, row.email, row.sms_number) == ("R1", "Ann", None, None)
    assert row.data == {"amount": "5"}


def test_space_before_a_quoted_field_is_allowed():
    (row,) = read(HEADER + 'R1, "Lee, Ann",,,,\n')
    assert row.name == "Lee, Ann"


def test_trailing_empty_cells_are_tolerated():
    (row,) = read(HEADER + "R1,Ann,,,,1,,,\n")
    assert row.data == {"amount": "1"}


# ---- VALUES


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("unused", "unused"),
        ("Unused", "unused"),
        ("callback", "callback"),
        ("call-back", "callback"),
        ("Call  Back", "callback"),
        ("COMPLETED", "completed"),
        ("failed", "failed"),
        ("do_not_call", "do_not_call"),
        ("Do Not Call", "do_not_call"),
        ("dnc", "do_not_call"),
        ("", "unused"),
    ],
)
def test_status_spellings(status, code):
    (row,) = read(HEADER + f"R1,Ann,{status},,,\n")
    assert row.status == code


@pytest.mark.parametrize(("code", "label"), ACCOUNT_STATUSES)
def test_every_status_is_read_by_its_code_and_its_label(code, label):
    rows = read(HEADER + f"R1,Ann,{code},,,\nR2,Bob,{label},,,\n")
    assert [row.status for row in rows] == [code, code]


def test_default_spellings_map_to_the_status_codes_only():
    assert set(profile().status_values.values()) == set(STATUS_CODES)


def test_custom_status_values_and_default():
    values = {"Nouveau": "unused", "Rappel": "callback"}
    rows = read(
        HEADER + "R1,,rappel,,,\nR2,,,,,\nR3,,callback,,,\nR4,,unused,,,\n",
        status_values=values,
        default_status="callback",
    )
    assert [(r.reference, getattr(r, "status", None)) for r in rows[:3]] == [
        ("R1", "callback"),
        ("R2", "callback"),
        ("R3", "callback"),  # the codes themselves are always accepted
    ]
    assert rows[3].status == "unused"


def test_invalid_email_and_number_are_imported_with_their_errors():
    (row,) = read(HEADER + "R1,Ann,,ann@,07400 12345A,\n")
    assert (row.email, row.email_error) == (None, "'ann@' has nothing after the @")
    assert row.sms_number == "07400 12345A"
    assert (row.sms_e164, row.sms_error) == (None, "'07400 12345A' is not a phone number")


def test_valid_email_and_number_are_normalised():
    (row,) = read(HEADER + 'R1,Ann,,"Ann Lee <Ann@X.com>",0121 234 5678,\n')
    assert (row.email, row.email_error) == ("ann@x.com", None)
    assert (row.sms_number, row.sms_e164, row.sms_error) == ("0121 234 5678", "+441212345678", None)
    assert row.sms_number_type == "FIXED_LINE"


def test_without_default_region_national_numbers_are_errors():
    (row,) = read(HEADER + "R1,Ann,,,07400 123456,\n", default_region=None)
    assert row.sms_error == "'07400 123456' has no country prefix and no default country is set"


# ---- REJECTED ROWS


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("R9,Ann,,,\n", "line 3: expected 6 columns, found 5"),
        ("R9,Ann,,,,,x\n", "line 3: expected 6 columns, found 7"),
        (",Ann,,,,\n", "line 3: the reference is missing"),
        ("R" * 65 + ",Ann,,,,\n", "line 3: the reference is longer than 64 characters"),
        ("R9,Ann,pending,,,\n", "line 3: unknown status 'pending'; accepted values: call back,"),
        ("R9,Ann\x00,,,,\n", "line 3: contains a NUL byte at position 7"),
        ("R1,Ann,,,,\n", "line 3: duplicate reference 'R1', first seen on line 2"),
        ('R9,"Ann\n\n",x,,,\n', "line 3: unknown status 'x'"),
        ("R9,Ann\rx,,,,\n", "line 3: contains a carriage return outside quotes"),
    ],
)
def test_each_rejection_names_its_line(record, reason):
    results = read(HEADER + "R1,First,,,,\n" + record + "R8,After,,,,\n")
    (error,) = rejected(results)
    assert error.reason.startswith(reason), error.reason
    assert error.line == 3
    assert error.raw == record.rstrip("\n")
    assert [r.reference for r in accepted(results)] == ["R1", "R8"]


def test_rejection_keeps_the_reference_when_known():
    assert only_error(HEADER + "R9,Ann\n").reference == "R9"
    assert only_error(HEADER + ",Ann,,,,\n").reference is None


def test_unknown_status_lists_the_accepted_spellings():
    error = only_error(HEADER + "R1,Ann,Pending,,,\n")
    assert error.reason == (
        "line 2: unknown status 'Pending'; accepted values: call back, call-back, callback,"
        " completed, dnc, do not call, do_not_call, failed, unused"
    )


def test_duplicate_keeps_the_first_accepted_occurrence():
    results = read(HEADER + "R1,Bad,pending,,,\nR1,First,,,,\nR1,Second,,,,\n")
    assert [(r.line, r.reason) for r in rejected(results)] == [
        (
            2,
            "line 2: unknown status 'pending'; accepted values: call back, call-back, callback,"
            " completed, dnc, do not call, do_not_call, failed, unused",
        ),
        (4, "line 4: duplicate reference 'R1', first seen on line 3"),
    ]
    assert [(r.line, r.name) for r in accepted(results)] == [(3, "First")]


def test_repeated_references_can_be_left_to_the_caller():
    content = (HEADER + "R1,Bad,pending,,,\nR1,First,,,,\nR1,Second,,,,\n").encode()
    results = list(read_accounts(io.BytesIO(content), profile(), unique_references=False))
    # Only the row's own problems reject it; the caller compares the references.
    assert [r.line for r in rejected(results)] == [2]
    assert [(r.line, r.reference, r.name) for r in accepted(results)] == [
        (3, "R1", "First"),
        (4, "R1", "Second"),
    ]


def test_many_references_have_no_false_duplicates():
    content = HEADER + "".join(f"ACC{i:07d},,,,,\n" for i in range(200_000))
    results = read(content + "ACC0123456,,,,,\n", sms_column=None, email_column=None)
    assert [e.reason for e in rejected(results)] == [
        "line 200002: duplicate reference 'ACC0123456', first seen on line 123458"
    ]


def test_field_over_the_maximum_size():
    error = only_error(HEADER + "R1," + "x" * 101 + ",,,,\n", max_field_size=100)
    assert error.reason == "line 2: a field is longer than 100 characters"
    (row,) = read(HEADER + "R1," + "x" * 100 + ",,,,\n", max_field_size=100)
    assert len(row.name) == 100


def test_line_without_end_is_rejected_and_reading_goes_on():
    huge = "R1," + "x" * 10_000 + "\n"
    results = read(HEADER + huge + "R2,Bob,,,,\n", max_field_size=100)
    (error,) = rejected(results)
    assert error.reason == "line 2: the line is longer than 3200 bytes"
    assert len(error.raw) == 500
    assert [(r.line, r.reference) for r in accepted(results)] == [(3, "R2")]


def test_unterminated_quote_swallows_the_rest_of_the_file_into_one_error():
    results = read(HEADER + 'R1,"Ann,,,,\nR2,Bob,,,,\n')
    (error,) = results
    assert error.reason == "line 2: expected 6 columns, found 2"


def test_old_mac_line_endings_are_explained():
    with pytest.raises(ImportFormatError, match="line 1: contains a carriage return outside"):
        read(HEADER.replace("\n", "\r") + "R1,Ann,,,,\r")


def test_raw_is_truncated():
    error = only_error(HEADER + "R1," + "y" * 2000 + "\n")
    assert len(error.raw) == 500
    assert error.raw.endswith("…")


# ---- ENCODINGS


def test_bad_byte_rejects_its_own_line_only():
    content = HEADER.encode() + b"R1,Ann,,,,\nR2,Caf\xe9,,,,\nR3,Caf\xc3\xa9,,,,\n"
    results = read(content)
    (error,) = rejected(results)
    assert error.reason == "line 3: not valid utf-8: byte 0xe9 at position 7"
    assert error.raw == "R2,Caf\ufffd,,,,"
    assert [(r.reference, r.name) for r in accepted(results)] == [("R1", "Ann"), ("R3", "Café")]


def test_bad_byte_inside_a_multi_line_field_rejects_the_record():
    content = HEADER.encode() + b'R1,"Ann\nL\xe9e",,,,\nR2,Bob,,,,\n'
    results = read(content)
    assert rejected(results)[0].reason == "line 2: not valid utf-8: byte 0xe9 at position 2"
    assert [r.line for r in accepted(results)] == [4]


def test_bad_byte_in_the_header_is_a_format_error():
    with pytest.raises(ImportFormatError, match=r"header line cannot be read \(not valid utf-8"):
        read(b"r\xe9f\nR1\n", reference_column="1", name_column=None)


def test_cp1252_file():
    content = HEADER.encode("cp1252") + "R1,Zoë Müller,,,,€ 12\n".encode("cp1252")
    (row,) = read(content, encoding="cp1252")
    assert (row.name, row.data) == ("Zoë Müller", {"amount": "€ 12"})
    error = only_error(HEADER.encode() + b"R2,\x81,,,,\n", encoding="cp1252")
    assert error.reason == "line 2: not valid cp1252: byte 0x81 at position 4"


def test_latin_1_file():
    (row,) = read((HEADER + "R1,Zoë,,,,\n").encode("latin-1"), encoding="latin-1")
    assert row.name == "Zoë"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8"])
def test_bom_is_dropped_from_the_first_column_name(encoding):
    content = "\ufeff" + HEADER + "R1,Ann,,,,\n"
    (row,) = read(content.encode("utf-8"), encoding=encoding)
    assert row.reference == "R1"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf_16_file(encoding):
    content = HEADER + "R1,Ċarl Łukasz,,,,\n" + 'R2,"multi\nline",,,,\r\nR3,😀,,,,\n'
    data = content.encode(encoding)
    if encoding != "utf-16":
        data = "\ufeff".encode(encoding) + data
    stats = ReadStats()
    rows = read(data, stats, encoding=encoding)
    assert [(r.line, r.reference, r.name) for r in rows] == [
        (2, "R1", "Ċarl Łukasz"),  # Ċ is 0x0a 0x01 in UTF-16-LE: not a line end
        (3, "R2", "multi\nline"),
        (5, "R3", "😀"),
    ]
    assert stats.bytes_read == len(data)


def test_utf_16_unpaired_surrogate_rejects_its_line_only():
    data = (HEADER + "R1,Ann,,,,\n").encode("utf-16-le") + b"R\x002\x00,\x00\x00\xd8"
    data += ",,,,\nR3,Carl,,,,\n".encode("utf-16-le")
    results = read(data, encoding="utf-16-le")
    assert [e.reason for e in rejected(results)] == [
        "line 3: not valid utf-16-le: unpaired surrogate at position 4"
    ]
    assert [r.reference for r in accepted(results)] == ["R1", "R3"]


def test_utf_16_odd_length_ends_the_file_with_an_error():
    data = (HEADER + "R1,Ann,,,,\nR2,Bob,,,,").encode("utf-16-le") + b"x"
    results = read(data, encoding="utf-16-le")
    assert [r.reference for r in accepted(results)] == ["R1"]
    (error,) = rejected(results)
    assert error.line == 3
    assert error.reason.startswith("line 3: not valid utf-16-le: truncated data")


# ---- PROFILE


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"reference_column": ""}, "must name the column holding the account reference"),
        ({"reference_column": None}, "must name the column holding the account reference"),
        ({"delimiter": ";;"}, "the delimiter must be one character"),
        ({"delimiter": "\n"}, "the delimiter must be one character"),
        ({"delimiter": '"'}, "the delimiter and the quote character must differ"),
        ({"encoding": "klingon"}, "unknown encoding 'klingon'"),
        ({"encoding": "rot13"}, "unknown encoding 'rot13'"),
        ({"default_region": "XX"}, "unknown default country 'XX'"),
        (
            {"default_status": "pending"},
            "the default status 'pending' is not one of the status codes",
        ),
        ({"max_field_size": 0}, "the maximum field size must be between 1 and"),
        (
            {"status_values": {"Rappel": "recall"}, "default_status": "recall"},
            "the status values map to unknown status codes: recall",
        ),
    ],
)
def test_unusable_profile_is_refused(values, message):
    with pytest.raises(ImportFormatError, match=message.replace("(", r"\(")):
        profile(**values)


# ---- STREAMING


def test_stats_count_lines_bytes_and_rows():
    content = (HEADER + "R1,Ann,,,,\nR2\nR3,Carl,,,,\n").encode()
    stats = ReadStats()
    results = read(content, stats)
    assert len(results) == 3
    assert stats == ReadStats(
        lines_read=4, bytes_read=len(content), rows_accepted=2, rows_rejected=1
    )


def test_stream_is_not_closed():
    stream = io.BytesIO((HEADER + "R1,Ann,,,,\n").encode())
    assert len(list(read_accounts(stream, profile()))) == 1
    assert not stream.closed


def _write_accounts(path, count):
    """A file of ``count`` accounts, written in blocks so the test itself stays small."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        for start in range(0, count, 10_000):
            out.writelines(
                f"ACC{i:08d},Name {i},unused,user.{i}@example.com,+44 7400 {i % 5000:06d},{i}.50\n"
                for i in range(start, min(start + 10_000, count))
            )


@pytest.mark.slow
def test_large_file_is_streamed_in_bounded_memory(tmp_path):
    path = tmp_path / "accounts.csv"
    _write_accounts(path, 300_000)
    tracemalloc.start()
    try:
        with open(path, "rb") as stream:
            rows = read_accounts(stream, profile())
            count = sum(isinstance(row, AccountRow) for row in rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 300_000
    # The file is about 25 MB; what grows with it is the duplicate index, at most 24 bytes a row.
    assert path.stat().st_size > 20 * 2**20
    assert peak < 20 * 2**20


def _load_generator():
    path = Path(__file__).resolve().parent.parent / "bench" / "gen_accounts_csv.py"
    spec = importlib.util.spec_from_file_location("gen_accounts_csv", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_file_is_deterministic_and_its_bad_rows_are_caught(tmp_path):
    generator = _load_generator()
    paths = [tmp_path / f"{name}.csv" for name in ("a", "b", "c")]
    for path, seed in zip(paths, (7, 7, 8), strict=True):
        generator.generate(4000, path, seed=seed, bad_ratio=0.05)
    assert paths[0].read_bytes() == paths[1].read_bytes() != paths[2].read_bytes()
    with open(paths[0], "rb") as stream:
        results = list(read_accounts(stream, generator.bench_profile()))
    reasons = collections.Counter(e.reason.split(": ", 1)[1][:12] for e in rejected(results))
    assert set(reasons) == {"expected 8 c", "the referenc", "duplicate re", "unknown stat"}
    assert 100 < sum(reasons.values()) < 300  # 5 % of 4000
    warned = [r for r in accepted(results) if r.email_error or r.sms_error]
    assert 200 < len(warned) < 600


# ---- time zones


TZ_HEADER = "reference,name,status,email,mobile,tz\n"


def test_time_zone_column_is_read_in_its_iana_spelling():
    rows = read(
        TZ_HEADER + "R1,Ann,,ann@x.com,,america/new_york\nR2,Bob,,bob@x.com,,\n",
        time_zone_column="tz",
    )
    assert [(row.time_zone, row.data) for row in rows] == [("America/New_York", {}), (None, {})]


def test_unknown_time_zone_rejects_the_row():
    results = read(TZ_HEADER + "R1,Ann,,ann@x.com,,Europe/Pariss\n", time_zone_column="tz")
    (error,) = rejected(results)
    assert error.reason == (
        "line 2: unknown time zone 'Europe/Pariss': use an IANA name such as Europe/London or "
        "America/New_York"
    )


def test_without_time_zone_column_it_stays_data():
    (row,) = read(TZ_HEADER + "R1,Ann,,ann@x.com,,Europe/Paris\n")
    assert row.time_zone is None
    assert row.data == {"tz": "Europe/Paris"}


def test_zones_of_the_sms_number():
    rows = read(TZ_HEADER + "R1,Ann,,,+1 212 555 0123,\nR2,Bob,,,07400 123456,\nR3,Cy,,,x,\n")
    assert [row.sms_time_zones for row in rows] == [
        "America/New_York",
        "Europe/Guernsey Europe/Isle_of_Man Europe/Jersey Europe/London",
        None,
    ]
