"""Hostile input: template sandbox escapes, markup and headers in account data, hostile CSV files.

What is checked is what a person would see: the error text when a template is saved, the email
the SMTP sink received, the preview, the cells of the import report opened in a spreadsheet.
"""

import base64
import csv
import io
import logging
import os
import random
import tempfile
import time
import tracemalloc
import zipfile

from lxml import html as lxml_html

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import OutboundCase, SendingCase

_logger = logging.getLogger(__name__)
SEND_JOB_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_send_job"

# ---- (a) TEMPLATE SANDBOX

SANDBOX_PAYLOADS = (
    "{{ ''.__class__.__mro__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ account|attr('__class__') }}",
    "{{ '%s'|format(account.__class__) }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'a' * 999999999 }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{{ lipsum }}",
    "{{ request }}",
    "{{ config }}",
    # The same ideas by other roads.
    "{{ account.data.__class__.__base__.__subclasses__() }}",
    "{{ '{0.__class__}'.format(account) }}",
    "{{ account['__class__'] }}",
    "{{ account.data.get.__self__ }}",
    "{{ account.items }}",
    "{{ range.__call__ }}",
    "{% set data = account.data %}{{ data.update({'x': 1}) }}",
    "{{ [].pop() }}",
    "{{ namespace() }}",
    "{{ caller() }}",
    "{% include 'web.layout' %}",
    "{% import 'web.layout' as layout %}",
    "{% extends 'web.layout' %}",
    "{% for a in range(1000) %}{% for b in range(1000) %}"
    "{% for c in range(1000) %}x{% endfor %}{% endfor %}{% endfor %}",
    "{% for x in account.data.values() recursive %}{{ loop(x) }}{% endfor %}",
    "{{ (range(1000)|list) * 1000000 }}",
    "{{ ''.join(['a'] * 100000000) }}",
    "{{ '%999999999s'|format('x') }}",
    "{{ account.name.center(999999999) }}",
    "{{ 'x'|indent(999999999) }}",
    "{{ 9 ** 9999999 }}",
)
# What would show that a payload reached Python: a repr, an address, a function, a shell.
INTERNALS = ("object at 0x", "<class", "built-in", "<function", "<module", "uid=", "Traceback")


@tagged("post_install", "-at_install")
class TestTemplateSandbox(OutboundCase):
    """Every payload is refused when the template is saved, fast, with the template's name."""

    def _save(self, **values):
        vals = {"name": "Hostile", "campaign_id": self.campaign.id, "subject": "Hi", "body": "x"}
        return self.env["outbound.template"].with_user(self.user_manager).create(vals | values)

    def _assert_refused(self, payload, **values):
        started = time.monotonic()
        with self.assertRaises(ValidationError) as caught:
            self._save(**values)
        elapsed = time.monotonic() - started
        message = str(caught.exception)
        self.assertLess(elapsed, 1.0, f"{payload!r} took {elapsed:.2f} s to refuse")
        self.assertTrue(message.startswith(f"Template {values.get('name', 'Hostile')}: "), message)
        for marker in INTERNALS:
            self.assertNotIn(marker, message, f"{payload!r} reached Python: {message}")
        return message

    def test_payloads_in_the_body_are_refused(self):
        for index, payload in enumerate(SANDBOX_PAYLOADS):
            with self.subTest(payload=payload):
                message = self._assert_refused(payload, name=f"Hostile {index}", body=payload)
                self.assertIn("line 1", message)

    def test_payloads_in_an_html_body_and_in_the_subject_are_refused(self):
        for payload in SANDBOX_PAYLOADS:
            with self.subTest(payload=payload, where="html body"):
                self._assert_refused(payload, body_type="html", body=f"<p>{payload}</p>")
            with self.subTest(payload=payload, where="subject"):
                self._assert_refused(payload, subject=payload)

    def test_payload_written_over_a_valid_template_leaves_it_unchanged(self):
        template = self._save(body="Dear $ACCOUNT_NAME")
        for payload in SANDBOX_PAYLOADS[:11]:
            with self.subTest(payload=payload), self.assertRaises(ValidationError):
                template.write({"body": payload})
        self.assertEqual(template.body, "Dear $ACCOUNT_NAME")

    def test_ordinary_jinja_still_works(self):
        """The refusals above come from the sandbox, not from refusing every Jinja tag."""
        self._create_accounts(self.list_active, 1, sms="07911 123456", data={"due": "1 May"})
        template = self._save(
            body="{% for key, value in account.data.items() %}{{ key }}={{ value|upper }};"
            "{% endfor %}{{ account.name|default('friend') }} {{ range(3)|join(',') }}"
        )
        self.assertEqual(template.preview_text, "due=1 MAY;A 0 0,1,2")


# ---- (b) MARKUP AND HEADERS IN ACCOUNT DATA

HOSTILE_NAMES = {
    "H1": "<script>alert(1)</script>",
    "H2": '"><img src=x onerror=alert(1)>',
    "H3": "{{ 7*7 }}",
    "H4": "$ACCOUNT_EMAIL",
    "H5": "{% for i in range(3) %}x{% endfor %}${ACCOUNT_NAME}",
}
HOSTILE_NOTE = "<b>bold</b> & <a href='javascript:alert(2)'>click</a>"
HEADER_INJECTION = "Eve\r\nBcc: evil@example.com"


def _parse(markup):
    return lxml_html.document_fromstring(f"<div>{markup}</div>")


@tagged("post_install", "-at_install")
class TestHtmlInjection(SendingCase):
    """Account values are data: escaped in HTML, verbatim in text, never evaluated."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        names = dict(HOSTILE_NAMES, H6=HEADER_INJECTION)
        cls.hostile = cls.env["outbound.account"].create(
            [
                {
                    "list_id": cls.list_active.id,
                    "reference": reference,
                    "name": name,
                    "email": f"{reference.lower()}@example.com",
                    "data": {"note": HOSTILE_NOTE},
                }
                for reference, name in names.items()
            ]
        )
        cls.by_ref = {account.reference: account for account in cls.hostile}
        cls.template.write(
            {
                "body_type": "html",
                "subject": "Hello $ACCOUNT_NAME",
                "body": "<p>Dear $ACCOUNT_NAME,</p><p>Note: $ACCOUNT_NOTE</p>"
                "<p>Again: {{ account.name }}</p>",
            }
        )

    def _assert_inert(self, markup):
        """No element or attribute of ``markup`` can run a script."""
        tree = _parse(markup)
        self.assertFalse(tree.xpath("//script|//img|//iframe|//object"), markup)
        self.assertFalse(tree.xpath("//@*[starts-with(name(), 'on')]"), markup)
        self.assertFalse(
            [href for href in tree.xpath("//@href") if href.strip().lower().startswith("java")],
            markup,
        )

    def test_email_escapes_html_and_keeps_text_verbatim(self):
        with self.smtp_sink() as sink:
            job = self._send("email")
            with mute_logger(SEND_JOB_LOGGER):  # H6's failure is logged as a warning
                self._dispatch()
        self.assertEqual(self._states(job), {"sent": 5, "failed": 1})
        received = {message.rcpt_tos[0]: message for message in sink.messages}
        self.assertEqual(sorted(received), [f"h{n}@example.com" for n in range(1, 6)])
        for reference, name in HOSTILE_NAMES.items():
            with self.subTest(name=name):
                message = received[f"{reference.lower()}@example.com"]
                html = message.get_body(("html",)).get_content()
                text = message.get_body(("plain",)).get_content()
                self._assert_inert(html)
                self.assertIn(f"Dear {name},", text)
                self.assertIn(f"Again: {name}", text)
                self.assertIn(f"Note: {HOSTILE_NOTE}", text)
                self.assertEqual(message["Subject"], f"Hello {name}")
                self.assertIsNone(message["Bcc"])
        html_1 = received["h1@example.com"].get_body(("html",)).get_content()
        self.assertIn("Dear &lt;script&gt;alert(1)&lt;/script&gt;,", html_1)
        self.assertIn("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=", html_1)
        # Template syntax inside a value is shown as typed, not run or expanded.
        text_3 = received["h3@example.com"].get_body(("plain",)).get_content()
        # Before the unsubscribe footer, whose hex signature may well contain "49".
        body_3, _footer = text_3.split("\n\nTo stop receiving these emails, unsubscribe: ", 1)
        self.assertNotIn("49", body_3)
        text_4 = received["h4@example.com"].get_body(("plain",)).get_content()
        self.assertIn("Dear $ACCOUNT_EMAIL,", text_4)
        self.assertNotIn("Dear h4@example.com", text_4)

    def test_line_break_in_a_name_cannot_add_headers(self):
        with self.smtp_sink() as sink:
            job = self._send("email")
            with mute_logger(SEND_JOB_LOGGER):  # H6's failure is logged as a warning
                self._dispatch()
        failed = job.outbound_message_ids.filtered(lambda message: message.state == "failed")
        self.assertEqual(failed.account_reference, "H6")
        self.assertIn("subject must be a single line", failed.failure_reason)
        recipients = [address for message in sink.messages for address in message.rcpt_tos]
        self.assertNotIn("evil@example.com", recipients)
        self.assertNotIn("h6@example.com", recipients)
        for message in sink.messages:
            self.assertNotIn("evil@example.com", message.as_string())

    def test_header_injection_through_addresses_is_refused(self):
        for email in (
            "h7@example.com\r\nBcc: evil@example.com",
            "h7@example.com, evil@example.com",
            "h7@example.com\nevil@example.com",
        ):
            with self.subTest(email=email), self.assertRaises(ValidationError):
                self.env["outbound.account"].create(
                    {"list_id": self.list_active.id, "reference": "H7", "email": email}
                )
        for email_from in ("a@acme.example\r\nBcc: evil@example.com", "a@acme.example, evil@x.y"):
            with self.subTest(email_from=email_from), self.assertRaises(ValidationError):
                self.campaign.with_user(self.user_manager).email_from = email_from

    def test_previews_are_inert(self):
        template = self.template.with_user(self.user_outbound)
        for reference in HOSTILE_NAMES:
            with self.subTest(reference=reference):
                self.template.preview_account_id = self.by_ref[reference]
                self._assert_inert(template.preview_body)
                self.assertIn(
                    HOSTILE_NAMES[reference], _parse(template.preview_body).text_content()
                )
        self.template.write({"body_type": "text", "body": "Dear $ACCOUNT_NAME, $ACCOUNT_NOTE"})
        self.template.preview_account_id = self.by_ref["H1"]
        self._assert_inert(template.preview_body)
        self.assertIn("<script>alert(1)</script>", template.preview_text)
        wizard = self._wizard(record=self.list_active).with_user(self.user_manager)
        for reference in ("H1", "H2"):
            wizard.preview_account_id = self.by_ref[reference]
            self._assert_inert(wizard.preview_body)
            self.assertIn(HOSTILE_NAMES[reference], _parse(wizard.preview_body).text_content())

    def test_imported_columns_shown_inert(self):
        """The account's "Imported Data" and the template's placeholder list show hostile
        column names and values as text."""
        account = self.by_ref["H2"]
        account.data = {"<img src=x onerror=alert(3)>": "<script>alert(4)</script>"}
        self._assert_inert(account.data_display)
        self.assertIn("<script>alert(4)</script>", _parse(account.data_display).text_content())
        self.template.invalidate_recordset(["placeholder_help"])
        self._assert_inert(self.template.placeholder_help)
        self.assertIn("$ACCOUNT_IMG_SRC_X_ONERROR_ALERT_3", self.template.placeholder_help)


# ---- (c) HOSTILE CSV FILES

HEADER = "reference,name,status,email,mobile\n"
FORMULAS = ("=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1)", '=HYPERLINK("http://evil.example")')
FORMULA_STARTS = tuple("=+-@＝＋－＠")
PNG_1X1 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kg"
    "AAAABJRU5ErkJggg=="
)


def _csv_line(*cells):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


@tagged("post_install", "-at_install")
class TestHostileCsv(OutboundCase):
    def _report_cells(self, wizard):
        text = wizard.report_attachment_id.raw.decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text)))

    def _accounts(self):
        return self.list_active.account_ids.sorted("reference")

    def assertImportRefused(self, content, *fragments, **kwargs):
        with self.assertRaises(UserError) as caught:
            self._import(content, **kwargs)
        message = str(caught.exception)
        self.assertTrue(message.startswith("accounts.csv cannot be imported: "), message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        self.assertFalse(self.list_active.account_ids, "a refused file imported accounts")
        return message

    # ---- formula injection

    def test_report_neutralises_formulas_in_every_column(self):
        lines = [HEADER]
        # Rejected (unknown status): each cell of the file in turn holds a formula.
        for index, formula in enumerate(FORMULAS):
            cells = [f"F{index}", "Name", "weird", "f@example.com", "07911 123456"]
            cells[index] = formula
            if index == 2:
                cells[2] = formula  # the status itself is the formula: still unknown
            lines.append(_csv_line(*cells))
        # Rejected with a tab or carriage return before the formula (quoted, kept by csv).
        lines.append('"\t=1+2",Tab,weird,,\n')
        lines.append('"\r=3+4",Cr,weird,,\n')
        lines.append("\t@SUM(9),Bare tab,weird,,\n")
        # Imported with a warning (invalid e-mail): the reference and the warning carry them.
        lines.append(_csv_line("-5+5", "Warned", "unused", "=1+1@", ""))
        wizard = self._import("".join(lines))
        self.assertEqual((wizard.count_created, wizard.count_rejected), (1, 8))
        self.assertEqual(wizard.count_warnings, 1)
        rows = self._report_cells(wizard)
        self.assertEqual(rows[0], ["line", "severity", "reference", "reason", "raw"])
        self.assertEqual(len(rows), 10)
        for row in rows[1:]:
            for cell in row:
                with self.subTest(cell=cell):
                    if cell.startswith("'"):
                        continue  # neutralised: the spreadsheet shows it as text
                    self.assertFalse(cell[:1] in ("\t", "\r"), cell)
                    self.assertFalse(cell.lstrip().startswith(FORMULA_STARTS), cell)
        references = [row[2] for row in rows[1:]]
        self.assertIn("'=cmd|' /C calc'!A0", references)
        self.assertIn("'-5+5", references)
        self.assertIn("'=1+2", references)
        raws = [row[4] for row in rows[1:] if row[1] == "error"]
        self.assertIn("'=cmd|' /C calc'!A0,Name,weird,f@example.com,07911 123456", raws)
        self.assertTrue(any(raw.startswith("'\t@SUM(9)") for raw in raws), raws)
        # The data itself is kept as typed: only the spreadsheet report is neutralised.
        self.assertEqual(self._accounts().mapped("reference"), ["-5+5"])

    # ---- huge fields

    def test_huge_field_rejects_its_row_only(self):
        huge = "x" * 1_000_000
        content = HEADER + "R1,Ann,unused,,\nR2," + huge + ",unused,,\nR3,Cid,unused,,\n"
        wizard = self._import(content)
        self.assertEqual((wizard.count_created, wizard.count_rejected), (2, 1))
        self.assertEqual(self._accounts().mapped("reference"), ["R1", "R3"])
        (row,) = self._report_cells(wizard)[1:]
        self.assertEqual(
            row[:4], ["3", "error", "R2", "line 3: a field is longer than 65536 characters"]
        )
        self.assertLessEqual(len(row[4]), 1000)
        self.assertTrue(row[4].startswith("R2,xxx") and row[4].endswith("…"))

    def test_huge_line_without_end_rejects_its_row_only(self):
        content = HEADER + "R1,Ann,unused,,\nR2," + "y" * 3_000_000 + ",unused,,\nR3,Cid,unused,,\n"
        wizard = self._import(content)
        self.assertEqual((wizard.count_created, wizard.count_rejected), (2, 1))
        reason = self._report_cells(wizard)[1][3]
        self.assertEqual(reason, "line 3: the line is longer than 2097152 bytes")

    def test_unbalanced_quote_shows_the_swallowed_lines(self):
        content = HEADER + 'R1,Ann,unused,,\nR2,"Bob,unused,,\nR3,Cid,unused,,\nR4,Dee,unused,,\n'
        wizard = self._import(content)
        self.assertEqual((wizard.count_created, wizard.count_rejected), (1, 1))
        (row,) = self._report_cells(wizard)[1:]
        self.assertEqual(row[3], "line 3: expected 5 columns, found 2")
        # The lines the open quote swallowed are in the report, readable by the user.
        self.assertIn("R3,Cid", row[4])
        self.assertIn("R4,Dee", row[4])

    # ---- encodings and garbage

    def test_latin_1_bytes_in_a_utf_8_file_reject_their_rows(self):
        content = (HEADER + "R1,Ann,unused,,\n").encode()
        content += "R2,Zoé,unused,,\nR3,Cid,unused,,\nR4,Ève,unused,,\n".encode("latin-1")
        wizard = self._import(content)
        self.assertEqual((wizard.count_created, wizard.count_rejected), (2, 2))
        self.assertEqual(self._accounts().mapped("reference"), ["R1", "R3"])
        reasons = [row[3] for row in self._report_cells(wizard)[1:]]
        self.assertEqual(
            reasons,
            [
                "line 3: not valid utf-8: byte 0xe9 at position 6",
                "line 5: not valid utf-8: byte 0xc8 at position 4",
            ],
        )

    def test_utf_16_file_with_a_utf_8_profile(self):
        content = (HEADER + "R1,Ann,unused,,\n").encode("utf-16")
        self.assertImportRefused(content, "header line cannot be read", "check the file's encoding")

    def test_utf_8_file_with_a_utf_16_profile(self):
        self.profile.encoding = "utf-16"
        self.assertImportRefused((HEADER + "R1,Ann,unused,,\n").encode(), "not valid utf-16")

    def test_truncated_utf_16_file_reports_its_end(self):
        self.profile.encoding = "utf-16"
        content = (HEADER + "R1,Ann,unused,,\nR2,Bob,unused,,\n").encode("utf-16") + b"A"
        wizard = self._import(content)
        self.assertEqual((wizard.count_created, wizard.count_rejected), (2, 1))
        reason = self._report_cells(wizard)[1][3]
        self.assertIn("not valid utf-16", reason)
        self.assertIn("end of the file", reason)

    def test_binary_garbage_is_refused(self):
        rnd = random.Random(7)
        garbage = bytes(rnd.randrange(256) for _ in range(20_000))
        self.assertImportRefused(garbage)
        workbook = io.BytesIO()
        with zipfile.ZipFile(workbook, "w") as archive:
            # A fixed date: the zip header holds it, and today's could put a CR in line 1.
            member = zipfile.ZipInfo("xl/workbook.xml", date_time=(2026, 1, 5, 10, 0, 0))
            archive.writestr(member, "<workbook/>" * 100)
        self.assertImportRefused(workbook.getvalue(), "check the file's encoding")
        # A real picture uploaded by mistake (a broken one is refused by Odoo's attachment
        # code before the wizard sees it: PIL raises while Odoo resizes it).
        self.assertImportRefused(base64.b64decode(PNG_1X1), "check the file's encoding")

    def test_nul_byte_rejects_its_row(self):
        content = (
            HEADER + "R1,Ann,unused,,\nR2,B\x00b,unused,,\nR\x003,Cid,unused,,\nR4,Dee,unused,,\n"
        )
        wizard = self._import(content)
        self.assertEqual((wizard.count_created, wizard.count_rejected), (2, 2))
        self.assertEqual(self._accounts().mapped("reference"), ["R1", "R4"])
        rows = self._report_cells(wizard)[1:]
        self.assertEqual(
            [row[3] for row in rows],
            [
                "line 3: contains a NUL byte at position 5",
                "line 4: contains a NUL byte at position 2",
            ],
        )
        self.assertEqual(rows[0][4], "R2,B\ufffdb,unused,,")

    def test_empty_files_are_refused(self):
        for content in (b"", b"\n\n   \n", b"\xef\xbb\xbf"):
            with self.subTest(content=content):
                self.assertImportRefused(content, "the file is empty")

    def test_header_only_file_imports_nothing(self):
        wizard = self._import(HEADER)
        self.assertEqual(
            (wizard.count_created, wizard.count_rejected, wizard.count_warnings), (0, 0, 0)
        )
        self.assertEqual(
            self._report_cells(wizard), [["line", "severity", "reference", "reason", "raw"]]
        )

    def test_hostile_file_name_and_columns_stay_text_in_the_chatter(self):
        name = "<img src=x onerror=alert(1)>.csv"
        header = "reference,name,status,email,mobile,<script>alert(5)</script>\n"
        self._import(header + "R1,Ann,unused,,,x\n", filename=name)
        body = self.list_active.message_ids[0].body
        tree = _parse(body)
        self.assertFalse(tree.xpath("//img|//script|//@*[starts-with(name(), 'on')]"), body)
        self.assertIn(name, tree.text_content())
        self.assertEqual(self._accounts().data, {"<script>alert(5)</script>": "x"})


# ---- BOUNDED MEMORY

MILLION = 1_000_000
# The Python heap an import may use, whatever the size of the file.
HEAP_LIMIT = 64 * 2**20
# Heap allowed per line of the file: a million lines must fit in HEAP_LIMIT.
HEAP_PER_LINE = HEAP_LIMIT // MILLION


def write_accounts_csv(path, count, bad_every=100, mobile=None):
    """``count`` accounts with unique references, addresses and UK mobile numbers; one row in
    ``bad_every`` has an unknown status (rejected). ``mobile`` replaces every number (e.g. an
    invalid one, so that every row is imported with a warning). Returns the rejected count."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("reference,name,status,email,mobile,due_date,amount\n")
        for i in range(1, count + 1):
            status = "pending" if i % bad_every == 0 else "unused"
            number = mobile or f"074{i % 10}{i:07d}"
            out.write(
                f"ACC{i:08d},Name {i},{status},person{i}@example.com,{number},"
                f"2026-01-{i % 28 + 1:02d},{i % 1000}.{i % 100:02d}\n"
            )
    return count // bad_every


class MemoryCase(OutboundCase):
    def _import_traced(self, lines, **options):
        """Import a generated file of ``lines`` lines into a new list; return (wizard, heap
        peak in bytes during action_import, seconds)."""
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "accounts.csv")
            write_accounts_csv(path, lines, **options)
            with open(path, "rb") as stream:
                content = base64.b64encode(stream.read())
        outbound_list = self.env["outbound.list"].create(
            {"name": f"{lines} lines", "campaign_id": self.campaign.id}
        )
        wizard = self.env["outbound.account.import"].create(
            {
                "list_id": outbound_list.id,
                "profile_id": self.profile.id,
                "file": content,
                "filename": "accounts.csv",
            }
        )
        del content
        self.env.flush_all()
        started = time.monotonic()
        tracemalloc.start()
        try:
            wizard.action_import()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        return wizard, peak, time.monotonic() - started

    def assertHeapFlat(self, small, large, lines):
        """The heap may grow by HEAP_PER_LINE per line at most between two file sizes."""
        per_line = (large - small) / lines
        _logger.info(
            "Import heap peaks: %.1f MiB, then %.1f MiB with %d more lines (%.0f bytes a line)",
            small / 2**20,
            large / 2**20,
            lines,
            per_line,
        )
        self.assertLess(
            per_line,
            HEAP_PER_LINE,
            f"the heap grows by {per_line:.0f} bytes per line: a {MILLION}-line file would "
            f"need about {per_line * MILLION / 2**20:.0f} MiB",
        )


@tagged("post_install", "-at_install")
class TestImportMemory(MemoryCase):
    """Memory against file size, on files small enough for the regular suite."""

    # Both sizes above the import's COPY chunk (10 000 rows, buffered whole) and below the
    # first growth of its reference index (12 bytes a line, by design).
    SMALL, LARGE = 12_000, 40_000

    def test_heap_does_not_grow_with_the_number_of_lines(self):
        _wizard, small, _seconds = self._import_traced(self.SMALL)
        wizard, large, _seconds = self._import_traced(self.LARGE)
        self.assertEqual((wizard.count_created, wizard.count_rejected), (39_600, 400))
        self.assertLess(large, HEAP_LIMIT)
        self.assertHeapFlat(small, large, self.LARGE - self.SMALL)

    def test_heap_does_not_grow_with_the_number_of_reported_lines(self):
        """A file whose every line is reported (here: no valid SMS number, as when the
        numbers lack their country prefix) must not need memory in proportion to the report.
        The report is written page by page to a temporary file and zipped when large.
        """
        _wizard, small, _seconds = self._import_traced(self.SMALL, mobile="n/a")
        wizard, large, _seconds = self._import_traced(self.LARGE, mobile="n/a")
        self.assertEqual((wizard.count_created, wizard.count_warnings), (39_600, 39_600))
        self.assertHeapFlat(small, large, self.LARGE - self.SMALL)


@tagged("post_install", "-at_install", "-standard", "outbound_slow")
class TestMillionLineImport(MemoryCase):
    """A 1 000 000-line file through the import wizard, with the Python heap traced.

    4 to 6 minutes on two cores (tracing the heap triples the reading time): tagged out of the
    standard run and run once per ``make test``, in the scenario without demo data
    (``tools/odoo_tests.py`` adds ``outbound_slow/outbound_bulk_messaging`` there).
    """

    def test_million_line_file_in_bounded_memory(self):
        wizard, peak, seconds = self._import_traced(MILLION)
        _logger.info(
            "Imported %d lines in %.1f s, Python heap peak %.1f MiB",
            MILLION,
            seconds,
            peak / 2**20,
        )
        rejected = MILLION // 100
        self.assertEqual(
            (wizard.count_created, wizard.count_rejected, wizard.count_warnings),
            (MILLION - rejected, rejected, 0),
        )
        self.assertEqual(wizard.list_id.account_count, MILLION - rejected)
        self.assertLess(peak, HEAP_LIMIT, f"heap peak {peak / 2**20:.1f} MiB")
        report = self._report_rows(wizard)
        self.assertEqual(len(report), rejected)
        self.assertEqual(report[-1]["reference"], f"ACC{MILLION:08d}")
