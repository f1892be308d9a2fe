"""Running counts of messages and accounts, kept by PostgreSQL triggers.

The status panel and the dispatcher read how many messages a job has in each state, and how many
accounts a campaign has per status and channel, many times per minute. Counting a job of a
million messages takes a second; these tallies make it a sum over a few rows, whatever the job's
size.

Each tally is a table of *delta rows*: every statement that inserts, updates or deletes source
rows appends, in its own transaction, one row per key whose count changed (``AFTER … FOR EACH
STATEMENT`` triggers over the statement's transition tables). Nothing is ever updated in place,
so writers never wait for each other and a reader sees, in its snapshot, exactly the rows it
would count. The count of a key is the sum of its rows; :meth:`OutboundTally._compact` folds
them back into one row per key (after each dispatcher run for its job, and hourly by a cron).

The triggers see every write: the ORM's, the dispatcher's raw ``UPDATE``s, the import's ``COPY``
and the foreign keys' cascades. A change to a tally's definition (a new channel) rebuilds it from
its source at the next update of the module.
"""

import hashlib
import logging

import psycopg2

from odoo import api, models
from odoo.tools import SQL

from ..channels import CHANNELS

_logger = logging.getLogger(__name__)


class Tally:
    """A tally's definition: ``keys`` and ``sums`` map its columns to SQL over the source row
    ``s``.

    No foreign key: checking one would lock the job (or list) row for every statement that
    changes a message, against the dispatchers that lock and update that row. A deleted job's
    (or list's) rows, whose cascades appended the opposite deltas, sum to nothing and are
    folded away by the next compaction.

    :attr table: the tally's table; :attr model: the model whose table it counts
    """

    def __init__(self, table, model, keys, sums):
        self.table = table
        self.model = model
        self.source = model.replace(".", "_")
        self.keys = keys
        self.sums = sums

    @property
    def function(self):
        return f"{self.table}_fn"

    @property
    def lock_key(self):
        """The advisory lock taken while compacting (one compaction at a time per tally)."""
        return int.from_bytes(hashlib.sha1(self.table.encode()).digest()[:4], "big")

    def columns(self):
        return SQL(", ").join(SQL.identifier(name) for name in [*self.keys, *self.sums])

    def select_rows(self, rows, sign):
        """Key and signed sum expressions over each row of the transition table ``rows``."""
        values = [
            SQL("%s AS %s", sql, SQL.identifier(name)) for name, (_type, sql) in self.keys.items()
        ]
        values += [
            SQL("%s * (%s) AS %s", sign, sql, SQL.identifier(name))
            for name, (_type, sql) in self.sums.items()
        ]
        return SQL("SELECT %s FROM %s AS s", SQL(", ").join(values), SQL.identifier(rows))

    def grouped(self, rows):
        """SELECT of the summed deltas of ``rows`` (a subquery aliased ``d``), keys with a net
        change only."""
        keys = SQL(", ").join(SQL.identifier("d", name) for name in self.keys)
        sums = SQL(", ").join(SQL("sum(%s)", SQL.identifier("d", name)) for name in self.sums)
        changed = SQL(" OR ").join(
            SQL("sum(%s) <> 0", SQL.identifier("d", name)) for name in self.sums
        )
        return SQL(
            "SELECT %s, %s FROM (%s) AS d GROUP BY %s HAVING %s", keys, sums, rows, keys, changed
        )

    def insert(self, select):
        return SQL("INSERT INTO %s (%s) %s", SQL.identifier(self.table), self.columns(), select)

    def function_sql(self):
        """The trigger function: one INSERT of the statement's deltas, per operation."""
        inserted = self.insert(self.grouped(self.select_rows("new_rows", 1)))
        deleted = self.insert(self.grouped(self.select_rows("old_rows", -1)))
        both = SQL(
            "%s UNION ALL %s", self.select_rows("new_rows", 1), self.select_rows("old_rows", -1)
        )
        updated = self.insert(self.grouped(both))
        return SQL(
            """
            BEGIN
                IF TG_OP = 'INSERT' THEN %s;
                ELSIF TG_OP = 'UPDATE' THEN %s;
                ELSE %s;
                END IF;
                RETURN NULL;
            END
            """,
            inserted,
            updated,
            deleted,
        )


TALLIES = {
    "message": Tally(
        "outbound_message_tally",
        "outbound.message",
        keys={
            "job_id": ("integer NOT NULL", SQL("s.job_id")),
            "channel": ("varchar", SQL("s.channel")),
            "state": ("varchar", SQL("s.state")),
            "delivery_status": ("varchar", SQL("s.delivery_status")),
            "replied": ("boolean", SQL("s.replied_at IS NOT NULL")),
        },
        sums={"n": ("bigint NOT NULL", SQL("1"))},
    ),
    "account": Tally(
        "outbound_account_tally",
        "outbound.account",
        keys={
            "list_id": ("integer NOT NULL", SQL("s.list_id")),
            "status": ("varchar", SQL("s.status")),
        },
        sums={
            "n": ("bigint NOT NULL", SQL("1")),
            **{
                f"with_{code}": (
                    "bigint NOT NULL",
                    SQL("(%s IS NOT NULL)::int", channel.address_sql("s")),
                )
                for code, channel in CHANNELS.items()
            },
        },
    ),
}


class OutboundTally(models.AbstractModel):
    """Installs, reads and compacts the tallies of :data:`TALLIES`."""

    _name = "outbound.tally"
    _description = "Outbound Running Counts"

    def init(self):
        for tally in TALLIES.values():
            self._install(tally)

    @api.model
    def _install(self, tally):
        """Create the tally, its function and triggers; rebuild it when its definition changed
        (recognised by the function's body, which holds every column)."""
        cr = self.env.cr
        body = cr.mogrify(tally.function_sql()).decode()
        cr.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [tally.function])
        row = cr.fetchone()
        if row and row[0] == body:
            return
        _logger.info("Building the running counts %s from %s", tally.table, tally.source)
        self._create_table(tally)
        cr.execute(
            SQL(
                "CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS %s",
                SQL.identifier(tally.function),
                body,
            )
        )
        for operation, tables in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            trigger = SQL.identifier(f"{tally.table}_{operation.lower()}")
            source = SQL.identifier(tally.source)
            cr.execute(SQL("DROP TRIGGER IF EXISTS %s ON %s", trigger, source))
            cr.execute(
                SQL(
                    "CREATE TRIGGER %s AFTER %s ON %s REFERENCING %s "
                    "FOR EACH STATEMENT EXECUTE FUNCTION %s()",
                    trigger,
                    SQL(operation),
                    source,
                    SQL(tables),
                    SQL.identifier(tally.function),
                )
            )
        # Counted from the source, in the transaction that installs the triggers.
        cr.execute(tally.insert(tally.grouped(tally.select_rows(tally.source, 1))))

    @api.model
    def _create_table(self, tally):
        cr = self.env.cr
        cr.execute(SQL("DROP TABLE IF EXISTS %s", SQL.identifier(tally.table)))
        columns = [
            SQL("%s %s", SQL.identifier(name), SQL(column_type))
            for name, (column_type, _sql) in [*tally.keys.items(), *tally.sums.items()]
        ]
        cr.execute(
            SQL("CREATE TABLE %s (%s)", SQL.identifier(tally.table), SQL(", ").join(columns))
        )
        first_key = next(iter(tally.keys))
        cr.execute(
            SQL(
                "CREATE INDEX %s ON %s (%s)",
                SQL.identifier(f"{tally.table}_{first_key}_idx"),
                SQL.identifier(tally.table),
                SQL.identifier(first_key),
            )
        )

    @api.model
    def _drop_all(self):
        """Triggers, functions and tables (the module's uninstall hook)."""
        cr = self.env.cr
        for tally in TALLIES.values():
            cr.execute(SQL("DROP TABLE IF EXISTS %s", SQL.identifier(tally.table)))
            cr.execute(SQL("DROP FUNCTION IF EXISTS %s() CASCADE", SQL.identifier(tally.function)))

    # ---- READING

    @api.model
    def _read(self, name, where, group_by, aggregates):
        """Rows of ``group_by`` columns then ``aggregates`` (SQL over the tally's columns, e.g.
        ``sum(n) FILTER (WHERE state = 'sent')``) of tally ``name`` where ``where`` holds."""
        tally = TALLIES[name]
        self.env[tally.model].flush_model()
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM %s AS t WHERE %s GROUP BY %s",
                SQL(", ").join([*group_by, *aggregates]),
                SQL.identifier(tally.table),
                where,
                SQL(", ").join(group_by) if group_by else SQL("()"),
            )
        )
        return self.env.cr.fetchall()

    @api.model
    def _sum_accounts(self, where, aggregates):
        """One row of ``aggregates`` over the account tally as ``a`` (its ``n`` and
        ``with_<channel>`` sums, ``status`` and ``list_id``) joined to its list ``l``, where
        ``where`` holds: the conditions written for outbound_account apply unchanged."""
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM %s WHERE %s",
                SQL(", ").join(SQL("coalesce(%s, 0)::bigint", sql) for sql in aggregates),
                self._accounts_from(),
                where,
            )
        )
        return self.env.cr.fetchone()

    @api.model
    def _accounts_from(self):
        """The account tally as ``a`` joined to its list ``l``, flushed first."""
        self.env["outbound.account"].flush_model()
        self.env["outbound.list"].flush_model(["state", "campaign_id"])
        return SQL(
            "%s AS a JOIN outbound_list l ON l.id = a.list_id",
            SQL.identifier(TALLIES["account"].table),
        )

    @api.model
    def _count_accounts_by_list(self, list_ids):
        """{list id: number of accounts}, for the lists ``list_ids``."""
        rows = self._read(
            "account",
            SQL("t.list_id = ANY(%s)", list(list_ids)),
            [SQL("t.list_id")],
            [SQL("coalesce(sum(t.n), 0)::bigint")],
        )
        return dict(rows)

    @api.model
    def _account_lists(self, where):
        """Ids of the lists with accounts where ``where`` holds (over ``a`` and ``l``, as for
        :meth:`_sum_accounts`)."""
        self.env.cr.execute(
            SQL(
                "SELECT a.list_id FROM %s WHERE %s GROUP BY a.list_id HAVING sum(a.n) > 0",
                self._accounts_from(),
                where,
            )
        )
        return [row[0] for row in self.env.cr.fetchall()]

    # ---- COMPACTING

    @api.model
    def _compact(self, name, where=None):
        """Fold the delta rows of tally ``name`` (those where ``where`` holds, over ``t``) into
        one row per key. Skipped while another transaction compacts it; returns whether it ran.

        In its own savepoint: a compaction that started from a snapshot older than another's
        commit would fail to delete rows already folded, and is simply left for the next one.
        """
        tally = TALLIES[name]
        cr = self.env.cr
        cr.execute("SELECT pg_try_advisory_xact_lock(%s)", [tally.lock_key])
        if not cr.fetchone()[0]:
            return False
        gone = SQL(
            "DELETE FROM %s AS t WHERE %s RETURNING %s",
            SQL.identifier(tally.table),
            where or SQL("TRUE"),
            SQL(", ").join(SQL.identifier("t", column) for column in [*tally.keys, *tally.sums]),
        )
        query = SQL("WITH gone AS (%s) %s", gone, tally.insert(tally.grouped(SQL("TABLE gone"))))
        try:
            with cr.savepoint(flush=False):
                cr.execute(query, log_exceptions=False)
        except psycopg2.errors.SerializationFailure:
            return False
        return True

    @api.model
    def _cron_compact(self):
        for name in TALLIES:
            self._compact(name)
