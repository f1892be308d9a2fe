import itertools
from urllib.parse import urlencode

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import SendingCase
from .fake_twilio import status_callback

CONTROLLER_LOGGER = "odoo.addons.outbound_bulk_messaging.controllers.main"


@tagged("post_install", "-at_install")
class TestDeliveryOutcomes(HttpCase, SendingCase):
    """Receipts of every part combined, counted on the job and the panel, told on the account."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 6, sms="+44 7911 1230{:02d}")
        # Three GSM parts (153 characters each at most).
        cls.template.write({"body": "$ACCOUNT_NAME " + "z" * 400, "sms_max_segments": 3})

    def _vonage_receipt(self, message, part_id, status, err="0"):
        params = {
            "msisdn": message.address.removeprefix("+"),
            "to": "ACME",
            "messageId": part_id,
            "status": status,
            "err-code": err,
            "api-key": "test-key",
            "client-ref": str(message.id),
            "message-timestamp": "2026-11-27 09:05:11",
        }
        response = self.url_open(
            f"/outbound/sms/vonage/receipt/{self.gateway.sudo().receipt_token}", data=params
        )
        self.assertEqual(response.status_code, 200)
        message.invalidate_recordset()
        return message.delivery_status

    def _sent_job(self):
        job = self._send("sms")
        self._dispatch()
        self.assertEqual(self._states(job), {"sent": 6})
        self.assertEqual(set(job.outbound_message_ids.mapped("sms_parts")), {3})
        return job

    def test_multi_part_receipts_in_every_order(self):
        with self.fake_vonage():
            job = self._sent_job()
            for message, order in zip(
                job.outbound_message_ids, itertools.permutations(range(3)), strict=True
            ):
                part_ids = message.provider_message_id.split(",")
                self.assertEqual(len(part_ids), 3)
                states = [self._vonage_receipt(message, part_ids[i], "delivered") for i in order]
                self.assertEqual(states, ["buffered", "buffered", "delivered"], order)
                # A late, repeated in-transit receipt does not undo it.
                self.assertEqual(
                    self._vonage_receipt(message, part_ids[order[0]], "accepted"), "delivered"
                )
        self.assertEqual(job.count_delivered, 6)
        self.assertEqual(job.count_undelivered, 0)
        self.assertEqual(self._wizard().count_sms_delivered, 6)

    def test_one_failed_part_makes_the_text_undelivered_at_once(self):
        self.campaign.undelivered_status = "callback"
        with self.fake_vonage():
            job = self._sent_job()
            for message, order in zip(
                job.outbound_message_ids, itertools.permutations(range(3)), strict=True
            ):
                part_ids = message.provider_message_id.split(",")
                states = []
                for index in order:
                    status, err = ("failed", "6") if index == 1 else ("delivered", "0")
                    states.append(self._vonage_receipt(message, part_ids[index], status, err))
                failed_at = order.index(1)
                self.assertEqual(states[failed_at:], ["undelivered"] * (3 - failed_at), order)
                self.assertNotIn("undelivered", states[:failed_at], order)
                self.assertEqual(message.delivery_error, "6")
        self.assertEqual((job.count_delivered, job.count_undelivered), (0, 6))
        panel = self._wizard()
        self.assertEqual((panel.count_sms_delivered, panel.count_sms_undelivered), (0, 6))
        account = job.outbound_message_ids[0].account_id
        self.assertEqual(account.status, "callback")
        notes = account.message_ids.filtered(lambda m: "was not delivered" in (m.body or ""))
        self.assertEqual(len(notes), 1, "told once, not once per receipt")
        self.assertIn(self.campaign.name, notes.body)
        self.assertIn("error 6", notes.body)

    def test_undelivered_leaves_the_status_when_the_campaign_sets_none(self):
        self.assertFalse(self.campaign.undelivered_status)
        with self.fake_vonage():
            job = self._sent_job()
            message = job.outbound_message_ids[0]
            self._vonage_receipt(message, message.provider_message_id.split(",")[0], "expired")
        self.assertEqual(message.delivery_status, "expired")
        self.assertEqual(message.account_id.status, "unused")
        self.assertTrue(
            message.account_id.message_ids.filtered(lambda m: "was not delivered" in (m.body or ""))
        )
        self.assertEqual(job.count_undelivered, 1)

    def test_twilio_callbacks_out_of_order(self):
        self.template.write({"body": "Hi $ACCOUNT_NAME", "sms_max_segments": 1})
        with self.fake_twilio():
            job = self._send("sms")
            self._dispatch()
            first, second = job.outbound_message_ids[:2]
            for message, statuses in (
                (first, ["sent", "delivered"]),
                (second, ["delivered", "sent"]),
            ):
                for status in statuses:
                    self._twilio_callback(message, status)
            third = job.outbound_message_ids[2]
            self._twilio_callback(third, "undelivered", error_code=30003)
        for message in (first, second):
            message.invalidate_recordset()
            self.assertEqual(message.delivery_status, "delivered")
        third.invalidate_recordset()
        self.assertEqual((third.delivery_status, third.delivery_error), ("undelivered", "30003"))
        self.assertEqual((job.count_delivered, job.count_undelivered), (2, 1))

    def _twilio_callback(self, message, status, **extra):
        # Signed over the URL Odoo sees: this test server's, with the ref the message was sent with.
        path = "".join(self.gateway.sudo().receipt_url.partition("/outbound/")[1:])
        callback = status_callback(
            f"{self.base_url()}{path}?{urlencode({'ref': message.id})}",
            message_sid=message.provider_message_id,
            status=status,
            to=message.address,
            **extra,
        )
        response = self.url_open(
            callback["url"], data=callback["body"], headers=callback["headers"]
        )
        self.assertEqual(response.status_code, 200, response.text)

    def test_receipt_for_another_companys_message_is_refused(self):
        with self.fake_vonage():
            job = self._sent_job()
            message = job.outbound_message_ids[0]
            other = self.env["res.company"].create({"name": "Other Co"})
            # As if the message's job had been moved to another company after sending.
            self.env.cr.execute(
                "UPDATE outbound_send_job SET company_id = %s WHERE id = %s", [other.id, job.id]
            )
            self.env.invalidate_all()
            with mute_logger(CONTROLLER_LOGGER, "werkzeug"):
                response = self.url_open(
                    f"/outbound/sms/vonage/receipt/{self.gateway.sudo().receipt_token}",
                    data={
                        "msisdn": message.address.removeprefix("+"),
                        "messageId": message.provider_message_id.split(",")[0],
                        "status": "delivered",
                        "api-key": "test-key",
                        "client-ref": str(message.id),
                    },
                )
        self.assertEqual(response.status_code, 403)
        message.invalidate_recordset()
        self.assertFalse(message.delivery_status)
