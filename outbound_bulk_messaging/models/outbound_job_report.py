import re

import pytz

from odoo import api, models
from odoo.tools import SQL

from ..engine import report

# Messages read per query. The rows are read by keyset (never OFFSET) so every query costs the
# same, and only one chunk is in memory at a time however large the job.
REPORT_CHUNK = 2000
# What a file name must not contain on the systems users download to.
_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
# The report's columns read as they are from outbound_message.
MESSAGE_COLUMNS = (
    "id",
    "account_reference",
    "channel",
    "address",
    "state",
    "failure_reason",
    "outcome_unknown",
    "delivery_status",
    "delivery_error",
    "delivery_detail",
    "reply_text",
)


class OutboundJobReport(models.AbstractModel):
    """The outcome report of a send job: one row per message, read in chunks.

    The access check is the caller's (the controller checks read access on the job); the rows
    are read with SQL, as the job's messages all belong to its company.
    """

    _name = "outbound.job.report"
    _description = "Outbound Send Job Outcome Report"

    @api.model
    def _get_columns(self):
        """(message column or alias, header label) of each column of the report, in order.

        Overridable: another addon adds a column here and its value in ``_get_select``.
        """
        fields = self.env["outbound.message"]._fields
        tz = self._get_timezone()

        def label(name):
            return fields[name]._description_string(self.env)

        def at(name):
            return self.env._("%(field)s (%(tz)s)", field=label(name), tz=tz)

        return [
            ("id", self.env._("Message ID")),
            ("account_reference", label("account_reference")),
            ("account_name", self.env._("Account Name")),
            ("channel", label("channel")),
            ("address", label("address")),
            ("state", label("state")),
            ("failure_reason", label("failure_reason")),
            ("outcome_unknown", label("outcome_unknown")),
            ("sent_at", at("sent_at")),
            ("delivery_status", label("delivery_status")),
            ("delivery_error", label("delivery_error")),
            ("delivery_detail", label("delivery_detail")),
            ("delivered_at", at("delivered_at")),
            ("reply_text", label("reply_text")),
            ("replied_at", at("replied_at")),
        ]

    @api.model
    def _get_select(self):
        """{column: its SQL expression} over ``m`` (the message) and ``a`` (its account); times
        in the user's time zone."""
        tz = self._get_timezone()
        select = {name: SQL("m.%s", SQL.identifier(name)) for name in MESSAGE_COLUMNS}
        select["account_name"] = SQL("a.name")
        for name in ("sent_at", "delivered_at", "replied_at"):
            column = SQL.identifier(name)
            select[name] = SQL("(m.%s AT TIME ZONE 'UTC') AT TIME ZONE %s", column, tz)
        return select

    @api.model
    def _get_timezone(self):
        tz = self.env.context.get("tz") or self.env.user.tz
        return tz if tz in pytz.all_timezones_set else "UTC"

    @api.model
    def _iter_rows(self, job):
        """Yield the report's rows (lists in the order of ``_get_columns``) for ``job``.

        Ordered by state then id, the order of the index that claims batches
        (``outbound_message_job_state_idx``): each chunk starts where the last one ended.
        """
        names = [name for name, _label in self._get_columns()]
        labels = self._get_labels()
        # Rows as tuples: the report's columns, then the keyset's state and id.
        expressions = self._get_select()
        select = SQL(", ").join(
            [*(expressions[name] for name in names), SQL("m.state"), SQL("m.id")]
        )
        translations = [(index, labels[name]) for index, name in enumerate(names) if name in labels]
        last = ("", 0)
        while True:
            self.env.cr.execute(
                SQL(
                    """
                    SELECT %(select)s
                      FROM outbound_message m
                      LEFT JOIN outbound_account a ON a.id = m.account_id
                     WHERE m.job_id = %(job)s AND (m.state, m.id) > (%(state)s, %(id)s)
                     ORDER BY m.state, m.id
                     LIMIT %(limit)s
                    """,
                    select=select,
                    job=job.id,
                    state=last[0],
                    id=last[1],
                    limit=REPORT_CHUNK,
                )
            )
            chunk = self.env.cr.fetchall()
            for values in chunk:
                yield self._prepare_row(values[:-2], translations)
            if len(chunk) < REPORT_CHUNK:
                return
            last = chunk[-1][-2:]

    @api.model
    def _get_labels(self):
        """{column: {code: translated label}} for the columns that hold a selection."""
        fields = self.env["outbound.message"]._fields
        labels = {
            name: dict(fields[name]._description_selection(self.env))
            for name in ("channel", "state", "delivery_status")
        }
        labels["outcome_unknown"] = {True: self.env._("Yes"), False: ""}
        return labels

    @api.model
    def _prepare_row(self, values, translations):
        """The row of one message: ``values`` with the codes of ``translations`` (column
        index, {code: label}) replaced by their labels."""
        row = list(values)
        for index, labels in translations:
            row[index] = labels.get(row[index], row[index])
        return row

    @api.model
    def _get_header(self):
        return [label for _name, label in self._get_columns()]

    @api.model
    def _get_filename(self, job, file_format):
        """``<job name>.<format>``, without the characters a file name cannot hold."""
        stem = _UNSAFE_FILENAME.sub("-", job.name or "").strip(" .-") or f"job-{job.id}"
        suffix = f".{file_format}"
        return stem if stem.lower().endswith(suffix) else stem + suffix

    @api.model
    def _iter_csv(self, job):
        return report.iter_csv(self._get_header(), self._iter_rows(job))

    @api.model
    def _write_xlsx(self, job, target):
        """Write the report of ``job`` as XLSX to the binary file ``target``."""
        sheet = self.env._("Messages")
        return report.write_xlsx(target, self._get_header(), self._iter_rows(job), sheet)
