import json

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import SendingCase

SEND_JOB_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_send_job"
CONTROLLER_LOGGER = "odoo.addons.outbound_bulk_messaging.controllers.main"


@tagged("post_install", "-at_install")
class TestDeliveryReceipts(HttpCase, SendingCase):
    """Vonage delivery receipts reconcile messages whose outcome was unknown, by client-ref."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 3, sms="+44 7911 1230{:02d}")

    def _receipt(self, message, status="delivered", token=None, **extra):
        params = {
            "msisdn": message.address.removeprefix("+"),
            "to": "ACME",
            "messageId": "0A00000000000042",
            "status": status,
            "err-code": "0" if status == "delivered" else "6",
            "api-key": "test-key",
            "client-ref": str(message.id),
            "message-timestamp": "2026-11-27 09:05:11",
        }
        params.update(extra)
        url = f"/outbound/sms/vonage/receipt/{token or self.gateway.sudo().receipt_token}"
        return self.url_open(url, data=params)

    def _unknown_outcome_job(self, fake):
        """A job whose first SMS timed out: failed as outcome unknown, the job paused."""
        fake.mode = "drop"
        self.gateway.max_errors = 1  # pause at the first unknown outcome
        job = self._send("sms")
        with mute_logger(SEND_JOB_LOGGER):
            self._dispatch()
        failed = job.outbound_message_ids.filtered(lambda m: m.state == "failed")
        self.assertTrue(failed.outcome_unknown)
        return job, failed

    def test_receipt_settles_a_message_whose_outcome_was_unknown(self):
        with self.fake_vonage() as fake:
            job, message = self._unknown_outcome_job(fake)
            response = self._receipt(message)
        self.assertEqual(response.status_code, 200)
        message.invalidate_recordset()
        self.assertEqual(message.state, "sent")
        self.assertFalse(message.outcome_unknown)
        self.assertEqual(message.delivery_status, "delivered")
        self.assertEqual(message.provider_message_id, "0A00000000000042")
        self.assertIn("reconciled", message.failure_reason)
        self.assertEqual(job.count_failed, 0)

    def test_receipt_of_a_sent_message_records_delivery(self):
        with self.fake_vonage():
            job = self._send("sms")
            self._dispatch()
            message = job.outbound_message_ids[0]
            self._receipt(message, status="failed")
        message.invalidate_recordset()
        self.assertEqual(
            (message.state, message.delivery_status, message.delivery_error),
            ("sent", "undelivered", "6"),
        )

    def test_rejected_receipt_does_not_turn_failed_into_sent(self):
        with self.fake_vonage() as fake:
            _job, message = self._unknown_outcome_job(fake)
            self._receipt(message, status="rejected")
        message.invalidate_recordset()
        self.assertEqual((message.state, message.delivery_status), ("failed", "rejected"))
        self.assertTrue(message.outcome_unknown)

    def test_forged_receipts_change_nothing(self):
        with self.fake_vonage() as fake:
            _job, message = self._unknown_outcome_job(fake)
            with mute_logger(CONTROLLER_LOGGER, "werkzeug"):
                wrong_token = self._receipt(message, token="not-the-token")
                wrong_key = self._receipt(message, **{"api-key": "other-key"})
            other_number = self._receipt(message, msisdn="447000000000")
            self.gateway.signature_secret = "sig-secret"
            with mute_logger(CONTROLLER_LOGGER, "werkzeug"):
                unsigned = self._receipt(message)
        self.assertEqual(wrong_token.status_code, 404)
        self.assertEqual(wrong_key.status_code, 403)
        self.assertEqual(other_number.status_code, 200)
        self.assertEqual(unsigned.status_code, 403)
        message.invalidate_recordset()
        self.assertEqual(message.state, "failed")
        self.assertFalse(message.delivery_status)

    def test_receipt_url_is_for_administrators_only(self):
        with self.fake_vonage():
            self.assertIn("/outbound/sms/vonage/receipt/", self.gateway.sudo().receipt_url)
            manager_view = (
                self.env["outbound.sms.gateway"]
                .with_user(self.user_manager)
                .get_views([(False, "form")])["views"]["form"]["arch"]
            )
        self.assertNotIn("receipt_url", manager_view)

    def _post_json(self, body, token=None):
        url = f"/outbound/sms/vonage/receipt/{token or self.gateway.sudo().receipt_token}"
        return self.url_open(url, data=body, headers={"Content-Type": "application/json"})

    def test_malformed_json_receipts_answer_400_and_change_nothing(self):
        with self.fake_vonage() as fake:
            _job, message = self._unknown_outcome_job(fake)
            with mute_logger(CONTROLLER_LOGGER, "werkzeug"):
                answers = [
                    self._post_json(body).status_code
                    for body in (b"{not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe")
                ]
                unknown_token = self._post_json(b"{not json", token="nope").status_code
                oversized = self._post_json(b'{"a": "' + b"x" * 70_000 + b'"}').status_code
        self.assertEqual(answers, [400] * 5)
        self.assertEqual(unknown_token, 404)  # the token is checked before the body is read
        self.assertEqual(oversized, 413)
        message.invalidate_recordset()
        self.assertEqual((message.state, message.delivery_status), ("failed", False))

    def test_json_receipt_with_a_numeric_client_ref_settles_the_message(self):
        with self.fake_vonage() as fake:
            _job, message = self._unknown_outcome_job(fake)
            body = {
                "msisdn": message.address.removeprefix("+"),
                "to": "ACME",
                "messageId": "0A00000000000043",
                "status": "delivered",
                "err-code": "0",
                "api-key": "test-key",
                "client-ref": message.id,
                "scts": "2611270905",
            }
            response = self._post_json(json.dumps(body).encode())
        self.assertEqual(response.status_code, 200)
        message.invalidate_recordset()
        self.assertEqual((message.state, message.delivery_status), ("sent", "delivered"))
