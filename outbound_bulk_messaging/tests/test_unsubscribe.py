import logging
import re
from unittest.mock import patch

import requests

from odoo import tools
from odoo.tests import HttpCase, tagged

from .common import SendingCase

CONTROLLER_LOGGER = "odoo.addons.outbound_bulk_messaging.controllers.unsubscribe"
# Not the string "INFO": Odoo renames its RUNBOT level (25) "INFO", which would then be meant.
MAIL_THREAD_LOGGER = "odoo.addons.outbound_bulk_messaging.models.mail_thread"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
URL = re.compile(r"<(http[^>]+)>")


@tagged("post_install", "-at_install")
class TestUnsubscribe(HttpCase, SendingCase):
    """RFC 8058 one-click unsubscribe: headers, footer link, the public route, the blacklist."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.accounts = cls._create_accounts(cls.list_active, 3, email="person{:02d}@example.com")
        body = "<p>Dear <b>$ACCOUNT_NAME</b>, ref $ACCOUNT_REFERENCE</p>"
        cls.template.write({"body_type": "html", "body": body})
        cls.env.company.alias_domain_id = False

    def _send_and_receive(self):
        """Send the template to the 3 accounts; the received emails by recipient, and the job."""
        with self.smtp_sink() as sink:
            job = self._send("email")
            self._dispatch()
        self.assertEqual(self._states(job), {"sent": 3})
        return {message.rcpt_tos[0]: message for message in sink.messages}, job

    def _message(self, job, address="person01@example.com"):
        return job.outbound_message_ids.filtered(lambda m: m.address == address)

    def _url(self, received):
        return URL.search(received["List-Unsubscribe"])[1]

    def _post(self, url, data=None):
        """A POST as a mail client makes it: plain HTTP client, no cookie, no CSRF token."""
        response = requests.post(url, data=ONE_CLICK if data is None else data, timeout=30)
        self.env.invalidate_all()
        return response

    def _notes(self, account):
        return account.message_ids.filtered(lambda m: "Unsubscribed" in (m.body or ""))

    def _blacklisted(self, address="person01@example.com"):
        return self.env["mail.blacklist"].search([("email", "=", address)])

    # ---- WHAT THE EMAIL CARRIES

    def test_email_carries_one_click_headers_and_the_same_link_in_both_parts(self):
        received, job = self._send_and_receive()
        email = received["person01@example.com"]
        message = self._message(job)
        url = message._get_unsubscribe_url(message.id)
        self.assertRegex(url, r"/outbound/unsubscribe/%d-[0-9a-f]{64}$" % message.id)
        self.assertEqual(email["List-Unsubscribe"], f"<{url}>")
        # As sent: on one line, not RFC 2047-encoded (the URL is longer than a folded line).
        self.assertEqual(dict(email.raw_items())["List-Unsubscribe"], f"<{url}>")
        self.assertEqual(email["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertEqual(email["X-Outbound-Message"], str(message.id))
        self.assertEqual(email["Precedence"], "bulk")
        self.assertEqual(email["List-Id"], f'"Renewals" <campaign-{self.campaign.id}.acme.example>')
        html = email.get_body(("html",)).get_content()
        text = email.get_body(("plain",)).get_content()
        self.assertIn(f'<a href="{url}">To stop receiving these emails, unsubscribe</a>', html)
        self.assertIn(f"To stop receiving these emails, unsubscribe: {url}", text)
        self.assertIn("Dear A 1, ref R00001", text)
        # Each message has its own link.
        other = received["person02@example.com"]
        self.assertNotEqual(self._url(other), url)
        other_id = self._message(job, "person02@example.com").id
        self.assertEqual(self._url(other), message._get_unsubscribe_url(other_id))

    def test_html_email_is_a_complete_document(self):
        received, _job = self._send_and_receive()
        html = received["person00@example.com"].get_body(("html",)).get_content()
        self.assertTrue(html.startswith("<!DOCTYPE html>\n<html lang="), html[:40])
        self.assertIn('<meta charset="utf-8">', html)
        self.assertIn("<title>Your renewal, A 0</title>", html)
        self.assertRegex(html, r"(?s)<body>\n<p>Dear <b>A 0</b>.*</p>\n</body>\n</html>")

    def test_mailto_form_with_the_company_alias_domain(self):
        self.env.company.alias_domain_id = self.env["mail.alias.domain"].create(
            {"name": "acme.example", "catchall_alias": "catchall"}
        )
        received, job = self._send_and_receive()
        message = self._message(job)
        url = message._get_unsubscribe_url(message.id)
        token = url.rsplit("/", 1)[1]
        raw_headers = dict(received["person01@example.com"].raw_items())
        self.assertEqual(
            raw_headers["List-Unsubscribe"],
            f"<{url}>, <mailto:catchall@acme.example?subject=unsubscribe%20{token}>",
        )

    def test_an_email_to_the_mailto_address_unsubscribes_like_the_link(self):
        self.env.company.alias_domain_id = self.env["mail.alias.domain"].create(
            {"name": "acme.example", "catchall_alias": "catchall"}
        )
        received, job = self._send_and_receive()
        header = received["person01@example.com"]["List-Unsubscribe"]
        subject = header.split("?subject=", 1)[1].rstrip(">").replace("%20", " ")
        self.assertTrue(subject.startswith("unsubscribe "))
        raw = (
            "From: person01@example.com\r\nTo: catchall@acme.example\r\n"
            f"Subject: {subject}\r\nMessage-Id: <u1@example.com>\r\n\r\nunsubscribe\r\n"
        )
        self.env["mail.thread"].message_process(False, raw)
        self.assertTrue(self._blacklisted())
        self.assertEqual(len(self._notes(self.accounts[1])), 1)
        self.assertTrue(self._message(job).unsubscribed_at)
        forged = raw.replace(subject, subject[:-1] + ("0" if subject[-1] != "0" else "1"))
        forged = forged.replace("person01", "person02").replace("<u1@", "<u2@")
        # A forged token: logged, then the mail gateway treats the email as usual (a bounce).
        with self.assertLogs(MAIL_THREAD_LOGGER, logging.INFO):
            self.env["mail.thread"].message_process(False, forged)
        self.assertFalse(self._blacklisted("person02@example.com"))

    def test_placeholder_renders_the_link_and_replaces_the_footer(self):
        body = "Hi $ACCOUNT_NAME. Opt out: $UNSUBSCRIBE_URL"
        self.template.write({"body_type": "text", "body": body})
        received, _job = self._send_and_receive()
        email = received["person01@example.com"]
        url = self._url(email)
        self.assertEqual(email.get_content().strip(), f"Hi A 1. Opt out: {url}")
        self.assertNotIn("To stop receiving", email.get_content())

    def test_campaign_without_unsubscribe_sends_no_headers_no_footer_and_an_empty_placeholder(self):
        self.campaign.email_unsubscribe = False
        self.template.body = "<p>Hi $ACCOUNT_NAME.</p><p>Opt out: [$UNSUBSCRIBE_URL]</p>"
        received, _job = self._send_and_receive()
        email = received["person01@example.com"]
        self.assertIsNone(email["List-Unsubscribe"])
        self.assertIsNone(email["List-Unsubscribe-Post"])
        html = email.get_body(("html",)).get_content()
        self.assertIn("<p>Opt out: []</p>", html)
        self.assertNotIn("/outbound/unsubscribe/", email.as_string())
        self.assertNotIn("To stop receiving", email.as_string())
        self.assertEqual(email["List-Id"], f'"Renewals" <campaign-{self.campaign.id}.acme.example>')

    # ---- THE LINK

    def test_one_click_post_blacklists_notes_the_chatter_once_and_the_next_job_skips(self):
        received, job = self._send_and_receive()
        account = self.accounts[1]
        response = self._post(self._url(received["person01@example.com"]))
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("Set-Cookie", response.headers)
        self.assertTrue(self._blacklisted().active)
        notes = self._notes(account)
        self.assertEqual(len(notes), 1)
        self.assertIn("campaign Renewals", notes.body)
        self.assertEqual(notes.author_id, self.env.ref("base.partner_root"))
        self.assertTrue(self._message(job).unsubscribed_at)
        # The second POST (a client retrying, a second click) is fine and posts nothing.
        again = self._post(self._url(received["person01@example.com"]))
        self.assertEqual(again.status_code, 200)
        self.assertEqual(self._notes(account), notes)
        self.assertFalse(self._notes(self.accounts[0]))
        with self.smtp_sink() as sink:
            next_job = self._send("email")
            self._dispatch()
        self.assertEqual(self._states(next_job), {"sent": 2, "skipped": 1})
        skipped = self._message(next_job)
        self.assertEqual(skipped.state, "skipped")
        self.assertEqual(skipped.failure_reason, "person01@example.com is blacklisted")
        self.assertNotIn("person01@example.com", [m.rcpt_tos[0] for m in sink.messages])

    def test_get_shows_the_page_and_changes_nothing_and_its_form_unsubscribes(self):
        received, job = self._send_and_receive()
        url = self._url(received["person01@example.com"])
        response = requests.get(url, timeout=30)
        self.env.invalidate_all()
        self.assertEqual(response.status_code, 200)
        self.assertIn("<!DOCTYPE html>", response.text)
        self.assertIn("person01@example.com", response.text)
        self.assertIn('name="List-Unsubscribe" value="One-Click"', response.text)
        path = url.split("://", 1)[1].split("/", 1)[1]
        self.assertIn(f'action="/{path}"', response.text)
        self.assertFalse(self._blacklisted())
        self.assertFalse(self._notes(self.accounts[1]))
        self.assertFalse(self._message(job).unsubscribed_at)
        # The page's button posts the same form, as a browser would.
        done = self._post(url)
        self.assertEqual(done.status_code, 200)
        self.assertIn("You are unsubscribed", done.text)
        self.assertTrue(self._blacklisted())

    def test_a_batch_signs_its_links_as_odoo_does(self):
        """The dispatcher reads the secret once per batch: the same signatures as tools.hmac,
        and tools.hmac itself should it ever sign otherwise."""
        messages = self.env["outbound.message"]
        sign = messages._get_unsubscribe_signer()
        for message_id in (1, 42, 2**31 - 1):
            self.assertEqual(sign(message_id), messages._unsubscribe_sign(message_id))
            self.assertEqual(
                messages._get_unsubscribe_url(message_id, sign=sign),
                messages._get_unsubscribe_url(message_id),
            )
        with patch.object(tools, "hmac", lambda env, scope, message: f"{message:064x}"):
            sign = messages._get_unsubscribe_signer()
            self.assertEqual(sign(42), f"{42:064x}")

    def test_forged_altered_and_malformed_tokens_change_nothing(self):
        received, job = self._send_and_receive()
        url = self._url(received["person01@example.com"])
        base, token = url.rsplit("/", 1)
        message_id, signature = token.split("-")
        other = self._message(job, "person02@example.com")
        flipped = "0" if signature[-1] != "0" else "1"
        sms = self.env["outbound.message"].create(
            {"job_id": job.id, "channel": "sms", "address": "+447911123456"}
        )
        blacklist = self.env["mail.blacklist"].with_context(active_test=False)
        entries = blacklist.search_count([])
        cases = {
            "one character changed": (f"{message_id}-{signature[:-1]}{flipped}", 403),
            "another message's id": (f"{other.id}-{signature}", 403),
            "an unknown id": (f"{other.id + 1000}-{signature}", 403),
            "signed, but an SMS": (sms._get_unsubscribe_token(sms.id), 403),
            "garbage": ("garbage", 400),
            "no signature": (message_id, 400),
            "an uppercase signature": (f"{message_id}-{signature.upper()}", 400),
            "too long": (f"{message_id}-{signature * 3}", 400),
        }
        for case, (bad_token, status) in cases.items():
            with self.subTest(case), self.assertLogs(CONTROLLER_LOGGER, logging.INFO) as logs:
                response = self._post(f"{base}/{bad_token}")
                self.assertEqual(response.status_code, status)
                self.assertEqual(len(logs.output), 1)
                self.assertTrue(logs.output[0].startswith("INFO:"), logs.output)
        # An empty token matches no route: Odoo's own 404.
        self.assertEqual(self._post(f"{base}/").status_code, 404)
        with self.assertLogs(CONTROLLER_LOGGER, logging.INFO) as logs:
            not_one_click = self._post(url, data={"List-Unsubscribe": "yes"})
            too_large = self._post(url, data={"List-Unsubscribe": "One-Click", "x": "a" * 8192})
        self.assertEqual((not_one_click.status_code, too_large.status_code), (400, 413))
        self.assertEqual(len(logs.output), 2)
        self.assertEqual(blacklist.search_count([]), entries)
        self.assertFalse(job.outbound_message_ids.filtered("unsubscribed_at"))
        self.assertFalse(self._notes(self.accounts))
        # The genuine link still works after all that.
        self.assertEqual(self._post(url).status_code, 200)
        self.assertTrue(self._blacklisted())
