import email.policy
import logging
import re
import shutil
import subprocess

from odoo.tests import tagged

from .common import SendingCase

_logger = logging.getLogger(__name__)

SUBJECT = "Your home insurance renewal"
BODY = """<p>Dear customer,</p>
<p>Your home insurance policy comes up for renewal on 15 January. Your new premium and the
terms of the renewal are in your customer area; nothing changes in your cover.</p>
<p>If you have questions, our advisers answer on 0800 123 456 from Monday to Friday,
9:00 to 17:00.</p>
<p>Kind regards,<br/>The Acme renewals team</p>"""
# SpamAssassin's own test string: any working install scores it far above the threshold.
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# The received message as it came: header lines as sent, not refolded.
AS_RECEIVED = email.policy.default.clone(refold_source="none")
SCORE = re.compile(r"^X-Spam-Status: \w+, score=(-?[\d.]+) ", re.M)
# The report's table: " pts rule name  description", a dashed line, then one line per rule.
RULE = re.compile(r"^\s*(-?\d+\.\d+)\s+([A-Z][A-Z0-9_]+)\s", re.M)


@tagged("post_install", "-at_install", "-standard", "outbound_deliverability")
class TestDeliverability(SendingCase):
    """Our email of a template scores no worse with SpamAssassin than mass_mailing's email of the
    same subject and body, both received by the same loopback SMTP server.

    Runs only where mass_mailing is installed (``tools/odoo_tests.py --scenario
    deliverability``); SpamAssassin runs offline (``--local``, Debian's shipped rules, no Bayes,
    so the result does not depend on earlier runs).
    """

    def _spamassassin(self, raw):
        """(score, "RULE points, ...") of a raw message."""
        command = shutil.which("spamassassin")
        self.assertTrue(
            command, "spamassassin is not installed: run make setup (apt-get install spamassassin)"
        )
        result = subprocess.run(
            [
                command,
                "--local",
                "--test-mode",
                "--cf=use_bayes 0",
                "--cf=bayes_auto_learn 0",
                "--cf=use_auto_whitelist 0",
            ],
            input=raw,
            capture_output=True,
            timeout=120,
            check=True,
        )
        output = result.stdout.decode(errors="replace")
        match = SCORE.search(output)
        self.assertTrue(match, output[:2000])
        table = output[output.index("---- ----") :]
        rules = ", ".join(f"{name} {points}" for points, name in RULE.findall(table))
        return float(match[1]), rules

    def _mass_mailing(self, address):
        contacts = self.env["mailing.list"].create(
            {"name": "Renewals", "contact_ids": [(0, 0, {"name": "A 0", "email": address})]}
        )
        mailing = self.env["mailing.mailing"].create(
            {
                "subject": SUBJECT,
                "body_html": BODY,
                "mailing_model_id": self.env["ir.model"]._get_id("mailing.list"),
                "contact_list_ids": [(6, 0, contacts.ids)],
                "email_from": self.campaign.email_from,
                "mail_server_id": self.campaign.mail_server_id.id,
            }
        )
        mailing.action_send_mail()  # sends at once (force_send) ...
        self.env["mail.mail"].process_email_queue()  # ... or leaves it to the mail queue
        self.assertEqual(mailing.mailing_trace_ids.mapped("trace_status"), ["sent"])

    def test_our_email_scores_no_worse_than_mass_mailing(self):
        self.assertIn("mailing.mailing", self.env, "mass_mailing must be installed")
        gtube, _tests = self._spamassassin(f"Subject: test\n\n{GTUBE}\n".encode())
        self.assertGreater(gtube, 100, "SpamAssassin does not score: is it installed with rules?")
        address = "person00@example.com"
        self._create_accounts(self.list_active, 1, email="person{:02d}@example.com")
        self.template.write({"subject": SUBJECT, "body_type": "html", "body": BODY})
        with self.smtp_sink() as sink:
            job = self._send("email")
            self._dispatch()
            self.assertEqual(self._states(job), {"sent": 1})
            self._mass_mailing(address)
            ours, theirs = sink.wait_for(2)
        self.assertIn("List-Unsubscribe", theirs)  # it is mass_mailing's email
        self.assertEqual(ours["X-Outbound-Message"], str(job.outbound_message_ids.id))
        ours_score, ours_tests = self._spamassassin(ours.as_bytes(policy=AS_RECEIVED))
        theirs_score, theirs_tests = self._spamassassin(theirs.as_bytes(policy=AS_RECEIVED))
        _logger.info(
            "SpamAssassin scores: outbound_bulk_messaging %.1f (%s), mass_mailing %.1f (%s)",
            ours_score,
            ours_tests,
            theirs_score,
            theirs_tests,
        )
        detail = f"ours: {ours_tests}; mass_mailing: {theirs_tests}"
        self.assertLessEqual(ours_score, theirs_score, detail)
