"""Stream the accounts of a CSV file through an import profile.

:func:`read_accounts` reads a binary stream one physical line at a time and yields an
:class:`AccountRow` for every accepted record and a :class:`RowError` for every rejected one, so
that memory stays flat whatever the size of the file. The checks that need the database (reference
already in the list, contact already in a campaign) are left to the ORM layer.

A bad e-mail address or SMS number does not reject a row: the account can still be called by the
dialler, so it is imported with ``email_error`` / ``sms_error`` set for the ORM to list as warnings.
"""

import codecs
import csv
import io
import re
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers

from .addresses import normalise_email, normalise_phone
from .errors import ImportFormatError
from .send_hours import canonical_zone, phone_zones
from .statuses import DEFAULT_STATUS, STATUS_CODES, STATUS_SPELLINGS

MAX_REFERENCE_LENGTH = 64
# Enough of a rejected record to recognise it in the report without copying a huge field there.
RAW_LIMIT = 500
# A physical line may hold this many fields of the maximum size; a longer one is a broken file
# (no newline, unbalanced quote) that must not be read into memory whole.
LINE_LIMIT_FIELDS = 32
_BUFFER_SIZE = 1 << 16
_SURROGATE = re.compile("[\ud800-\udfff]")


# ---- PUBLIC TYPES


@dataclass(frozen=True, kw_only=True)
class ImportProfile:
    """How to read one kind of file.

    Columns are given by header name (matched case-insensitively, spaces around ignored) or by
    1-based number as a string (``"3"``); a string of digits is always a number. ``None`` or
    ``''`` leaves the value out, except ``reference_column`` which is required. The constructor
    raises :class:`ImportFormatError` for an unusable profile, so the ORM can validate a profile
    record by building one.
    """

    reference_column: str
    name_column: str | None = None
    status_column: str | None = None
    email_column: str | None = None
    sms_column: str | None = None
    time_zone_column: str | None = None
    delimiter: str = ","
    quotechar: str = '"'
    has_header: bool = True
    encoding: str = "utf-8"
    default_region: str | None = None
    default_status: str = DEFAULT_STATUS
    status_values: Mapping[str, str] = field(default_factory=lambda: STATUS_SPELLINGS, hash=False)
    max_field_size: int = 65536

    def __post_init__(self):
        for check in (self._check_dialect, self._check_columns, self._check_values):
            error = check()
            if error:
                raise ImportFormatError(error)
        _codec_name(self.encoding)

    def _check_dialect(self):
        for label, char in (("delimiter", self.delimiter), ("quote character", self.quotechar)):
            if not isinstance(char, str) or len(char) != 1 or char in "\r\n":
                return f"the {label} must be one character other than a newline, not {char!r}"
        if self.delimiter == self.quotechar:
            return "the delimiter and the quote character must differ"
        return None

    def _check_columns(self):
        if not _column_spec(self.reference_column):
            return "the profile must name the column holding the account reference"
        return None

    def _check_values(self):
        region = self.default_region
        if region and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            return f"unknown default country {region!r}"
        unknown = sorted(set(self.status_values.values()) - set(STATUS_CODES))
        if unknown:
            return f"the status values map to unknown status codes: {', '.join(unknown)}"
        if self.default_status not in self.status_values.values():
            return f"the default status {self.default_status!r} is not one of the status codes"
        # csv refuses longer fields with a process-wide limit this module does not change.
        if not 0 < self.max_field_size <= csv.field_size_limit():
            return f"the maximum field size must be between 1 and {csv.field_size_limit()}"
        return None


# Not frozen: a frozen dataclass sets each of its 13 fields through object.__setattr__, which cost
# a tenth of the reading of a row.
@dataclass(slots=True)
class AccountRow:
    """An accepted record. Empty optional values are ``None``.

    ``email`` is normalised (lower case, punycode domain) or ``None`` with ``email_error`` set;
    ``sms_number`` is the cell as imported and ``sms_e164`` its E.164 form, or ``None`` with
    ``sms_error`` set. ``data`` holds every other column (``column_N`` without header).
    ``time_zone`` is the imported time zone column in its IANA spelling, ``sms_time_zones`` the
    zones of the SMS number (see :func:`.send_hours.phone_zones`).
    """

    line: int
    reference: str
    name: str | None
    status: str
    email: str | None
    email_error: str | None
    sms_number: str | None
    sms_e164: str | None
    sms_error: str | None
    data: dict
    sms_number_type: str | None = None
    time_zone: str | None = None
    sms_time_zones: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected record: ``reason`` starts with ``line N:``; ``raw`` is its text, truncated."""

    line: int
    reason: str
    reference: str | None = None
    raw: str = ""


@dataclass(slots=True)
class ReadStats:
    """Counters updated while the file is read, e.g. to show ``bytes_read / file size``."""

    lines_read: int = 0
    bytes_read: int = 0
    rows_accepted: int = 0
    rows_rejected: int = 0


def read_accounts(stream, profile, stats=None, *, unique_references=True):
    """Return an iterator of :class:`AccountRow` and :class:`RowError` for a binary ``stream``.

    The header (or the first record, without header) is read before returning, so a file that
    does not fit the profile raises :class:`ImportFormatError` here rather than mid-import.
    ``stats`` (a :class:`ReadStats`) is updated as the iterator advances. The stream is read but
    never closed.

    ``unique_references=False`` yields a row whose reference an earlier row has, leaving that
    check to the caller: the index of the references seen grows with the file (12 bytes each),
    which a caller holding the rows in a database table can spare.
    """
    stats = stats if stats is not None else ReadStats()
    return _AccountReader(stream, profile, stats, unique_references).rows()


# ---- LINES


class _RecordError(Exception):
    """A record cannot be parsed at all; raised through ``csv.reader`` to abandon it."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class _Borrowed(io.RawIOBase):
    """The caller's stream, counted and never closed.

    A buffered reader guarantees ``readline(limit)`` whatever the caller passed, and closes its
    raw stream when garbage collected: this one closes nothing the caller owns.
    """

    def __init__(self, stream):
        super().__init__()
        self._stream = stream
        self.bytes_read = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


class _LineSource:
    """Feed ``csv.reader`` one physical line at a time and keep track of the current record.

    csv pulls a line only when it needs one, so the lines pulled between two records are exactly
    the lines of one record: that is how a record knows its first line, its raw text and the
    decoding problems of its own lines only.
    """

    newline = "\n"
    unit = "characters"

    def __init__(self, borrowed, encoding, stats, limit):
        self.encoding = encoding
        self.stats = stats
        self.limit = limit
        self._borrowed = borrowed
        self.start_record()

    def start_record(self):
        self.first_line = None
        self.error = None
        self.chars = 0
        self._raw = []

    def raw(self):
        text = "".join(self._raw).rstrip("\r\n")
        return text if len(text) <= RAW_LIMIT else text[: RAW_LIMIT - 1] + "…"

    def flag(self, problem):
        """Remember the first problem of the record's lines; the record will be rejected."""
        if self.error is None:
            self.error = problem

    def __iter__(self):
        return self

    def __next__(self):
        line = self._readline()
        if not line:
            raise StopIteration
        self.stats.lines_read += 1
        self.stats.bytes_read = self._borrowed.bytes_read
        if self.first_line is None:
            self.first_line = self.stats.lines_read
        if len(line) >= self.limit and not line.endswith(self.newline):
            self._raw.append(self._preview(line[:RAW_LIMIT]))
            self._skip_rest_of_line()
            raise _RecordError(f"the line is longer than {self.limit} {self.unit}")
        text = self._decode(line)
        self._note(text)
        return text

    def _note(self, text):
        self.chars += len(text)
        if self.chars - len(text) < RAW_LIMIT:
            self._raw.append(text[: RAW_LIMIT + 1])  # one more, for raw() to see it is cut
        nul = text.find("\x00")
        if nul >= 0:
            self.flag(f"contains a NUL byte at position {nul + 1}")

    def _skip_rest_of_line(self):
        line = self._readline()
        while line and not line.endswith(self.newline):
            line = self._readline()


class _ByteLines(_LineSource):
    """Lines of an ASCII-compatible file, decoded one by one so a bad byte spoils one record."""

    newline = b"\n"
    unit = "bytes"

    def __init__(self, borrowed, encoding, stats, limit):
        super().__init__(borrowed, encoding, stats, limit)
        self._buffer = io.BufferedReader(borrowed, _BUFFER_SIZE)
        codec = _codec_name(encoding)
        # The BOM is dropped for "utf-8" too: Excel writes one whatever the user chose.
        self._codec = "utf-8" if codec == "utf-8-sig" else codec
        self._strip_bom = self._codec == "utf-8"

    def _readline(self):
        return self._buffer.readline(self.limit)

    def _preview(self, line):
        return line.decode(self._codec, "replace")

    def _decode(self, line):
        if self._strip_bom:
            self._strip_bom = False
            line = line.removeprefix(codecs.BOM_UTF8)
        try:
            return line.decode(self._codec)
        except UnicodeDecodeError as exc:
            byte = line[exc.start]
            self.flag(f"not valid {self.encoding}: byte 0x{byte:02x} at position {exc.start + 1}")
            return line.decode(self._codec, "replace")


class _TextLines(_LineSource):
    """Lines of a UTF-16 (or other non-ASCII-compatible) file.

    Its newline is two bytes and a byte 0x0a can belong to another character, so the stream is
    decoded as a whole instead of line by line. An unpaired surrogate still spoils only its own
    record (``surrogatepass`` lets it through to be reported), but an undecodable sequence, such
    as an odd number of bytes, ends the file at that point.
    """

    def __init__(self, borrowed, encoding, stats, limit):
        super().__init__(borrowed, encoding, stats, limit)
        buffer = io.BufferedReader(borrowed, _BUFFER_SIZE)
        self._text = io.TextIOWrapper(
            buffer, encoding=encoding, errors="surrogatepass", newline="\n"
        )
        self._broken = None
        self._at_start = True

    def _readline(self):
        if self._broken:
            return ""
        try:
            return self._text.readline(self.limit)
        except UnicodeDecodeError as exc:
            self._broken = f"not valid {self.encoding}: {exc.reason} at the end of the file"
            return "\ufffd"
        except UnicodeError as exc:
            # The "utf-16" decoder raises a plain UnicodeError for a file without a byte order
            # mark (most often a UTF-8 file read with a UTF-16 profile): the file is unreadable.
            raise ImportFormatError(
                f"not valid {self.encoding} ({exc}): check the file's encoding"
            ) from None

    def _preview(self, line):
        return line

    def _decode(self, line):
        if self._at_start:
            # "utf-16" drops the BOM itself, "utf-16-le" and "utf-16-be" keep it.
            self._at_start = False
            line = line.removeprefix("\ufeff")
        if self._broken:
            self.flag(self._broken)
        surrogate = _SURROGATE.search(line)
        if surrogate is None:
            return line
        position = surrogate.start() + 1
        self.flag(f"not valid {self.encoding}: unpaired surrogate at position {position}")
        return _SURROGATE.sub("\ufffd", line)


def _open_lines(stream, profile, stats):
    codec = _codec_name(profile.encoding)
    source = _ByteLines if "\n".encode(codec) == b"\n" else _TextLines
    limit = profile.max_field_size * LINE_LIMIT_FIELDS
    return source(_Borrowed(stream), profile.encoding, stats, limit)


def _codec_name(encoding):
    try:
        name = codecs.lookup(encoding).name
        "\n".encode(name)  # refuses the bytes-to-bytes and text-to-text codecs (base64, rot13)
    except (LookupError, TypeError):
        raise ImportFormatError(f"unknown encoding {encoding!r}") from None
    return name


# ---- COLUMNS


@dataclass(frozen=True)
class _Columns:
    """Where each value is in a record, resolved once against the header."""

    count: int
    reference: int
    name: int | None
    status: int | None
    email: int | None
    sms: int | None
    time_zone: int | None
    data: tuple  # (index, key) of every other column


_ROLES = ("reference", "name", "status", "email", "sms", "time_zone")


def _column_spec(spec):
    return str(spec).strip() if spec is not None else ""


def _resolve_columns(profile, header, count):
    indexes = {}
    for role in _ROLES:
        index = _resolve_column(_column_spec(getattr(profile, f"{role}_column")), header, count)
        if index is not None and index in indexes.values():
            other = next(key for key, value in indexes.items() if value == index)
            raise ImportFormatError(f"column {index + 1} is used both as {other} and as {role}")
        indexes[role] = index
    used = set(indexes.values())
    data = tuple((i, key) for i, key in enumerate(_data_keys(header, count)) if i not in used)
    return _Columns(count=count, data=data, **indexes)


def _resolve_column(spec, header, count):
    if not spec:
        return None
    if spec.isascii() and spec.isdigit():
        if not 0 < int(spec) <= count:
            raise ImportFormatError(f"column {spec} does not exist: the file has {count} columns")
        return int(spec) - 1
    if header is None:
        raise ImportFormatError(
            f"column {spec!r} is given by name but the file has no header line: give its number"
        )
    wanted = spec.casefold()
    matches = [i for i, name in enumerate(header) if name.strip().casefold() == wanted]
    if not matches:
        names = ", ".join(repr(name.strip()) for name in header[:50])
        raise ImportFormatError(f"column {spec!r} is not in the header; its columns are: {names}")
    if len(matches) > 1:
        raise ImportFormatError(f"column {spec!r} appears {len(matches)} times in the header")
    return matches[0]


def _data_keys(header, count):
    """Name the data columns after the header: ``column_N`` when empty, ``name_N`` if repeated."""
    keys, seen = [], set()
    for number in range(1, count + 1):
        name = header[number - 1].strip() if header else ""
        key = name if name and name not in seen else f"{name or 'column'}_{number}"
        seen.add(key)
        keys.append(key)
    return keys


def _status_key(value):
    return " ".join(value.split()).casefold()


def _status_lookup(profile):
    # A file exported from Odoo holds the codes themselves.
    lookup = {code: code for code in profile.status_values.values()}
    for spelling, code in profile.status_values.items():
        lookup[spelling] = lookup[_status_key(spelling)] = code
    return lookup


# ---- DUPLICATES


class _ReferenceIndex:
    """The first line of every reference seen, in 12 bytes per reference.

    A set of the references themselves would cost some 150 bytes each (45 MB for 300 000 rows).
    This open-addressing table keeps the 64-bit ``hash()`` of a reference instead: two different
    references of one file share a hash with odds of one in 30 million for a million references,
    and the second one would then be reported as a duplicate.
    """

    _LOAD = 0.7

    def __init__(self, capacity=1 << 16):
        self._hashes = array("q", [0]) * capacity
        self._lines = array("I", [0]) * capacity
        self._count = 0

    def first_line(self, reference, line):
        """Return the line ``reference`` was first seen on, or record it at ``line``."""
        key = hash(reference) or 1  # 0 marks a free slot
        hashes = self._hashes
        mask = len(hashes) - 1
        slot = key & mask
        # _slot(), written out: this runs for every row.
        while found := hashes[slot]:
            if found == key:
                return self._lines[slot]
            slot = (slot + 1) & mask
        hashes[slot], self._lines[slot] = key, line
        self._count += 1
        if self._count > self._LOAD * len(self._hashes):
            self._grow()
        return None

    def _slot(self, key):
        hashes, mask = self._hashes, len(self._hashes) - 1
        slot = key & mask
        while hashes[slot] and hashes[slot] != key:
            slot = (slot + 1) & mask
        return slot

    def _grow(self):
        old_hashes, old_lines = self._hashes, self._lines
        self._hashes = array("q", [0]) * (2 * len(old_hashes))
        self._lines = array("I", [0]) * len(self._hashes)
        for key, line in zip(old_hashes, old_lines, strict=True):
            if key:
                slot = self._slot(key)
                self._hashes[slot], self._lines[slot] = key, line


# ---- READER


class _AccountReader:
    """Turn the records of one file into rows, with the state the checks need."""

    def __init__(self, stream, profile, stats, unique_references=True):
        self._profile = profile
        self._stats = stats
        self._lines = _open_lines(stream, profile, stats)
        self._csv = csv.reader(
            self._lines,
            delimiter=profile.delimiter,
            quotechar=profile.quotechar,
            skipinitialspace=True,  # so that a, "b,c" is two fields as its writer meant
        )
        self._statuses = _status_lookup(profile)
        self._references = _ReferenceIndex() if unique_references else None
        self._region = profile.default_region
        self._first = self._read_first_record()
        self._first_problem = self._lines.error
        header = self._first if profile.has_header else None
        self._columns = _resolve_columns(profile, header, len(self._first))

    def rows(self):
        if not self._profile.has_header:
            yield self._row(self._first, self._first_problem)
        while True:
            self._lines.start_record()
            try:
                fields, problem = next(self._csv), self._lines.error
            except StopIteration:
                return
            except _RecordError as exc:
                fields, problem = None, exc.reason
            except csv.Error as exc:
                fields, problem = None, self._csv_problem(exc)
            row = self._row(fields, problem)
            if row is not None:
                yield row

    # ---- records

    def _read_first_record(self):
        """Return the first non-blank record: the header, or the first data record."""
        while True:
            self._lines.start_record()
            try:
                fields = next(self._csv)
            except StopIteration:
                raise ImportFormatError("the file is empty") from None
            except _RecordError as exc:
                raise ImportFormatError(f"line {self._lines.first_line}: {exc.reason}") from None
            except csv.Error as exc:
                problem = self._csv_problem(exc)
                raise ImportFormatError(f"line {self._lines.first_line}: {problem}") from None
            if self._profile.has_header and self._lines.error:
                raise ImportFormatError(
                    f"the header line cannot be read ({self._lines.error}):"
                    " check the file's encoding"
                )
            if not _is_blank(fields):
                return fields

    def _csv_problem(self, exc):
        """Say what csv refused in the user's terms; its own texts speak to programmers."""
        message = str(exc)
        if message.startswith("field larger than field limit"):
            return f"a field is longer than {self._profile.max_field_size} characters"
        if message.startswith("new-line character seen in unquoted field"):
            return "contains a carriage return outside quotes (a file with old Mac line endings?)"
        return f"cannot be read as CSV: {message}"

    def _row(self, fields, problem):
        """Return the :class:`AccountRow` or :class:`RowError` of a record, None if blank."""
        if problem is None:
            if _is_blank(fields):
                return None
            fields, problem = self._check_shape(fields)
        if problem is None:
            values = [value.strip() for value in fields]
            status = self._status(values)
            problem = self._check_values(values, status)
            if problem is None:
                self._stats.rows_accepted += 1
                return self._account(values, status)
        return self._error(problem, fields)

    def _check_shape(self, fields):
        expected = self._columns.count
        if len(fields) > expected and _is_blank(fields[expected:]):
            fields = fields[:expected]  # spreadsheets pad rows with empty cells
        if len(fields) != expected:
            return fields, f"expected {expected} columns, found {len(fields)}"
        limit = self._profile.max_field_size
        if self._lines.chars > limit and max(map(len, fields)) > limit:
            return fields, f"a field is longer than {limit} characters"
        return fields, None

    def _check_values(self, values, status):
        reference = values[self._columns.reference]
        if not reference:
            return "the reference is missing"
        if len(reference) > MAX_REFERENCE_LENGTH:
            return f"the reference is longer than {MAX_REFERENCE_LENGTH} characters"
        if status is None:
            accepted = ", ".join(sorted(self._profile.status_values))
            raw = values[self._columns.status]
            return f"unknown status {raw!r}; accepted values: {accepted}"
        problem = self._check_time_zone(values)
        if problem:
            return problem
        if self._references is None:
            return None
        first = self._references.first_line(reference, self._lines.first_line)
        if first is not None:
            return f"duplicate reference {reference!r}, first seen on line {first}"
        return None

    def _check_time_zone(self, values):
        # Rejected rather than imported without: the account would get the calendar's zone
        # and be texted at the wrong hours without anyone noticing.
        raw = _value(values, self._columns.time_zone)
        if raw and canonical_zone(raw) is None:
            return (
                f"unknown time zone {raw!r}: use an IANA name such as Europe/London or "
                "America/New_York"
            )
        return None

    def _status(self, values):
        index = self._columns.status
        raw = values[index] if index is not None else ""
        if not raw:
            return self._profile.default_status
        status = self._statuses.get(raw)  # the spelling of the mapping itself, most often
        return status if status is not None else self._statuses.get(_status_key(raw))

    # ---- results

    def _account(self, values, status):
        columns = self._columns
        email, email_error = normalise_email(_value(values, columns.email))
        sms_number = _value(values, columns.sms)
        phone = normalise_phone(sms_number, self._region)
        return AccountRow(
            line=self._lines.first_line,
            reference=values[columns.reference],
            name=_value(values, columns.name),
            status=status,
            email=email,
            email_error=email_error,
            sms_number=sms_number,
            sms_e164=phone.e164,
            sms_error=phone.error,
            sms_number_type=phone.number_type,
            time_zone=canonical_zone(_value(values, columns.time_zone)),
            sms_time_zones=phone_zones(phone.e164, phone.region, phone.number_type),
            data={key: values[index] for index, key in columns.data},
        )

    def _error(self, problem, fields):
        self._stats.rows_rejected += 1
        line = self._lines.first_line
        return RowError(
            line=line,
            reason=f"line {line}: {problem}",
            reference=self._reference_of(fields),
            raw=self._lines.raw(),
        )

    def _reference_of(self, fields):
        index = self._columns.reference
        if fields is None or index >= len(fields):
            return None
        return fields[index].strip() or None


def _value(values, index):
    return (values[index] or None) if index is not None else None


def _is_blank(fields):
    return not "".join(fields).strip()
