import logging
from datetime import datetime

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import freeze_time, new_test_user, tagged
from odoo.tools import convert_file

from ..models.outbound_dispatcher import DISPATCH_CRON, DISPATCHERS_PARAM
from .common import SendingCase

DISPATCHER_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_dispatcher"


@tagged("post_install", "-at_install")
class TestDispatchersSetting(SendingCase):
    """Settings > Outbound > Dispatchers: how many dispatch crons are active."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user_system = new_test_user(cls.env, "ob_system", groups="base.group_system")
        cls.shipped = cls.env.ref(DISPATCH_CRON)
        cls.campaign.mail_server_id = cls.env["ir.mail_server"].create(
            {"name": "Never used", "smtp_host": "127.0.0.1", "smtp_encryption": "none"}
        )

    def _save(self, count, user=None):
        """Save the settings form with ``count`` dispatchers, as an administrator does."""
        settings = (
            self.env["res.config.settings"]
            .with_user(user or self.user_system)
            .create({"outbound_dispatchers": count})
        )
        settings.execute()

    def _active(self):
        return self.env["outbound.send.job"]._get_dispatch_crons()

    def _archived(self):
        return self.env["outbound.send.job"]._get_dispatch_crons(active=False)

    def test_default_is_the_shipped_cron_alone(self):
        settings = self.env["res.config.settings"].with_user(self.user_system).create({})
        self.assertEqual(settings.outbound_dispatchers, 1)
        self.assertEqual(self._active(), self.shipped)
        arch = self.env["res.config.settings"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="outbound_dispatchers"', arch)

    @freeze_time("2026-11-27 09:00:00")
    def test_three_dispatchers_are_all_woken_for_a_job(self):
        self._save(3)
        crons = self._active()
        self.assertEqual(len(crons), 3)
        self.assertEqual(crons[0], self.shipped)
        self.assertEqual(
            crons[1:].mapped("name"),
            ["Outbound: send due batches (2)", "Outbound: send due batches (3)"],
        )
        for copy in crons[1:]:
            self.assertEqual(
                (copy.user_id, copy.interval_number, copy.interval_type, copy.code),
                (self.shipped.user_id, 1, "minutes", "model._cron_dispatch()"),
            )
        self.assertEqual(self.env["ir.config_parameter"].get_param(DISPATCHERS_PARAM), "3")
        self._create_accounts(self.list_active, 2, email="p{}@example.com")
        start = datetime(2026, 11, 27, 14, 30)
        self._send("email", use_current_time=False, start_at=start)
        woken = self.env["ir.cron.trigger"].search(
            [("cron_id", "in", crons.ids), ("call_at", "=", start)]
        )
        self.assertEqual(woken.cron_id, crons)

    def test_saving_again_changes_nothing(self):
        self._save(3)
        crons = self._active()
        self._save(3)
        self.assertEqual(self._active(), crons)
        self.assertFalse(self._archived())

    def test_back_to_one_archives_the_copies_and_reuses_them(self):
        self._save(3)
        copies = self._active()[1:]
        self._save(1)
        self.assertEqual(self._active(), self.shipped)
        self.assertEqual(self._archived(), copies)
        self._save(2)
        self.assertEqual(self._active(), self.shipped | copies[0])
        self.assertEqual(self._active()[1].name, "Outbound: send due batches (2)")
        self.assertEqual(self._archived(), copies[1])

    def test_out_of_bounds_values_are_refused(self):
        for count in (0, -2, 17):
            with self.subTest(count=count), self.assertRaises(ValidationError) as error:
                self._save(count)
            self.assertIn(f"Dispatchers must be from 1 to 16, not {count}", str(error.exception))
        self.assertEqual(self._active(), self.shipped)
        self._save(16)
        self.assertEqual(len(self._active()), 16)

    def test_only_system_administrators_change_it(self):
        access_manager = new_test_user(self.env, "ob_erp", groups="base.group_erp_manager")
        for user in (self.user_admin, self.user_manager, access_manager):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    self._save(3, user=user)
                with self.assertRaises(AccessError):
                    self.env["outbound.dispatcher"].with_user(user)._sync_dispatch_crons(3)
        self.assertEqual(self._active(), self.shipped)
        self.assertEqual(self.env["ir.config_parameter"].get_param(DISPATCHERS_PARAM), "1")

    def test_copies_made_by_hand_are_counted(self):
        by_hand = self.shipped.copy({"name": "Second sender"})
        self.env["ir.config_parameter"].search([("key", "=", DISPATCHERS_PARAM)]).unlink()
        self.env["outbound.dispatcher"]._init_dispatcher_count()
        settings = self.env["res.config.settings"].with_user(self.user_system).create({})
        self.assertEqual(settings.outbound_dispatchers, 2)
        settings.execute()
        self.assertEqual(self._active(), self.shipped | by_hand)
        self.assertEqual(by_hand.name, "Second sender")
        self._save(1)
        self.assertEqual(self._active(), self.shipped)

    def test_an_archived_shipped_cron_comes_back_first(self):
        self.shipped.active = False
        self._save(1)
        self.assertEqual(self._active(), self.shipped)

    def test_module_update_keeps_the_copies(self):
        self._save(3)
        crons = self._active()
        self.shipped.interval_number = 5  # an administrator's change: noupdate keeps it
        convert_file(self.env, "outbound_bulk_messaging", "data/ir_cron_data.xml", {}, "update")
        self.assertEqual(self._active(), crons)
        self.assertEqual(self.shipped.interval_number, 5)
        self.assertEqual(self.env["ir.config_parameter"].get_param(DISPATCHERS_PARAM), "3")

    def test_a_deleted_shipped_cron_is_named(self):
        self.shipped.unlink()
        with self.assertRaises(UserError) as error:
            self._save(2)
        self.assertIn(f"({DISPATCH_CRON}) was deleted", str(error.exception))
        self.assertIn("update the Outbound Bulk Messaging module", str(error.exception))


@tagged("post_install", "-at_install")
class TestSurplusDispatcher(SendingCase):
    """A dispatch cron above the setting (it was running when the setting went down, so it
    could not be archived) sends nothing at its next run and is archived by Odoo."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_accounts(cls.list_active, 3, email="p{}@example.com")
        cls.shipped = cls.env.ref(DISPATCH_CRON)
        cls.copy = cls.shipped.copy({"name": "Outbound: send due batches (2)"})

    def _process(self, cron):
        """One turn of a cron worker for ``cron``, as ``ir.cron._process_jobs`` runs it."""
        cron._trigger()
        self.env.flush_all()
        job = {**cron.read(load=None)[0], "done": 0, "remaining": 0, "timed_out_counter": 0}
        self.registry.enter_test_mode(self.cr)
        try:
            self.registry["ir.cron"]._process_job(
                self.registry.db_name, self.registry.cursor(), job
            )
        finally:
            self.registry.leave_test_mode()
        self.env.invalidate_all()

    def test_surplus_cron_retires_and_sends_nothing(self):
        shipped, copy = self.shipped, self.copy
        self.env["ir.config_parameter"].set_param(DISPATCHERS_PARAM, "1")
        with self.smtp_sink() as sink:
            job = self._send("email")
            with self.assertLogs(DISPATCHER_LOGGER, logging.INFO) as logs:
                self._process(copy)
            self.assertIn(f"Dispatch cron {copy.id} retires", logs.output[0])
            self.assertFalse(copy.active)
            self.assertEqual(self._states(job), {"queued": 3})
            self.assertTrue(shipped.active)
            self._process(shipped)
        self.assertEqual(self._states(job), {"sent": 3})
        self.assertEqual(len(sink.messages), 3)
        self.assertTrue(shipped.active)

    def test_cron_within_the_setting_sends(self):
        self.env["ir.config_parameter"].set_param(DISPATCHERS_PARAM, "2")
        with self.smtp_sink() as sink:
            job = self._send("email")
            self._process(self.copy)
        self.assertTrue(self.copy.active)
        self.assertEqual(self._states(job), {"sent": 3})
        self.assertEqual(len(sink.messages), 3)
