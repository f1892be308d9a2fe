import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..engine.csv_import import AccountRow, read_accounts
from ..engine.errors import ImportFormatError
from ..engine.pg_copy import COPY_OPTIONS, copy_line
from ..engine.report import ReportWriter, account_warnings

_logger = logging.getLogger(__name__)

# Rows are streamed to PostgreSQL with COPY in chunks of this size: large enough to amortise a
# round trip, small enough that memory stays flat whatever the file size.
COPY_CHUNK = 10_000
# Report rows read from the work table at a time: a page is held in memory twice over, as
# PostgreSQL's result and as Python rows.
REPORT_PAGE = 2_000
# Reports larger than this (bytes) are attached zipped.
REPORT_ZIP_SIZE = 1_000_000
# Report lines shown in the result dialog.
PREVIEW_LINES = 5
# One encoder for every row: json.dumps() and JSONEncoder.encode() build a new C encoder at each
# call, which cost as much as the encoding. The values are lists and dicts of strings, with no
# cycle to look for; the output is JSONEncoder(ensure_ascii=False)'s, which tests compare.
if json.encoder.c_make_encoder:
    _iterencode = json.encoder.c_make_encoder(
        None, None, json.encoder.encode_basestring, None, ": ", ", ", False, False, False
    )

    def _to_json(value):
        return "".join(_iterencode(value, 0))

else:  # an interpreter without the _json accelerator
    _to_json = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


ROW_COLUMNS = (
    "line",
    "reference",
    "name",
    "status",
    "email",
    "email_error",
    "sms_number",
    "sms_e164",
    "sms_error",
    "sms_time_zones",
    "time_zone",
    "data",
    "warnings",
    "repeated",
)


class OutboundAccountImport(models.TransientModel):
    """Import a CSV file of accounts into a list with an import profile.

    Rows are read by the engine as a stream and copied into a temporary table, a chunk at a time.
    In the *add* and *overwrite* modes each chunk is written to the list while the next one is
    read (:class:`_Background`): PostgreSQL checks and inserts on one core while Python parses on
    the other. The checks that need the whole file (duplicate contacts) then run set-based over
    the temporary table, and the accounts of the rows they reject are deleted again, all in the
    import's transaction. The *update* mode checks first and upserts once at the end, since an
    update cannot be taken back. Every row is either imported or listed, with its line number and
    reason, in a CSV report attached to the list.
    """

    _name = "outbound.account.import"
    _description = "Import Outbound Accounts"

    list_id = fields.Many2one("outbound.list", required=True, ondelete="cascade")
    profile_id = fields.Many2one("outbound.import.profile", required=True, ondelete="cascade")
    file = fields.Binary(string="CSV File", required=True)
    filename = fields.Char()
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], default="draft")
    count_created = fields.Integer(string="Created", readonly=True)
    count_updated = fields.Integer(string="Updated", readonly=True)
    count_rejected = fields.Integer(string="Rejected", readonly=True)
    count_warnings = fields.Integer(string="Imported with warnings", readonly=True)
    report_attachment_id = fields.Many2one("ir.attachment", readonly=True)
    report_preview = fields.Text(
        string="First Problems",
        readonly=True,
        help="The first rejected or warned rows; the report has them all.",
    )

    # ---- ACTIONS

    def action_import(self):
        self.ensure_one()
        self.list_id.check_access("write")
        self._lock_list()
        # The chunks are written with SQL as they are read: pending ORM writes go first.
        self.env.flush_all()
        if self.profile_id.import_mode == "overwrite":
            self.env.cr.execute(
                "DELETE FROM outbound_account WHERE list_id = %s", [self.list_id.id]
            )
        try:
            with self._open_file() as (stream, size):
                columns = self._load_rows(stream, size)
        except ImportFormatError as error:
            raise UserError(
                self.env._(
                    "%(file)s cannot be imported: %(error)s", file=self.filename, error=error
                )
            ) from error
        self._check_duplicate_contacts()
        self._list_warnings()
        created, updated = self._write_accounts()
        self.list_id._add_data_columns(columns)
        rejected, warnings = self._count_report()
        self.write(
            {
                "state": "done",
                "count_created": created,
                "count_updated": updated,
                "count_rejected": rejected,
                "count_warnings": warnings,
                "report_attachment_id": self._attach_report().id,
                "report_preview": self._report_preview(),
            }
        )
        self._drop_work_tables()
        self._post_summary()
        return self._reopen()

    def action_download_report(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self.report_attachment_id.id}?download=true",
            "target": "self",
        }

    # ---- READING

    @contextlib.contextmanager
    def _open_file(self):
        """Yield the uploaded file as a binary stream, from the filestore when it is there.

        Reading the stored file instead of the base64 field value keeps memory flat in the file
        size (a database-stored attachment falls back to an in-memory buffer).
        """
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_field", "=", "file"),
                    ("res_id", "=", self.id),
                ],
                limit=1,
            )
        )
        if attachment.store_fname:
            path = attachment._full_path(attachment.store_fname)
            with open(path, "rb") as stream:
                yield stream, os.path.getsize(path)
        else:
            raw = attachment.raw or b""
            yield io.BytesIO(raw), len(raw)

    def _lock_list(self):
        # Two imports into one list at once would each miss the other's references.
        self.env.cr.execute(
            "SELECT id FROM outbound_list WHERE id = %s FOR UPDATE", [self.list_id.id]
        )

    def _load_rows(self, stream, size):
        self._create_work_tables()
        profile = self.profile_id._get_engine_profile(company=self.list_id.company_id)
        rows, errors = [], []
        count, columns, written, last = 0, set(), 0, 0
        # Repeated references are found in the database: the engine's index of them would grow
        # with the file. The chunk's own are marked here, so that PostgreSQL looks up only the
        # list's (_write_chunk_query); the set is emptied with the chunk.
        chunk_references = set()
        items = read_accounts(stream, profile, unique_references=False)
        with _Background() as background:
            for count, item in enumerate(items, start=1):
                if isinstance(item, AccountRow):
                    columns.update(item.data)
                    repeated = item.reference in chunk_references
                    chunk_references.add(item.reference)
                    rows.append(copy_line(self._row_values(item, repeated)).encode())
                else:
                    errors.append(copy_line(self._error_values(item)).encode())
                last = item.line
                if count % COPY_CHUNK == 0:
                    self._submit_chunk(background, rows, errors, written, last)
                    chunk_references.clear()
                    written = last
                    _logger.info(
                        "Import into list %s: %d rows read (%d%% of %s)",
                        self.list_id.display_name,
                        count,
                        100 * stream.tell() // max(size, 1),
                        self.filename,
                    )
            self._submit_chunk(background, rows, errors, written, last)
        # Statistics for the checks over the whole file: a temporary table has none otherwise.
        self.env.cr.execute("ANALYZE outbound_import_row")
        _logger.info("Import into list %s: %d rows read", self.list_id.display_name, count)
        return columns

    def _submit_chunk(self, background, rows, errors, after, upto):
        """Hand the chunk's lines to the background thread as COPY data, and clear them.

        The lists are emptied before waiting for the chunk before: while it is being written,
        this one is held once, as bytes, and the caller reads the next one into the same lists.
        """
        task = self._chunk_task(_copy_data(rows), _copy_data(errors), after, upto)
        rows.clear()
        errors.clear()
        background.submit(task)

    def _chunk_task(self, rows, errors, after, upto):
        """The work of the chunk of lines ``after`` < line <= ``upto``, to run in the background.

        Its statements are built here, in the thread that owns the environment; the task only
        uses the cursor, which the reading thread leaves alone meanwhile.
        """
        cr = self.env.cr
        if self._writes_while_reading():
            statement = self._write_chunk_query(after, upto)
        else:
            statement = self._repeated_references_query(after, upto)

        def task():
            nonlocal rows, errors
            _copy_chunk(cr, rows, errors)
            # Copied: not held while the statement runs, nor while the next chunk is read.
            rows = errors = None
            cr.execute(statement)

        return task

    def _writes_while_reading(self):
        return self.profile_id.import_mode != "update"

    def _row_values(self, row, repeated=False):
        data = _to_json(row.data) if row.data else None
        # The engine's own texts, listed in the report if the row survives the database checks.
        warnings = account_warnings(row)
        return [
            str(row.line),
            row.reference,
            row.name,
            row.status,
            row.email,
            row.email_error,
            row.sms_number,
            row.sms_e164,
            row.sms_error,
            row.sms_time_zones,
            row.time_zone,
            data,
            _to_json(warnings) if warnings else None,
            "t" if repeated else "f",
        ]

    def _error_values(self, error):
        return [
            str(error.line),
            "error",
            _no_nul(error.reference),
            error.reason,
            _no_nul(error.raw),
        ]

    def _create_work_tables(self):
        # written: the row's account is in the list, written with its chunk; a row rejected
        # before its chunk was written (its reference repeated, or already in the list) never was.
        # repeated: an earlier row of the same chunk has the reference (marked by the reader).
        self._drop_work_tables()
        self.env.cr.execute(
            """
            CREATE TEMP TABLE outbound_import_row (
                line integer PRIMARY KEY, reference varchar NOT NULL, name varchar,
                status varchar NOT NULL, email varchar, email_error varchar,
                sms_number varchar, sms_e164 varchar, sms_error varchar,
                sms_time_zones varchar, time_zone varchar, data jsonb,
                warnings jsonb, repeated boolean NOT NULL,
                rejected boolean NOT NULL DEFAULT false, written boolean NOT NULL DEFAULT %s
            );
            CREATE TEMP TABLE outbound_import_report (
                id serial, line integer, severity varchar, reference varchar, reason varchar,
                raw varchar
            );
            CREATE INDEX ON outbound_import_row (reference, line);
            """,
            [self._writes_while_reading()],
        )

    def _drop_work_tables(self):
        self.env.cr.execute(
            "DROP TABLE IF EXISTS outbound_import_row; DROP TABLE IF EXISTS outbound_import_report"
        )

    # ---- CHECKS AGAINST THE DATABASE

    def _repeated_references_query(self, after, upto):
        """Reject the chunk's rows whose reference an earlier row of the file has (the update
        mode's check, before anything is written).

        Each row looks its reference up in the work table's index (LATERAL): a join could scan
        the whole table at every chunk.
        """
        return self._reject_query(
            """
            SELECT r.line, format(%(reason)s, r.reference, first.line) AS reason
              FROM outbound_import_row r
             CROSS JOIN LATERAL (%(first_line)s) AS first
             WHERE r.line > %(after)s AND r.line <= %(upto)s
            """,
            written=False,
            first_line=self._first_line_query("r"),
            reason=self._repeated_reason(),
            after=after,
            upto=upto,
        )

    def _write_chunk_query(self, after, upto):
        """Reject the chunk's rows whose reference was already taken, and insert the others.

        Taken: by an earlier row of the chunk (``repeated``, marked by the reader), or in the
        list, by an earlier chunk or before the import (add mode; the overwrite mode emptied
        it). That is one probe of the list's unique index per row (LATERAL: as a subquery, the
        planner may hash the whole list at each chunk, its estimate of the list's size being
        that of before the import); the first line of the reference in the file, which the
        reason names, is looked up for the rejected rows only.
        """
        return self._reject_query(
            """
            SELECT taken.line, CASE
                   WHEN first.line IS NULL THEN format(%(held)s, taken.reference)
                   ELSE format(%(repeated)s, taken.reference, first.line) END AS reason
              FROM (SELECT r.line, r.reference FROM outbound_import_row r
                      LEFT JOIN LATERAL (
                           SELECT true AS found FROM outbound_account a
                            WHERE a.list_id = %(list_id)s AND a.reference = r.reference
                            LIMIT 1) AS held ON true
                     WHERE r.line > %(after)s AND r.line <= %(upto)s AND NOT r.rejected
                       AND (r.repeated OR held.found)
                   ) AS taken
              LEFT JOIN LATERAL (%(first_line)s) AS first ON true
            """,
            written=False,
            then=self._insert_accounts_query(
                lines=(after, upto), where=SQL("line NOT IN (SELECT line FROM found)")
            ),
            first_line=self._first_line_query("taken"),
            repeated=self._repeated_reason(),
            held=self.env._(
                "reference %s already exists in this list (import mode: Add new accounts)"
            ),
            after=after,
            upto=upto,
        )

    def _first_line_query(self, alias):
        """The first line of the file with the reference of row ``alias``, before it: as the
        engine would, the first row read with it, whatever the checks made of that row since."""
        return SQL(
            """
            SELECT e.line FROM outbound_import_row e
             WHERE e.reference = %(row)s.reference AND e.line < %(row)s.line
             ORDER BY e.line LIMIT 1
            """,
            row=SQL.identifier(alias),
        )

    def _repeated_reason(self):
        # The placeholders of PostgreSQL's format(), kept through the translation.
        return self.env._(
            "duplicate reference '%(reference)s', first seen on line %(line)s",
            reference="%s",
            line="%s",
        )

    def _check_duplicate_contacts(self):
        if self.profile_id.duplicate_policy == "allow":
            return
        for column, account_column, label in (
            ("sms_e164", "sms_number_e164", self.env._("SMS number")),
            ("email", "email", self.env._("email address")),
        ):
            self._reject_file_duplicates(column, label)
            self._reject_existing_duplicates(column, account_column, label)

    def _reject_file_duplicates(self, column, label):
        # The first line of each value held by several rows, by hashing: no sort of the file.
        self._reject(
            f"""
            SELECT r.line, format(%(reason)s, r.{column}, repeated.first_line) AS reason
              FROM (SELECT {column}, min(line) AS first_line FROM outbound_import_row
                     WHERE {column} IS NOT NULL AND NOT rejected
                     GROUP BY {column} HAVING count(*) > 1) AS repeated
              JOIN outbound_import_row r
                ON r.{column} = repeated.{column} AND r.line != repeated.first_line
             WHERE NOT r.rejected
            """,
            reason=self.env._("duplicate %(label)s %%s, already on line %%s", label=label),
        )

    def _reject_existing_duplicates(self, column, account_column, label):
        scope_lists = self._duplicate_scope_lists()
        if not scope_lists:
            return
        # In update mode the row with the account's own reference is that account, not a copy.
        same_account = (
            "AND NOT (a.list_id = %(list_id)s AND a.reference = r.reference)"
            if self.profile_id.import_mode == "update"
            else ""
        )
        # The accounts this import has already written are the file's own rows, which the
        # file's duplicate check has compared.
        not_this_import = (
            """AND NOT EXISTS (
                SELECT 1 FROM outbound_import_row w
                 WHERE w.written AND a.list_id = %(list_id)s AND w.reference = a.reference)"""
            if self._writes_while_reading()
            else ""
        )
        self._reject(
            f"""
            SELECT DISTINCT ON (r.line) r.line,
                   format(%(reason)s, r.{column}, a.reference, l.name) AS reason
              FROM outbound_import_row r
              JOIN outbound_account a ON a.{account_column} = r.{column}
              JOIN outbound_list l ON l.id = a.list_id
             WHERE a.list_id = ANY(%(scope)s) AND NOT r.rejected {same_account}
                   {not_this_import}
             ORDER BY r.line, a.id
            """,
            reason=self.env._(
                "duplicate %(label)s %%s, held by account %%s in list %%s", label=label
            ),
            scope=scope_lists,
        )

    def _duplicate_scope_lists(self):
        outbound_list = self.list_id
        if self.profile_id.duplicate_policy == "campaign" and outbound_list.campaign_id:
            lists = outbound_list.campaign_id.with_context(active_test=False).list_ids
        else:
            lists = outbound_list
        if self.profile_id.import_mode == "overwrite":
            lists -= outbound_list
        return lists.ids

    def _reject(self, select, **params):
        """Flag the rows returned by ``select`` (line, reason) as rejected and report them."""
        self.env.cr.execute(self._reject_query(select, **params))

    def _reject_query(self, select, written=None, then=None, **params):
        """The statement of :meth:`_reject`; ``written=False`` also marks the rows unwritten.

        ``then`` (SQL) is a statement to end with, which may read ``found``: the rejections
        are then made by the statement's common table expressions, in its snapshot.
        """
        unwritten = ", written = false" if written is False else ""
        report = """
            INSERT INTO outbound_import_report (line, severity, reference, reason)
            SELECT line, 'error', reference, 'line ' || line || ': ' || reason FROM flagged
            """
        ending = report if then is None else f", reported AS ({report}) %(then)s"
        return SQL(
            f"""
            WITH found AS MATERIALIZED ({select}),
            flagged AS (
                UPDATE outbound_import_row r SET rejected = true {unwritten}
                  FROM found WHERE r.line = found.line
             RETURNING r.line, r.reference, found.reason
            )
            {ending}
            """,
            **dict(params, list_id=self.list_id.id, then=then),
        )

    def _list_warnings(self):
        self.env.cr.execute(
            """
            INSERT INTO outbound_import_report (line, severity, reference, reason)
            SELECT r.line, 'warning', r.reference, warning.reason
              FROM outbound_import_row r,
                   jsonb_array_elements_text(r.warnings) WITH ORDINALITY AS warning(reason, n)
             WHERE NOT r.rejected AND r.warnings IS NOT NULL
             ORDER BY r.line, warning.n
            """
        )

    # ---- WRITING

    def _write_accounts(self):
        if self._writes_while_reading():
            created, updated = self._unwrite_rejected_accounts(), 0
        else:
            created, updated = self._upsert_accounts()
        self.env["outbound.account"].invalidate_model()
        return created, updated

    def _unwrite_rejected_accounts(self):
        """Delete the accounts of the written rows rejected since: the number created."""
        cr = self.env.cr
        cr.execute(
            """
            DELETE FROM outbound_account a USING outbound_import_row r
             WHERE r.written AND r.rejected AND a.list_id = %s AND a.reference = r.reference
            """,
            [self.list_id.id],
        )
        cr.execute("SELECT count(*) FROM outbound_import_row WHERE written AND NOT rejected")
        return cr.fetchone()[0]

    def _upsert_accounts(self):
        """Insert the new references, update the existing ones: (created, updated)."""
        self.env.cr.execute(
            SQL(
                """
                WITH written AS (%s RETURNING (xmax = 0) AS created)
                SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created)
                  FROM written
                """,
                self._insert_accounts_query(
                    SQL("ON CONFLICT (list_id, reference) DO %s", SQL(self._upsert_clause()))
                ),
            )
        )
        return self.env.cr.fetchone()

    def _insert_accounts_query(self, on_conflict=None, lines=None, where=None):
        """Insert the rows not rejected, of the lines ``lines[0]`` < line <= ``lines[1]`` where
        ``where`` (SQL) holds; ``on_conflict`` (SQL) says what a reference the list already has
        does (outside the update mode, the checks leave none)."""
        after, upto = lines if lines else (-1, None)
        return SQL(
            """
            INSERT INTO outbound_account (
                list_id, reference, name, status, email, email_error, sms_number,
                sms_country_id, sms_number_e164, sms_number_error, sms_time_zones,
                time_zone, data, create_uid, create_date, write_uid, write_date)
            SELECT %(list_id)s, reference, name, status, email, email_error, sms_number,
                   %(country_id)s, sms_e164, sms_error, sms_time_zones, time_zone, data,
                   %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
              FROM outbound_import_row
             WHERE NOT rejected AND line > %(after)s AND (%(upto)s IS NULL OR line <= %(upto)s)
                   AND %(where)s
             ORDER BY line
            %(on_conflict)s
            """,
            after=after,
            upto=upto,
            where=where if where is not None else SQL("true"),
            list_id=self.list_id.id,
            country_id=self.profile_id.default_country_id.id or None,
            uid=self.env.uid,
            on_conflict=on_conflict if on_conflict is not None else SQL(),
        )

    def _upsert_clause(self):
        """The ``ON CONFLICT`` action of the update mode: update only what the profile imports."""
        profile = self.profile_id
        columns = [
            "data = coalesce(outbound_account.data, '{}'::jsonb)"
            " || coalesce(EXCLUDED.data, '{}'::jsonb)"
        ]
        columns += ["write_uid = EXCLUDED.write_uid", "write_date = EXCLUDED.write_date"]
        if profile.name_column:
            columns.append("name = EXCLUDED.name")
        if profile.status_column:
            columns.append("status = EXCLUDED.status")
        if profile.email_column:
            columns += ["email = EXCLUDED.email", "email_error = EXCLUDED.email_error"]
        if profile.sms_column:
            columns += [
                f"{column} = EXCLUDED.{column}"
                for column in (
                    "sms_number",
                    "sms_country_id",
                    "sms_number_e164",
                    "sms_number_error",
                    "sms_time_zones",
                )
            ]
        if profile.time_zone_column:
            columns.append("time_zone = EXCLUDED.time_zone")
        return "UPDATE SET " + ", ".join(columns)

    # ---- REPORT

    def _count_report(self):
        # Rows, not report lines: an imported row may have several warnings.
        self.env.cr.execute(
            """
            SELECT count(DISTINCT line) FILTER (WHERE severity = 'error'),
                   count(DISTINCT line) FILTER (WHERE severity = 'warning')
              FROM outbound_import_report
            """
        )
        return self.env.cr.fetchone()

    def _attach_report(self):
        """Attach the report to the list: CSV, or zipped CSV when large.

        The rows go from the work table to a temporary file page by page; a large report is
        zipped into another, which goes to the filestore block by block (nor is it indexed as
        text by ir.attachment): memory stays small whatever the number of reported rows.
        """
        # "accounts.csv" gives "Import report - accounts.csv", not "… accounts.csv.csv".
        source = Path(self.filename).stem if self.filename else self.list_id.name
        name = self.env._("Import report - %s", source)
        values = {"res_model": "outbound.list", "res_id": self.list_id.id}
        Attachment = self.env["ir.attachment"].sudo()
        with tempfile.TemporaryFile() as buffer:
            self._write_report(buffer)
            if buffer.tell() <= REPORT_ZIP_SIZE:
                buffer.seek(0)
                return Attachment.create(
                    dict(values, name=f"{name}.csv", mimetype="text/csv", raw=buffer.read())
                )
            buffer.seek(0)
            with tempfile.TemporaryFile() as archive:
                _zip(buffer, archive, f"{name}.csv")
                return Attachment._outbound_create_from_file(
                    dict(values, name=f"{name}.zip", mimetype="application/zip"), archive
                )

    def _write_report(self, stream):
        """Stream the reported rows, in line order, one page at a time (keyset pagination).

        A line may have several report rows (warnings): ``id`` makes the key unique, in the
        order they were reported.
        """
        cr = self.env.cr
        cr.execute("CREATE INDEX ON outbound_import_report (line, severity, id)")
        writer, last = ReportWriter(stream), (-1, "", 0)
        while True:
            cr.execute(
                """
                SELECT line, severity, id, reference, reason, raw FROM outbound_import_report
                 WHERE (line, severity, id) > (%s, %s, %s) ORDER BY line, severity, id LIMIT %s
                """,
                [*last, REPORT_PAGE],
            )
            page = cr.fetchall()
            if not page:
                return
            for line, severity, _id, reference, reason, raw in page:
                writer.add(line, severity, reference, reason, raw)
            last = page[-1][:3]

    def _post_summary(self):
        self.list_id.message_post(
            body=self.env._(
                "Imported %(file)s with profile %(profile)s: %(created)s created, "
                "%(updated)s updated, %(rejected)s rejected, %(warnings)s with warnings.",
                file=self.filename or "",
                profile=self.profile_id.name,
                created=self.count_created,
                updated=self.count_updated,
                rejected=self.count_rejected,
                warnings=self.count_warnings,
            ),
            attachment_ids=self.report_attachment_id.ids,
        )

    def _report_preview(self):
        """The first report lines, shown in the result dialog before anyone downloads it."""
        self.env.cr.execute(
            """
            SELECT severity, reason FROM outbound_import_report
             ORDER BY severity = 'warning', line, id LIMIT %s
            """,
            [PREVIEW_LINES + 1],
        )
        rows = self.env.cr.fetchall()
        labels = {"error": self.env._("rejected"), "warning": self.env._("warning")}
        lines = [f"{labels[severity]}: {reason}" for severity, reason in rows[:PREVIEW_LINES]]
        if len(rows) > PREVIEW_LINES:
            lines.append(self.env._("… and more in the report."))
        return "\n".join(lines) or False

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Import Result: %s", self.filename or self.list_id.name),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }


class _Background:
    """Run one task at a time in a thread of its own while the caller prepares the next.

    :meth:`submit` first waits for the task before, so that at most one chunk is in flight
    besides the one being read (memory stays flat) and a task's exception reaches the caller at
    the next submit or on leaving the block. Leaving the block waits for the last task whatever
    happened: no thread is left using the cursor.
    """

    def __init__(self):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbound-import")
        self._pending = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        try:
            if exc_type is None:
                self.wait()
        finally:
            # Waits for the last task too: after an exception of the caller's, the one raised.
            self._executor.shutdown()

    def submit(self, task):
        self.wait()
        self._pending = self._executor.submit(task)

    def wait(self):
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


def _copy_data(lines):
    """The COPY input of a chunk's lines (each encoded in UTF-8, the connection's encoding), as
    one bytes object.

    The chunk is then held once, in UTF-8, until it is copied. (A ``StringIO`` read back for
    COPY holds the text four bytes a character, then a copy of it, then its encoding.)
    """
    return b"".join(lines)


def _copy_chunk(cr, rows, errors):
    """COPY a chunk's rows and errors (:func:`_copy_data`), in COPY's text format
    (engine.pg_copy: empty is NULL).

    Each buffer goes in one piece: psycopg2 sends ``size`` bytes per call, and each call gives
    the reading thread the interpreter lock and must win it back.
    """
    for table, columns, data in (
        ("outbound_import_row", ", ".join(ROW_COLUMNS), rows),
        ("outbound_import_report", "line, severity, reference, reason, raw", errors),
    ):
        if data:
            cr.copy_expert(
                f"COPY {table} ({columns}) FROM STDIN WITH ({COPY_OPTIONS})",
                io.BytesIO(data),
                len(data),
            )


def _zip(stream, archive, member_name):
    """Write a zip archive holding ``stream``'s content as ``member_name`` into ``archive``."""
    with (
        zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped,
        zipped.open(member_name, "w") as member,
    ):
        shutil.copyfileobj(stream, member, 1 << 20)


def _no_nul(text):
    """PostgreSQL text cannot hold NUL: a rejected line that has one is reported with U+FFFD."""
    return text.replace("\x00", "\ufffd") if text else text
