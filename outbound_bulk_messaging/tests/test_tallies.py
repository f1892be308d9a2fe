from odoo.tests import tagged
from odoo.tools import SQL

from ..models.outbound_tally import TALLIES
from .common import SendingCase


@tagged("post_install", "-at_install")
class TestTallies(SendingCase):
    """The running counts (outbound.tally) stay equal to counting the rows, whatever writes
    them: the ORM, the job's INSERT … SELECT, the dispatcher's raw UPDATEs, the import's COPY,
    the foreign keys' cascades; compacting and rebuilding them changes no count."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(
            cls.list_active, 4, email="t{}@example.com", sms="07911 3000{:02d}"
        )
        cls._create_accounts(cls.list_passive, 2, start=10, status="callback")
        # Jobs created but not dispatched need a server to exist (smtp_sink replaces it).
        cls.campaign.mail_server_id = cls.env["ir.mail_server"].create(
            {"name": "Unused", "smtp_host": "127.0.0.1", "smtp_port": 9}
        )

    def _exact(self, name):
        """{key: sums} counted from the tally's source table."""
        tally = TALLIES[name]
        self.env.flush_all()
        self.env.cr.execute(tally.grouped(tally.select_rows(tally.source, 1)))
        return {
            tuple(row[: len(tally.keys)]): row[len(tally.keys) :] for row in self.env.cr.fetchall()
        }

    def _tallied(self, name):
        tally = TALLIES[name]
        self.env.flush_all()
        self.env.cr.execute(tally.grouped(SQL("SELECT * FROM %s", SQL.identifier(tally.table))))
        return {
            tuple(row[: len(tally.keys)]): row[len(tally.keys) :] for row in self.env.cr.fetchall()
        }

    def _rows(self, name):
        self.env.flush_all()
        self.env.cr.execute(SQL("SELECT count(*) FROM %s", SQL.identifier(TALLIES[name].table)))
        return self.env.cr.fetchone()[0]

    def assertTalliesExact(self, step):
        for name in TALLIES:
            exact = self._exact(name)
            self.assertTrue(exact or name == "message", f"{step}: {name} has rows to count")
            self.assertEqual(self._tallied(name), exact, f"{step}: the {name} tally")

    def test_counts_follow_every_kind_of_write(self):
        self.assertTalliesExact("accounts created")
        with self.smtp_sink():
            job = self._send("email")
            self.assertEqual(job.count_queued, 4)
            self.assertTalliesExact("job created (INSERT … SELECT)")
            self._dispatch()
        self.env.invalidate_all()
        self.assertEqual((job.count_sent, job.count_queued), (4, 0))
        self.assertTalliesExact("dispatched (claims and outcomes in raw UPDATEs)")
        message = job.outbound_message_ids[0].sudo()
        message.write({"delivery_status": "bounced"})
        job.outbound_message_ids[1].sudo().write({"replied_at": "2026-12-01 10:00:00"})
        job.invalidate_recordset()
        self.assertEqual((job.count_bounced, job.count_replied), (1, 1))
        self.assertTalliesExact("outcomes written by the ORM")
        self.accounts[0].status = "completed"
        self.accounts[1].email = False
        self.assertTalliesExact("accounts edited")
        self.accounts[2].unlink()  # its message's account_id is set to NULL by the foreign key
        self.assertTalliesExact("account deleted")
        self._import(
            "reference,name,status,email,mobile\nC1,Cy,unused,c1@example.com,07911 400001\n"
        )
        self.assertTalliesExact("accounts imported")
        self.list_passive.unlink()  # its accounts go with it (cascade)
        self.assertTalliesExact("list deleted")
        job.sudo().unlink()  # its messages and its running counts go with it
        self.assertTalliesExact("job deleted")
        self.assertFalse(self._exact("message"))

    def test_compacting_folds_the_rows_and_keeps_the_counts(self):
        job = self._send("email")
        messages = job.outbound_message_ids.sudo()
        for message in messages:
            message.write({"state": "sent"})
        self.env.flush_all()
        before = self._tallied("message")
        self.assertGreater(self._rows("message"), len(before), "one delta row per write")
        self.assertTrue(self.env["outbound.tally"]._compact("message"))
        self.assertEqual(self._rows("message"), len(before), "one row per key")
        self.assertEqual(self._tallied("message"), before)
        self.assertTalliesExact("compacted")

    def test_the_dispatcher_leaves_one_row_per_state(self):
        with self.smtp_sink():
            job = self._send("email", batch_size=2)
            self._dispatch()
        self.env.invalidate_all()
        self.assertEqual((job.count_sent, job.count_queued), (2, 2))
        self.env.cr.execute(
            "SELECT state, n FROM outbound_message_tally WHERE job_id = %s ORDER BY state, n",
            [job.id],
        )
        rows = self.env.cr.fetchall()
        # The two accounts of the passive list have no address: skipped.
        self.assertEqual(rows, [("queued", 2), ("sent", 2), ("skipped", 2)], "one row per state")
        self.assertEqual(self.env["outbound.dispatcher"]._count_ready_messages(), 0)
        self.assertTalliesExact("after a paced run")

    def test_a_changed_definition_is_rebuilt_from_the_rows(self):
        job = self._send("email")
        tally = TALLIES["message"]
        self.env.cr.execute(SQL("DROP FUNCTION %s() CASCADE", SQL.identifier(tally.function)))
        self.env.cr.execute(SQL("DELETE FROM %s", SQL.identifier(tally.table)))
        self.env["outbound.tally"].init()
        self.assertTalliesExact("rebuilt")
        job.outbound_message_ids[0].sudo().write({"state": "sent"})
        self.accounts[0].status = "completed"
        self.assertTalliesExact("triggers installed again")

    def test_uninstalling_drops_the_triggers(self):
        self.env["outbound.tally"]._drop_all()
        self.env.cr.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE %s", ["outbound\\_%\\_tally\\_%"]
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
        self.accounts[0].status = "completed"  # writes go on without them
        self.env.flush_all()
