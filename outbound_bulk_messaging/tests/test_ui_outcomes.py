from odoo.tests import HttpCase, tagged

from .bounce_mail import make_dsn
from .common import SendingCase

ACCOUNT_COLUMNS = ("reference", "name", "email", "sms_number")
REPLY = "Please call me after 5pm"


@tagged("post_install", "-at_install")
class TestOutcomesUi(HttpCase, SendingCase):
    """What came back, in a real browser (static/tests/tours/outbound_outcomes_tour.js).

    Everything the tour shows arrives through the real parts first: a text job through the fake
    Vonage, its receipts and a reply posted to Odoo's webhooks over HTTP, an email job through
    the loopback SMTP sink and a bounce through the mail gateway's message_process.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.alias_domain_id = cls.env["mail.alias.domain"].create(
            {"name": "acme.example", "bounce_alias": "bounce", "catchall_alias": "catchall"}
        )
        rows = [
            ("N1", "Nora Quinn", "nora@example.com", "+44 7911 100001"),
            ("N2", "Omar Said", "omar@example.com", "+44 7911 100002"),
            ("N3", "Pia Berg", "pia@example.com", "+44 7911 100003"),
        ]
        cls.accounts = cls.env["outbound.account"].create(
            [
                dict(zip(ACCOUNT_COLUMNS, row, strict=True), list_id=cls.list_active.id)
                for row in rows
            ]
        )
        cls.template.body = "Hi $ACCOUNT_NAME, please call us back"

    def _account(self, reference):
        return self.accounts.filtered(lambda account: account.reference == reference)

    def _message(self, job, reference):
        return job.outbound_message_ids.filtered(lambda m: m.account_reference == reference)

    def _post(self, path, params):
        response = self.url_open(path, data=params)
        self.assertEqual(response.status_code, 200, response.text)

    def _texts_and_what_came_back(self):
        with self.fake_vonage():
            job = self._send("sms")
            self._dispatch()
            receipt_path = f"/outbound/sms/vonage/receipt/{self.gateway.sudo().receipt_token}"
            for reference, status, error in (("N1", "delivered", "0"), ("N2", "failed", "6")):
                message = self._message(job, reference)
                self._post(
                    receipt_path,
                    {
                        "msisdn": message.address.removeprefix("+"),
                        "messageId": message.provider_message_id,
                        "status": status,
                        "err-code": error,
                        "api-key": "test-key",
                        "client-ref": str(message.id),
                    },
                )
            self._post(
                f"/outbound/sms/vonage/inbound/{self.gateway.sudo().inbound_token}",
                {
                    "msisdn": self._account("N3").sms_number_e164.removeprefix("+"),
                    "to": "447700900999",
                    "messageId": "0A0000000000REPLY",
                    "text": REPLY,
                    "type": "text",
                    "message-timestamp": "2026-11-27 09:05:11",
                },
            )
        return job

    def _emails_and_a_bounce(self):
        with self.smtp_sink() as sink:
            job = self._send("email")
            self._dispatch()
        received = next(m for m in sink.messages if m.rcpt_tos == ["omar@example.com"])
        diagnostic = "smtp; 550 5.1.1 <omar@example.com>: Recipient address rejected"
        raw = make_dsn(
            received,
            self.env.company.bounce_email,
            [("omar@example.com", "failed", "5.1.1", diagnostic)],
        )
        self.env["mail.thread"].message_process(False, raw)
        return job

    def test_supervisor_sees_what_came_back(self):
        sms_job = self._texts_and_what_came_back()
        email_job = self._emails_and_a_bounce()
        self.env.invalidate_all()
        # What the tour reads, checked here too so a failure names the figure.
        self.assertEqual(
            (sms_job.count_delivered, sms_job.count_undelivered, sms_job.count_replied), (1, 1, 1)
        )
        self.assertEqual(email_job.count_bounced, 1)
        self.assertEqual(self._account("N3").status, "callback")
        notes = self._account("N3").message_ids
        self.assertIn(REPLY, " ".join(notes.mapped("body")))
        self.assertEqual(notes.author_id, self.env.ref("base.partner_root"), "told by OdooBot")

        self.start_tour("/odoo", "outbound_outcomes_tour", login=self.user_manager.login)
