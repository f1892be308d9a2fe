import psycopg2
from psycopg2 import errors

from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import OutboundCase


@tagged("post_install", "-at_install")
class TestListReference(OutboundCase):
    """An account's list, kept by statement triggers instead of a foreign key (see
    models/statement_reference.py): the same guarantees, checked once per statement."""

    def _insert(self, *list_ids, prefix="X", cr=None):
        """One account per list id given, in one statement, as the import inserts."""
        (cr or self.env.cr).execute(
            "INSERT INTO outbound_account (list_id, reference, status)"
            " SELECT l, %s || n, 'unused' FROM unnest(%s) WITH ORDINALITY AS t(l, n)",
            [prefix, list(list_ids)],
        )

    def _missing_list(self):
        self.env.cr.execute("SELECT max(id) + 1000 FROM outbound_list")
        return self.env.cr.fetchone()[0]

    def test_an_account_row_checks_only_the_user_and_country_keys(self):
        self.env.cr.execute(
            """
            SELECT array_agg(a.attname::text ORDER BY a.attname)
              FROM pg_constraint c
              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
             WHERE c.conrelid = 'outbound_account'::regclass AND c.contype = 'f'
            """
        )
        self.assertEqual(self.env.cr.fetchone()[0], ["create_uid", "sms_country_id", "write_uid"])

    def test_an_account_names_an_existing_list(self):
        missing = self._missing_list()
        before = len(self.list_active.account_ids)
        self._insert(self.list_active.id)  # an existing list: accepted
        # One statement of several lists: each is checked, the missing one named.
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaisesRegex(errors.ForeignKeyViolation, f"list {missing} does not exist"),
            self.env.cr.savepoint(),
        ):
            self._insert(self.list_active.id, missing, self.list_passive.id, prefix="Y")
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(errors.ForeignKeyViolation),
            self.env.cr.savepoint(),
        ):
            self.env["outbound.account"].create({"list_id": missing, "reference": "M1"})
        self.list_active.invalidate_recordset()
        self.assertEqual(len(self.list_active.account_ids), before + 1)  # nothing refused kept

    def test_an_account_moves_only_to_an_existing_list(self):
        account = self.env["outbound.account"].create(
            {"list_id": self.list_active.id, "reference": "MOVE"}
        )
        account.list_id = self.list_passive
        self.env.flush_all()
        self.env.cr.execute("SELECT list_id FROM outbound_account WHERE id = %s", [account.id])
        self.assertEqual(self.env.cr.fetchone()[0], self.list_passive.id)
        missing = self._missing_list()
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaisesRegex(
                errors.ForeignKeyViolation,
                'update on table "outbound_account" violates its list reference: '
                f"list {missing} does not exist",
            ),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute(
                "UPDATE outbound_account SET list_id = %s WHERE id = %s", [missing, account.id]
            )
        # Writing its other columns (as replies and bounces do) is not checked.
        self.env.cr.execute(
            "UPDATE outbound_account SET status = 'callback' WHERE id = %s", [account.id]
        )
        self.assertEqual(self.env.cr.rowcount, 1)

    def test_deleting_a_list_deletes_its_accounts(self):
        kept = self._create_accounts(self.list_passive, 2)
        doomed = self._create_accounts(self.list_active, 3)
        self.list_active.unlink()
        Account = self.env["outbound.account"]
        self.assertEqual(Account.search_count([("id", "in", doomed.ids)]), 0)
        self.assertEqual(Account.search_count([("id", "in", kept.ids)]), 2)
        self.env.cr.execute("DELETE FROM outbound_list WHERE id = %s", [self.list_passive.id])
        self.env.cr.execute("SELECT count(*) FROM outbound_account WHERE id = ANY(%s)", [kept.ids])
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def test_a_list_deleted_while_accounts_are_inserted_keeps_no_orphan(self):
        """The inserting transaction gives the list a new row version: a deletion waits for it,
        then fails to serialize rather than miss the accounts it could not see."""
        with self.registry.cursor() as setup:
            setup.execute(
                "INSERT INTO outbound_list (name, company_id, state)"
                " VALUES ('Raced', %s, 'active') RETURNING id",
                [self.env.company.id],
            )
            list_id = setup.fetchone()[0]
        try:
            with self.registry.cursor() as importer, self.registry.cursor() as deleter:
                deleter.execute("SELECT count(*) FROM outbound_list")  # its snapshot, before
                self._insert(list_id, list_id, cr=importer)
                deleter.execute("SET LOCAL lock_timeout = '200ms'")
                with (
                    mute_logger("odoo.sql_db"),
                    self.assertRaises(errors.LockNotAvailable),
                    deleter.savepoint(),
                ):
                    deleter.execute("DELETE FROM outbound_list WHERE id = %s", [list_id])
                importer.commit()
                with (
                    mute_logger("odoo.sql_db"),
                    self.assertRaises(psycopg2.errors.SerializationFailure),
                ):
                    deleter.execute("DELETE FROM outbound_list WHERE id = %s", [list_id])
                deleter.rollback()
                # Retried, as Odoo retries a request: the deletion sees the accounts and takes them.
                deleter.execute("DELETE FROM outbound_list WHERE id = %s", [list_id])
                deleter.execute(
                    "SELECT count(*) FROM outbound_account WHERE list_id = %s", [list_id]
                )
                self.assertEqual(deleter.fetchone()[0], 0)
        finally:
            with self.registry.cursor() as cleanup:
                cleanup.execute("DELETE FROM outbound_list WHERE id = %s", [list_id])
