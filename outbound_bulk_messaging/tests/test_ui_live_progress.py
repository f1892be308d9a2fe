"""Live progress in a real browser (static/tests/tours/outbound_live_progress_tour.js).

The tour keeps the screens open and logs ``outbound-live:dispatch`` when it wants a batch sent;
a thread of this test then sends it as the cron does and wakes the browser's websocket.
"""

import queue
import threading
import time
from unittest.mock import patch

from odoo import api, fields
from odoo.tests import tagged
from odoo.tests.common import ChromeBrowser
from odoo.tools import SQL

from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.addons.bus.tests.common import WebsocketCase

from ..models.outbound_send_job import PROGRESS_CHANNEL
from .common import SendingCase

DISPATCH_LOG = "outbound-live:dispatch"
BATCH = 2
SUBSCRIBE_WAIT = 20  # seconds for the browser's websocket to subscribe


class _DispatchingBrowser(ChromeBrowser):
    """Odoo's test browser, handing each ``outbound-live:dispatch`` log line to ``orders``."""

    orders = None  # a queue.Queue, set by the test

    def _handle_console(self, type, args=None, stackTrace=None, **kw):  # pylint: disable=redefined-builtin
        message = args and args[0].get("value")
        if type == "log" and message == DISPATCH_LOG:
            self.orders.put(message)
        return super()._handle_console(type, args=args, stackTrace=stackTrace, **kw)


@tagged("post_install", "-at_install")
class TestLiveProgressUi(WebsocketCase, SendingCase):
    """One job of 10 texts, 2 per hour; each dispatch the tour asks for raises the pace by 2, so
    the cron sends exactly one more batch (one bus notification) while the screens are open."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._create_accounts(cls.list_active, 10, sms="+44 7911 1230{:02d}")
        cls.template.body = "Hi $ACCOUNT_NAME, ref $ACCOUNT_REFERENCE"

    def test_screens_follow_the_batches_without_reload(self):
        orders = queue.Queue()
        self.errors = []
        with self.fake_vonage() as fake:
            job = self._send("sms", batch_size=BATCH, batch_interval=1, batch_interval_unit="hours")
            self.assertEqual(self._states(job), {"queued": 10})
            worker = threading.Thread(
                target=self._serve_dispatches, args=(job.id, orders), daemon=True
            )
            worker.start()
            browser = type("Browser", (_DispatchingBrowser,), {"orders": orders})
            try:
                with patch("odoo.tests.common.ChromeBrowser", browser):
                    self.start_tour("/odoo", "outbound_live_progress_tour", login="ob_manager")
            finally:
                orders.put(None)
                worker.join(timeout=60)
        self.assertFalse(worker.is_alive())
        self.assertEqual(self.errors, [])
        self.env.invalidate_all()
        self.assertEqual(self._states(job), {"sent": 10})
        self.assertEqual(job.state, "done")
        self.assertEqual(len(fake.requests), 10)

    # ---- THE CRON, IN A THREAD

    def _serve_dispatches(self, job_id, orders):
        """Send one more batch per request, as the cron would, then wake the websockets."""
        batches = 0
        while orders.get() is not None:
            batches += 1
            try:
                self._dispatch_one_batch(job_id, BATCH * batches)
            except Exception as error:  # pylint: disable=broad-exception-caught
                # reported by the test, in its own thread
                self.errors.append(repr(error))

    def _dispatch_one_batch(self, job_id, pace):
        # HttpCase serves every request on the test's cursor: a cursor of the registry (a test
        # cursor on the same transaction, taken in turn with the HTTP threads) sees what the
        # browser sees, and the dispatcher's commits are savepoints of that transaction.
        with self.registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            last_bus_id = env["bus.bus"].search([], order="id desc", limit=1).id
            job = env["outbound.send.job"].browse(job_id)
            job.write({"batch_size": pace})  # the window allows one more batch
            env["outbound.send.job"]._cron_dispatch()
            # The bus's first poll of a websocket reads the last 50 seconds by create_date,
            # which is the test transaction's start here: date the new rows now.
            cr.execute(
                SQL(
                    "UPDATE bus_bus SET create_date = %s WHERE id > %s",
                    fields.Datetime.now(),
                    last_bus_id,
                )
            )
            company_id = job.company_id.id
        # No NOTIFY is sent from a test transaction: wake the subscribed websockets as the bus
        # would (odoo.addons.bus.tests.common.WebsocketCase.trigger_notification_dispatching).
        company = self.env["res.company"].browse(company_id)
        channel = hashable(channel_with_db(self.registry.db_name, (company, PROGRESS_CHANNEL)))
        deadline = time.monotonic() + SUBSCRIBE_WAIT
        while not dispatch._channels_to_ws.get(channel) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not dispatch._channels_to_ws.get(channel):
            raise AssertionError("the browser's websocket never subscribed to the job channel")
        for websocket in list(dispatch._channels_to_ws[channel]):
            websocket.trigger_notification_dispatching()
