from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..wizard import outbound_account_import
from .common import OutboundCase

HEADER = "reference,name,status,email,mobile,due_date,amount\n"


@tagged("post_install", "-at_install")
class TestImport(OutboundCase):
    def _accounts(self, outbound_list=None):
        return (outbound_list or self.list_active).account_ids.sorted("reference")

    def test_good_rows_in_bad_rows_reported(self):
        wizard = self._import(
            HEADER
            + "R1,Ann,unused,ann@example.com,07911 123456,2026-12-01,10.00\n"
            + "R2,Bob,Call Back,BOB@EXAMPLE.COM,+33 6 12 34 56 78,2026-12-02,20.00\n"
            + "R3,Cid,completed,bad@,12345,2026-12-03,30.00\n"
            + ",NoRef,unused,x@example.com,,2026-12-04,1\n"
            + "R5,Dee,unused,dee@example.com\n"
            + "R1,Dup,unused,dup@example.com,,2026-12-05,1\n"
            + "R7,Eve,weird,eve@example.com,,,\n"
        )
        self.assertEqual(
            (
                wizard.count_created,
                wizard.count_updated,
                wizard.count_rejected,
                wizard.count_warnings,
            ),
            (3, 0, 4, 1),
        )
        accounts = self._accounts()
        self.assertEqual(accounts.mapped("reference"), ["R1", "R2", "R3"])
        self.assertEqual(accounts.mapped("status"), ["unused", "callback", "completed"])
        self.assertEqual(accounts[1].email, "bob@example.com")
        self.assertEqual(accounts[0].sms_number_e164, "+447911123456")
        self.assertEqual(accounts[1].sms_number_e164, "+33612345678")
        self.assertEqual(accounts[0].data, {"due_date": "2026-12-01", "amount": "10.00"})
        self.assertEqual(accounts[0].sms_country_id, self.env.ref("base.uk"))
        # Invalid contact details do not lose the account, they are kept with the reason.
        self.assertFalse(accounts[2].email)
        self.assertIn("bad@", accounts[2].email_error)
        self.assertEqual(accounts[2].sms_number, "12345")
        self.assertFalse(accounts[2].sms_number_e164)
        self.assertTrue(accounts[2].sms_number_error)

        report = self._report_rows(wizard)
        by_line = {int(row["line"]): row for row in report}
        self.assertEqual(sorted(by_line), [4, 5, 6, 7, 8])
        self.assertEqual(by_line[4]["severity"], "warning")
        # One report row per problem of the imported row: its email and its SMS number.
        line_4 = [row["reason"] for row in report if row["line"] == "4"]
        self.assertEqual(len(line_4), 2)
        self.assertIn("bad@", line_4[0])
        self.assertIn("12345", line_4[1])
        self.assertIn("reference", by_line[5]["reason"])
        self.assertIn("column", by_line[6]["reason"])
        self.assertIn("line 2", by_line[7]["reason"])
        self.assertIn("weird", by_line[8]["reason"])
        self.assertTrue(
            all(row["severity"] == "error" for line, row in by_line.items() if line != 4)
        )

    def test_summary_posted_on_the_list_with_the_report(self):
        wizard = self._import(HEADER + "R1,Ann,unused,ann@example.com,,,\n", filename="north.csv")
        message = self.list_active.message_ids[0]
        self.assertIn("north.csv", message.body)
        self.assertIn("1 created", message.body)
        self.assertEqual(message.attachment_ids, wizard.report_attachment_id)
        self.assertEqual(wizard.report_attachment_id.res_id, self.list_active.id)
        action = wizard.action_download_report()
        self.assertIn(str(wizard.report_attachment_id.id), action["url"])

    def test_add_mode_rejects_existing_references(self):
        self._create_accounts(self.list_active, 1, name="Old")
        wizard = self._import(HEADER + "R00000,New,unused,,,,\nR9,Nine,unused,,,,\n")
        self.assertEqual((wizard.count_created, wizard.count_rejected), (1, 1))
        self.assertEqual(self._accounts()[0].name, "Old")
        self.assertIn("already exists", self._report_rows(wizard)[0]["reason"])

    def test_update_mode_updates_only_imported_columns(self):
        account = self._create_accounts(
            self.list_active, 1, name="Old", status="callback", data={"keep": "1"}
        )
        self.profile.write({"import_mode": "update", "status_column": False})
        wizard = self._import(
            "reference,name,email,mobile,amount\nR00000,New,new@example.com,,5\nR9,Nine,,,\n"
        )
        self.assertEqual((wizard.count_created, wizard.count_updated), (1, 1))
        self.assertEqual(account.name, "New")
        self.assertEqual(account.status, "callback")
        self.assertEqual(account.email, "new@example.com")
        self.assertEqual(account.data, {"keep": "1", "amount": "5"})

    def test_overwrite_mode_replaces_the_list(self):
        self._create_accounts(self.list_active, 3)
        self.profile.import_mode = "overwrite"
        # A reference of the list comes back as a new account, not as a conflict.
        wizard = self._import(HEADER + "N1,New,unused,,,,\nR00001,Again,unused,,,,\n")
        self.assertEqual((wizard.count_created, wizard.count_rejected), (2, 0))
        self.assertEqual(self._accounts().mapped("reference"), ["N1", "R00001"])
        self.assertEqual(self._accounts().mapped("name"), ["New", "Again"])

    def test_duplicate_contacts_per_policy(self):
        self._create_accounts(self.list_passive, 1, email="held@example.com")
        rows = (
            HEADER
            + "D1,A,unused,held@example.com,,,\n"
            + "D2,B,unused,twice@example.com,07911 123456,,\n"
            + "D3,C,unused,TWICE@example.com,,,\n"
            + "D4,D,unused,,+44 7911 123456,,\n"
        )
        expected = {"allow": 4, "list": 2, "campaign": 1}
        for policy, created in expected.items():
            with self.subTest(policy=policy):
                self.profile.write({"duplicate_policy": policy, "import_mode": "overwrite"})
                wizard = self._import(rows)
                self.assertEqual(wizard.count_created, created)
        reasons = {row["line"]: row["reason"] for row in self._report_rows(wizard)}
        self.assertIn("held@example.com", reasons["2"])
        self.assertIn("South", reasons["2"])
        self.assertIn("line 3", reasons["4"])
        self.assertIn("+447911123456", reasons["5"])
        # Every reason names its line, as the file's own problems do.
        self.assertTrue(reasons["4"].startswith("line 4: duplicate email address"), reasons["4"])
        self.assertTrue(reasons["2"].startswith("line 2: duplicate"), reasons["2"])

    def test_result_dialog_names_the_first_problems(self):
        rows = HEADER + "".join(f"R{n},A,unused,bad{n}@,,,\n" for n in range(7)) + "R1,B,,,,,\n"
        wizard = self._import(rows, filename="north.csv")
        action = wizard._reopen()
        self.assertEqual(action["name"], "Import Result: north.csv")
        self.assertEqual(wizard.report_attachment_id.name, "Import report - north.csv")
        preview = wizard.report_preview.splitlines()
        # Rejections first, then warnings, five at most, then a pointer to the report.
        self.assertEqual(len(preview), 6)
        self.assertTrue(preview[0].startswith("rejected: line 9: duplicate reference"), preview[0])
        self.assertTrue(preview[1].startswith("warning: line 2: e-mail"), preview[1])
        self.assertIn("more in the report", preview[-1])
        self.assertFalse(self._import(HEADER + "R9,Ann,unused,ann@example.com,,,\n").report_preview)

    def test_profile_without_header_semicolon_cp1252(self):
        profile = self.profile.copy(
            {
                "delimiter": ";",
                "has_header": False,
                "encoding": "cp1252",
                "reference_column": "1",
                "name_column": "2",
                "status_column": False,
                "email_column": "3",
                "sms_column": "4",
                "default_country_id": self.env.ref("base.fr").id,
            }
        )
        content = "C1;Hélène Dupré;helene@example.fr;06 12 34 56 78;Paris\n".encode("cp1252")
        wizard = self._import(content, profile=profile)
        self.assertEqual(wizard.count_created, 1)
        account = self._accounts()
        self.assertEqual(account.name, "Hélène Dupré")
        self.assertEqual(account.sms_number_e164, "+33612345678")
        self.assertEqual(account.data, {"column_5": "Paris"})
        self.assertEqual(account.status, "unused")

    def test_bad_encoding_loses_only_that_line(self):
        content = HEADER.encode() + b"E1,Ann,unused,,,,\nE2,B\xe9a,unused,,,,\nE3,Cy,unused,,,,\n"
        wizard = self._import(content)
        self.assertEqual(self._accounts().mapped("reference"), ["E1", "E3"])
        (row,) = self._report_rows(wizard)
        self.assertEqual(row["line"], "3")
        self.assertIn("0xe9", row["reason"])

    def test_report_is_safe_in_a_spreadsheet(self):
        wizard = self._import(HEADER + '=HYPERLINK("http://x.example"),Evil,unused,,,,,extra\n')
        (row,) = self._report_rows(wizard)
        self.assertTrue(row["raw"].startswith("'="), row["raw"])
        self.assertFalse(any(value.startswith(("=", "+", "-", "@")) for value in row.values()))

    def test_missing_column_is_a_clear_error(self):
        with self.assertRaisesRegex(UserError, "mobile"):
            self._import("reference,name,status,email\nR1,Ann,unused,a@example.com\n")
        self.assertFalse(self.list_active.account_ids)

    def test_import_again_into_the_same_transaction(self):
        self._import(HEADER + "T1,Ann,unused,,,,\n")
        self._import(HEADER + "T2,Bob,unused,,,,\n")
        self.assertEqual(self._accounts().mapped("reference"), ["T1", "T2"])

    def test_values_arrive_as_written(self):
        # The rows reach PostgreSQL in COPY's text format, where these characters are escapes.
        name = 'Tab\there, back\\slash, \\N and "quotes"'
        amount = "one\ntwo\\n"
        wizard = self._import(
            HEADER
            + 'S1,"Tab\there, back\\slash, \\N and ""quotes""",unused,,,,"one\ntwo\\n"\n'
            + "S2,Back\\slash,pending,,,,\n"
        )
        self.assertEqual((wizard.count_created, wizard.count_rejected), (1, 1))
        account = self._accounts()
        self.assertEqual(account.name, name)
        self.assertEqual(account.data, {"due_date": "", "amount": amount})
        self.assertEqual(self._report_rows(wizard)[0]["raw"], "S2,Back\\slash,pending,,,,")

    def test_every_engine_warning_reaches_the_report(self):
        wizard = self._import(
            HEADER
            + "W1,Ann,unused,ann@example.com,0121 234 5678,,\n"
            + "W2,Bob,unused,bad@,12345,,\n"
            + "W3,Cid,unused,cid@example.com,07911 123456,,\n"
        )
        self.assertEqual((wizard.count_created, wizard.count_warnings), (3, 2))
        self.assertEqual(self._accounts()[0].sms_number_e164, "+441212345678")
        report = [
            (row["line"], row["severity"], row["reason"]) for row in self._report_rows(wizard)
        ]
        self.assertEqual(
            report,
            [
                (
                    "2",
                    "warning",
                    "line 2: SMS number '0121 234 5678' is a fixed line number,"
                    " which probably cannot receive SMS",
                ),
                ("3", "warning", "line 3: e-mail 'bad@' has nothing after the @"),
                ("3", "warning", "line 3: SMS number '12345' is too short for GB (+44)"),
            ],
        )

    def test_report_pages_keep_every_row_of_a_line(self):
        rows = "".join(f"P{index},P,unused,bad{index}@,12345,,\n" for index in range(5))
        with patch.object(outbound_account_import, "REPORT_PAGE", 3):
            wizard = self._import(HEADER + rows)
        report = self._report_rows(wizard)
        self.assertEqual(len(report), 10)
        self.assertEqual(wizard.count_warnings, 5)

    def test_national_number_keeps_the_profile_country(self):
        self.profile.default_country_id = self.env.ref("base.fr")  # company country: GB
        self._import(HEADER + "F1,Ann,unused,,06 12 34 56 78,,\n")
        account = self._accounts()
        self.assertEqual(account.sms_country_id, self.env.ref("base.fr"))
        self.assertEqual(account.sms_number_e164, "+33612345678")
        account.name = "Ann Lee"
        self.env.add_to_compute(account._fields["sms_number_e164"], account)
        account.flush_recordset()
        self.assertEqual(account.sms_number_e164, "+33612345678")
        self.env.company.country_id = self.env.ref("base.us")
        self.assertEqual(account.sms_number_e164, "+33612345678")
        self.assertFalse(account.sms_number_error)

    def test_without_profile_country_the_company_country_reads_the_number(self):
        self.profile.default_country_id = False
        wizard = self._import(HEADER + "G1,Ann,unused,,07911 123456,,\n")
        self.assertEqual(wizard.count_warnings, 0)
        account = self._accounts()
        self.assertFalse(account.sms_country_id)
        self.assertEqual(account.sms_number_e164, "+447911123456")
        self.env.add_to_compute(account._fields["sms_number_e164"], account)
        account.flush_recordset()
        self.assertEqual(account.sms_number_e164, "+447911123456")

    # ---- CHUNKS WRITTEN WHILE THE FILE IS READ

    STREAMED_ROWS = (
        HEADER
        + "R00000,Again,unused,,,,\n"  # the list has it: rejected before its chunk is written
        + "S1,Ann,unused,ann@example.com,07911 123456,,\n"
        + "S2,Bob,unused,held@example.com,,,\n"  # held by the account already in the list
        + "S3,Cid,unused,,+44 7911 123456,,\n"  # S1's number, one chunk later
        + "S4,Dee,unused,ANN@example.com,,,\n"  # S1's address, two chunks later
        + "S5,Eve,weird,eve@example.com,,,\n"  # refused by the engine
        + "S6,Fay,unused,fay@example.com,07911 123457,,\n"
        + "S7,Gus,unused,,,,\n"
        + "S7,Hal,unused,,,,\n"  # the reference of the row before
        + "S1,Ivy,unused,ivy@example.com,,,\n"  # S1's reference, four chunks later
        + "R00000,Jo,unused,,,,\n"  # a row refused for its reference was still seen first
    )

    def _streamed_outcome(self, chunk):
        """Import STREAMED_ROWS into a new list holding R00000, with chunks of ``chunk`` rows."""
        outbound_list = self.env["outbound.list"].create(
            {"name": "Chunked", "campaign_id": self.campaign.id}
        )
        self._create_accounts(outbound_list, 1, email="held@example.com")
        with patch.object(outbound_account_import, "COPY_CHUNK", chunk):
            wizard = self._import(self.STREAMED_ROWS, outbound_list=outbound_list)
        accounts = outbound_list.account_ids.sorted("id")
        counts = (wizard.count_created, wizard.count_rejected, wizard.count_warnings)
        report = [
            (row["line"], row["severity"], row["reason"]) for row in self._report_rows(wizard)
        ]
        return counts, accounts.mapped("reference"), report, outbound_list

    def test_chunks_written_while_reading_end_as_one_chunk_would(self):
        whole = self._streamed_outcome(chunk=1000)
        counts, references, report, outbound_list = self._streamed_outcome(chunk=2)
        self.assertEqual((counts, references, report), whole[:3])
        self.assertEqual(counts, (3, 8, 0))
        # The accounts of S3 and S4, written with their chunks, were deleted once rejected.
        self.assertEqual(references, ["R00000", "S1", "S6", "S7"])
        self.assertEqual(
            outbound_list.account_ids.sorted("id").mapped("name")[1:], ["Ann", "Fay", "Gus"]
        )
        self.assertEqual(
            outbound_list.account_ids.sorted("id").filtered("email").mapped("email"),
            ["held@example.com", "ann@example.com", "fay@example.com"],
        )
        reasons = {line: reason for line, _severity, reason in report}
        self.assertIn("already exists", reasons["2"])
        self.assertIn("held by account R00000", reasons["4"])
        self.assertTrue(
            reasons["5"].startswith(
                "line 5: duplicate SMS number +447911123456, already on line 3"
            ),
            reasons["5"],
        )
        self.assertTrue(
            reasons["6"].startswith(
                "line 6: duplicate email address ann@example.com, already on line 3"
            ),
            reasons["6"],
        )
        self.assertIn("weird", reasons["7"])
        self.assertEqual(reasons["10"], "line 10: duplicate reference 'S7', first seen on line 9")
        self.assertEqual(reasons["11"], "line 11: duplicate reference 'S1', first seen on line 3")
        self.assertEqual(
            reasons["12"], "line 12: duplicate reference 'R00000', first seen on line 2"
        )
        # The running counts saw each account written and deleted again.
        outbound_list.invalidate_recordset(["account_count"])
        self.assertEqual(outbound_list.account_count, 4)

    def test_a_reference_repeated_within_and_across_chunks_names_its_first_line(self):
        rows = "A1,First,unused,,,,\nB1,B,unused,,,,\nC1,C,unused,,,,\n"
        rows += "A1,Second,unused,,,,\nA1,Third,unused,,,,\nD1,D,unused,,,,\n"
        with patch.object(outbound_account_import, "COPY_CHUNK", 3):
            wizard = self._import(HEADER + rows)
        self.assertEqual((wizard.count_created, wizard.count_rejected), (4, 2))
        self.assertEqual(self._accounts().filtered(lambda a: a.reference == "A1").name, "First")
        reasons = {row["line"]: row["reason"] for row in self._report_rows(wizard)}
        # Line 5 repeats line 2 of the chunk before; line 6 repeats line 5 of its own chunk,
        # and is still told the first line of the file.
        self.assertEqual(reasons["5"], "line 5: duplicate reference 'A1', first seen on line 2")
        self.assertEqual(reasons["6"], "line 6: duplicate reference 'A1', first seen on line 2")

    def test_overwrite_in_chunks_replaces_the_list(self):
        self._create_accounts(self.list_active, 3, email="old{}@example.com")
        self.profile.import_mode = "overwrite"
        rows = "".join(f"N{n},New,unused,old{n % 2}@example.com,,,\n" for n in range(5))
        with patch.object(outbound_account_import, "COPY_CHUNK", 2):
            wizard = self._import(HEADER + rows)
        # The old addresses are gone with their accounts: only the file's own repeats count.
        self.assertEqual((wizard.count_created, wizard.count_rejected), (2, 3))
        self.assertEqual(self._accounts().mapped("reference"), ["N0", "N1"])

    def test_a_chunk_that_fails_fails_the_import(self):
        calls = []
        copy_chunk = outbound_account_import._copy_chunk

        def failing_copy(cr, rows, errors):
            calls.append(len(rows))
            if len(calls) == 2:
                raise ValueError("the database went away")
            copy_chunk(cr, rows, errors)

        rows = "".join(f"F{n},F,unused,,,,\n" for n in range(7))
        with (
            patch.object(outbound_account_import, "COPY_CHUNK", 2),
            patch.object(outbound_account_import, "_copy_chunk", failing_copy),
            self.assertRaisesRegex(ValueError, "the database went away"),
        ):
            self._import(HEADER + rows)
        # The failure stopped the reading at the next chunk: no task left using the cursor.
        self.assertEqual(len(calls), 2)

    def test_background_runs_one_task_at_a_time_in_order(self):
        done = []
        with outbound_account_import._Background() as background:
            for number in range(5):
                background.submit(lambda number=number: done.append(number))
                self.assertLessEqual(len(done), number + 1)
                self.assertGreaterEqual(len(done), number)
        self.assertEqual(done, [0, 1, 2, 3, 4])
        with (
            self.assertRaisesRegex(RuntimeError, "second"),
            outbound_account_import._Background() as background,
        ):
            background.submit(lambda: done.append("first"))
            background.submit(_raise_second)
        self.assertEqual(done[-1], "first")


def _raise_second():
    raise RuntimeError("second")
