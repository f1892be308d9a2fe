"""Texts sent back to a gateway's number, through real HTTP requests to the running Odoo."""

import contextlib
import itertools
import json
import threading
import time
from unittest.mock import patch
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator
from vonage_http_client import Auth

from odoo import SUPERUSER_ID, api
from odoo.tests import HttpCase, TransactionCase, tagged
from odoo.tools import mute_logger

from ..engine.gateways import InboundSms
from ..models import outbound_inbound_sms
from .common import SendingCase
from .fake_twilio import ACCOUNT_SID, AUTH_TOKEN

CONTROLLER_LOGGER = "odoo.addons.outbound_bulk_messaging.controllers.main"

NUMBERS = "+44 7911 1230{:02d}"


class InboundCase(HttpCase, SendingCase):
    _ids = itertools.count(1)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 3, sms=NUMBERS)
        cls.template.body = "Hi $ACCOUNT_NAME, please call us back"

    # ---- what the providers post

    def _vonage(self, number, body, method="POST", token=None, signed=False, **changes):
        params = {
            "msisdn": number.removeprefix("+"),
            "to": "447700900999",
            "messageId": f"0A00000000{next(self._ids):06d}",
            "text": body,
            "type": "text",
            "keyword": body.split()[0].upper() if body.split() else "",
            "message-timestamp": "2026-11-27 09:05:11",
        }
        if signed:
            params.update({"api-key": "test-key", "timestamp": str(int(time.time()))})
            auth = Auth(api_key="test-key", signature_secret="sig-secret", signature_method="md5")
            params["sig"] = auth.sign_params(dict(params))
        params.update(changes)
        params = {key: value for key, value in params.items() if value is not None}
        path = f"/outbound/sms/vonage/inbound/{token or self.gateway.sudo().inbound_token}"
        if method == "GET":
            return self.url_open(f"{path}?{urlencode(params)}")
        return self.url_open(path, data=params)

    def _twilio(self, number, body, token=None, auth_token=AUTH_TOKEN, sid=None, **changes):
        form = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": number,
            "MessageSid": sid or f"SM{next(self._ids):032x}",
            "NumMedia": "0",
            "To": "+447700900999",
            **changes,
        }
        url = f"{self.base_url()}/outbound/sms/twilio/inbound/"
        url += token or self.gateway.sudo().inbound_token
        signature = RequestValidator(auth_token).compute_signature(url, form)
        return self.url_open(url, data=form, headers={"X-Twilio-Signature": signature})

    # ---- what to look at

    def _inbound(self):
        return self.env["outbound.inbound.sms"].search([("gateway_id", "=", self.gateway.id)])

    def _blacklisted(self, number):
        entry = self.env["phone.blacklist"].with_context(active_test=False)
        entry = entry.search([("number", "=", number)])
        return bool(entry.active)

    def _notes(self, account):
        account.invalidate_recordset()
        return " ".join(account.message_ids.mapped("body"))

    def _sent_job(self, record=None):
        job = self._send("sms", record=record or self.list_active)
        self._dispatch()
        self.assertEqual(self._states(job).get("sent"), len(job.outbound_message_ids))
        return job

    def _skipped(self, job):
        return job.outbound_message_ids.filtered(lambda message: message.state == "skipped")


@tagged("post_install", "-at_install")
class TestInboundOptOut(InboundCase):
    """STOP puts the number in phone.blacklist, START takes it out; the next job follows."""

    def _check_opted_out(self, answer, account):
        self.assertEqual(answer.status_code, 200)
        self.assertTrue(self._blacklisted(account.sms_number_e164))
        inbound = self._inbound()
        self.assertEqual((inbound.kind, inbound.account_id), ("opt_out", account))
        self.assertIn("opted out", self._notes(account))
        self.assertEqual(account.status, "unused")  # STOP does not ask for a call
        job = self._sent_job_skipping(account)
        self.assertIn("blacklisted", self._skipped(job).failure_reason)

    def _sent_job_skipping(self, account):
        job = self._send("sms")
        self._dispatch()
        self.assertEqual(self._skipped(job).account_id, account)
        return job

    def test_vonage_unsigned_stop(self):
        with self.fake_vonage() as fake:
            self._sent_job()
            account = self.accounts[1]
            answer = self._vonage(account.sms_number_e164, " stop. ")
            self._check_opted_out(answer, account)
            self.assertEqual(len(fake.requests), 3 + 2)

    def test_vonage_signed_stop_by_get_then_start(self):
        with self.fake_vonage(signature_secret="sig-secret"):
            self.gateway.signature_secret = "sig-secret"
            self._sent_job()
            account = self.accounts[0]
            answer = self._vonage(account.sms_number_e164, "Stop!", method="GET", signed=True)
            self._check_opted_out(answer, account)
            answer = self._vonage(account.sms_number_e164, "START", signed=True)
            self.assertEqual(answer.status_code, 200)
            self.assertFalse(self._blacklisted(account.sms_number_e164))
            self.assertIn("opted back in", self._notes(account))
            job = self._send("sms")
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 3})

    def test_gateway_opt_out_words_with_accents(self):
        with self.fake_vonage():
            self.gateway.opt_out_keywords = "ARRET, STOPP"
            self._sent_job()
            account = self.accounts[2]
            answer = self._vonage(account.sms_number_e164, "Arrêt")
            self._check_opted_out(answer, account)

    def test_twilio_stop_then_unstop(self):
        with self.fake_twilio():
            self._sent_job()
            account = self.accounts[2]
            answer = self._twilio(account.sms_number_e164, "STOP")
            self.assertEqual(answer.headers["Content-Type"].split(";")[0], "text/xml")
            self.assertNotIn("<Message", answer.text)  # Twilio texts nothing back
            self._check_opted_out(answer, account)
            self.assertEqual(self._twilio(account.sms_number_e164, "unstop").status_code, 200)
            self.assertFalse(self._blacklisted(account.sms_number_e164))
            self.assertEqual(self._inbound().mapped("kind"), ["opt_in", "opt_out"])


@tagged("post_install", "-at_install")
class TestInboundReplies(InboundCase):
    """A reply goes to the account last texted at that number by that gateway."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.list_east = cls.env["outbound.list"].create(
            {"name": "East", "campaign_id": cls.campaign.id, "state": "active"}
        )
        # The same number as self.accounts[0], on another list of the campaign.
        cls.account_east = cls._create_accounts(cls.list_east, 1, start=50, sms=NUMBERS)
        cls.campaign_other = cls.env["outbound.campaign"].create(
            {"name": "Other campaign", "email_from": "other@acme.example", "sms_sender": "ACME"}
        )
        cls.template_other = cls.env["outbound.template"].create(
            {"name": "Other", "campaign_id": cls.campaign_other.id, "body": "Hi $ACCOUNT_NAME"}
        )
        cls.list_other = cls.env["outbound.list"].create(
            {"name": "Elsewhere", "campaign_id": cls.campaign_other.id, "state": "active"}
        )
        cls.account_other = cls._create_accounts(cls.list_other, 1, start=90, sms=NUMBERS)

    def test_reply_lands_on_the_account_last_texted_by_that_gateway(self):
        with self.fake_vonage():
            self._sent_job(self.list_active)
            later = self._sent_job(self.list_east)
            # Last of all, another campaign texts the number through another gateway.
            other_gateway = self.gateway.copy({"name": "Other gateway"})
            self.campaign_other.write({"sms_gateway_id": other_gateway.id, "sms_sender": "ACME"})
            self._send("sms", record=self.campaign_other, template_id=self.template_other.id)
            self._dispatch()
            answer = self._vonage(self.account_east.sms_number_e164, "Please call me after 5pm")
        self.assertEqual(answer.status_code, 200)
        inbound = self._inbound()
        message = later.outbound_message_ids
        self.assertEqual(
            (inbound.kind, inbound.account_id, inbound.message_id, inbound.campaign_id),
            ("reply", self.account_east, message, self.campaign),
        )
        self.assertEqual(message.reply_text, "Please call me after 5pm")
        self.assertTrue(message.replied_at)
        self.assertEqual(self.account_east.status, "callback")
        self.assertIn("Please call me after 5pm", self._notes(self.account_east))
        for account in (self.accounts[0], self.account_other):
            self.assertNotIn("call me", self._notes(account))
            self.assertEqual(account.status, "unused")
        self.assertFalse(self._blacklisted(self.account_east.sms_number_e164))

    def test_reply_status_empty_leaves_the_status(self):
        self.campaign.reply_status = False
        with self.fake_twilio():
            job = self._sent_job()
            answer = self._twilio(self.accounts[1].sms_number_e164, "don't stop calling me")
        self.assertEqual(answer.status_code, 200)
        self.assertEqual(self._inbound().kind, "reply")
        self.assertEqual(self.accounts[1].status, "unused")
        self.assertIn("stop calling me", self._notes(self.accounts[1]))
        replied = job.outbound_message_ids.filtered("replied_at")
        self.assertEqual(replied.account_id, self.accounts[1])

    def test_reply_from_an_unknown_number_is_kept_unmatched(self):
        with self.fake_vonage():
            self._sent_job()
            answer = self._vonage("+447700900123", "who is this?")
        self.assertEqual(answer.status_code, 200)
        inbound = self._inbound()
        self.assertEqual((inbound.sender, inbound.text), ("+447700900123", "who is this?"))
        self.assertFalse(inbound.account_id or inbound.message_id)

    def test_vonage_json_reply(self):
        with self.fake_vonage():
            job = self._sent_job()
            message = job.outbound_message_ids[:1]
            body = {
                "msisdn": int(message.address.removeprefix("+")),  # JSON numbers are read too
                "to": "447700900999",
                "messageId": "0A0000000000JSON",
                "text": "Is this about my renewal?",
                "type": "text",
                "message-timestamp": "2026-11-27 09:05:11",
            }
            path = f"/outbound/sms/vonage/inbound/{self.gateway.sudo().inbound_token}"
            answer = self.url_open(
                path, data=json.dumps(body), headers={"Content-Type": "application/json"}
            )
        self.assertEqual(answer.status_code, 200)
        message.invalidate_recordset()
        self.assertEqual(message.reply_text, "Is this about my renewal?")
        self.assertEqual(self._inbound().keyword, "IS")

    def test_replies_of_another_company_are_invisible(self):
        company_b = self.env["res.company"].create({"name": "Company B"})
        gateways = self.env["outbound.sms.gateway"].create(
            [
                {"name": "A gateway", "api_key": "ka"},
                {"name": "B gateway", "api_key": "kb", "company_id": company_b.id},
            ]
        )
        replies = self.env["outbound.inbound.sms"].create(
            [
                {
                    "gateway_id": gateway.id,
                    "company_id": gateway.company_id.id,
                    "provider_message_id": f"ID{gateway.id}",
                    "sender": "+447700900123",
                    "text": "hi",
                    "kind": "reply",
                    "received_at": "2026-11-27 09:05:11",
                }
                for gateway in gateways
            ]
        )
        visible = self.env["outbound.inbound.sms"].with_user(self.user_outbound).search([])
        self.assertEqual(visible, replies[0])

    def test_duplicate_delivery_is_recorded_once(self):
        with self.fake_twilio():
            self._sent_job()
            sid = "SM" + "d" * 32
            number = self.accounts[0].sms_number_e164
            answers = [self._twilio(number, "ring me", sid=sid).status_code for _ in range(2)]
        self.assertEqual(answers, [200, 200])
        self.assertEqual(len(self._inbound()), 1)
        self.assertEqual(self._notes(self.accounts[0]).count("ring me"), 1)

    def test_another_companys_message_is_not_matched(self):
        company_b = self.env["res.company"].create({"name": "Company B"})
        with self.fake_vonage():
            job = self._sent_job()
            message = job.outbound_message_ids.filtered(lambda m: m.account_id == self.accounts[0])
            # A message is its job's company's.
            self.env.cr.execute(
                "UPDATE outbound_send_job SET company_id = %s WHERE id = %s",
                [company_b.id, job.id],
            )
            self.env.invalidate_all()
            answer = self._vonage(message.address, "call me")
            with mute_logger(CONTROLLER_LOGGER, "werkzeug"):
                receipt = self.url_open(
                    f"/outbound/sms/vonage/receipt/{self.gateway.sudo().receipt_token}",
                    data={
                        "msisdn": message.address.removeprefix("+"),
                        "messageId": "0A00000000000099",
                        "status": "delivered",
                        "api-key": "test-key",
                        "client-ref": str(message.id),
                    },
                )
        # The reply is kept, unmatched; the receipt is refused.
        self.assertEqual((answer.status_code, receipt.status_code), (200, 403))
        self.assertFalse(self._inbound().account_id)
        message.invalidate_recordset()
        self.assertFalse(message.reply_text or message.delivery_status)
        self.assertEqual(self.accounts[0].status, "unused")


@tagged("post_install", "-at_install")
class TestInboundRefused(InboundCase):
    """Forged, stale, malformed or oversized webhooks: a 4xx, and nothing changes."""

    def _nothing_changed(self):
        self.assertFalse(self._inbound())
        self.assertFalse(self._blacklisted(self.accounts[0].sms_number_e164))
        self.assertFalse(self.env["outbound.message"].search([("replied_at", "!=", False)]))

    def test_vonage_refusals(self):
        number = self.accounts[0].sms_number_e164
        with self.fake_vonage():
            self._sent_job()
            with mute_logger(CONTROLLER_LOGGER, "werkzeug"):
                answers = {
                    "token": self._vonage(number, "STOP", token="not-the-token"),
                    "api-key": self._vonage(number, "STOP", **{"api-key": "other-key"}),
                    "no msisdn": self._vonage(number, "STOP", msisdn=None),
                    "no text": self._vonage(number, "STOP", text=None),
                    "not a number": self._vonage(number, "STOP", msisdn="ACME"),
                    "oversized": self._vonage(number, "STOP", text="x" * 70_000),
                    "provider": self.url_open("/outbound/sms/other/inbound/t"),
                }
                self.gateway.signature_secret = "sig-secret"
                stale = str(int(time.time()) - 3600)
                answers.update(
                    {
                        "unsigned": self._vonage(number, "STOP"),
                        "forged": self._vonage(number, "STOP", signed=True, text="START"),
                        "bad sig": self._vonage(number, "STOP", signed=True, sig="0" * 32),
                        "stale": self._vonage(number, "STOP", signed=True, timestamp=stale),
                    }
                )
        codes = {name: answer.status_code for name, answer in answers.items()}
        self.assertEqual(
            codes,
            {
                "token": 404,
                "api-key": 403,
                "no msisdn": 400,
                "no text": 400,
                "not a number": 400,
                "oversized": 413,
                "provider": 404,
                "unsigned": 403,
                "forged": 403,
                "bad sig": 403,
                "stale": 403,
            },
        )
        self._nothing_changed()

    def test_twilio_refusals(self):
        number = self.accounts[0].sms_number_e164
        with self.fake_twilio():
            self._sent_job()
            with mute_logger(CONTROLLER_LOGGER, "werkzeug"):
                answers = {
                    "token": self._twilio(number, "STOP", token="nope"),
                    "signature": self._twilio(number, "STOP", auth_token="forged"),
                    "account": self._twilio(number, "STOP", AccountSid="AC" + "9" * 32),
                    "no from": self._twilio(number, "STOP", From=""),
                    "bad sid": self._twilio(number, "STOP", sid="SM-nope"),
                    "unsigned": self.url_open(
                        f"/outbound/sms/twilio/inbound/{self.gateway.sudo().inbound_token}",
                        data={"From": number, "Body": "STOP", "AccountSid": ACCOUNT_SID},
                    ),
                }
        codes = {name: answer.status_code for name, answer in answers.items()}
        self.assertEqual(
            codes,
            {
                "token": 404,
                "signature": 403,
                "account": 403,
                "no from": 400,
                "bad sid": 400,
                "unsigned": 403,
            },
        )
        self._nothing_changed()

    def test_inbound_url_is_for_administrators_only(self):
        with self.fake_vonage():
            self.assertIn("/outbound/sms/vonage/inbound/", self.gateway.sudo().inbound_url)
            manager_view = (
                self.env["outbound.sms.gateway"]
                .with_user(self.user_manager)
                .get_views([(False, "form")])["views"]["form"]["arch"]
            )
        self.assertNotIn("inbound_url", manager_view)


@tagged("post_install", "-at_install")
class TestInboundRace(TransactionCase):
    """Two deliveries of one message at once, each in its own transaction: one row, no error.

    The test transaction cannot be seen by other cursors, so the gateway is committed through a
    cursor of its own and removed again at the end.
    """

    @contextlib.contextmanager
    def _committed_env(self):
        """An environment on a cursor of its own, committed when the block ends."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})

    def setUp(self):
        super().setUp()
        with self._committed_env() as env:
            gateway = env["outbound.sms.gateway"].create({"name": "Race", "api_key": "k"})
            self.gateway_id = gateway.id
        self.addCleanup(self._delete)

    def _delete(self):
        with self._committed_env() as env:
            env["outbound.sms.gateway"].browse(self.gateway_id).unlink()

    def _receive(self, env, sms):
        gateway = env["outbound.sms.gateway"].browse(self.gateway_id)
        return env["outbound.inbound.sms"]._receive(gateway, sms)

    def test_concurrent_duplicates_are_recorded_once(self):
        sms = InboundSms(provider_id="0A0000000000RACE", sender="+447700900777", to="", text="hi")
        second = {}
        # Made here: a thread's first Environment would wait for the registry lock the test
        # runner holds.
        env_second = api.Environment(self.registry.cursor(), SUPERUSER_ID, {})

        def deliver_again():
            with env_second.cr:
                try:
                    second["result"] = self._receive(env_second, sms).ids
                except Exception as exc:  # the test reports any failure
                    second["error"] = exc

        model_logger = outbound_inbound_sms._logger
        with patch.object(model_logger, "info", wraps=model_logger.info) as info:
            with self._committed_env() as env_first:
                first = self._receive(env_first, sms)
                thread = threading.Thread(target=deliver_again)
                # The second transaction starts (takes its snapshot) before the first commits.
                thread.start()
                time.sleep(1)
            thread.join(10)
        self.assertEqual(second, {"result": []})
        # The second one met the first one's commit, not just its row.
        self.assertIn("delivered twice at once", info.call_args_list[0].args[0])
        with self._committed_env() as env:
            rows = env["outbound.inbound.sms"].search([("gateway_id", "=", self.gateway_id)])
            self.assertEqual(rows.ids, first.ids)
