"""Email: the account's normalised address, ``mail.blacklist``, the campaign's mail server."""

import email.policy
import logging

from odoo.tools import SQL, email_domain_extract

from odoo.addons.base.models.ir_mail_server import IdentificationFieldsNoFoldPolicy, IrMailServer

from ..engine import dispatch, email_body, unsubscribe
from ..engine.addresses import normalise_email
from ..engine.email_batch import MessageFactory, SharedFoldPolicy
from ..engine.errors import MESSAGE
from ..engine.smtp import classify_connect_error, classify_smtp_error
from .base import Channel, Transport

_logger = logging.getLogger(__name__)
# Subject prefix of a test send: the tester's mailbox must not mistake it for a real one.
TEST_PREFIX = "[TEST] "

_NO_FOLD = email.policy.SMTP.clone(max_line_length=None)
_UNFOLDED_HEADERS = {"list-unsubscribe", "list-unsubscribe-post"}


class _ListHeadersPolicy(IdentificationFieldsNoFoldPolicy):
    """Odoo's SMTP policy, keeping List-Unsubscribe on one line: folded, its URLs (longer than a
    line) would be RFC 2047-encoded, and mail clients read no encoded words in that header."""

    def _fold(self, name, value, *args, **kwargs):
        if name.lower() in _UNFOLDED_HEADERS:
            return _NO_FOLD._fold(name, value, *args, **kwargs)
        return super()._fold(name, value, *args, **kwargs)


class _BatchPolicy(SharedFoldPolicy, _ListHeadersPolicy):
    """The same, folding the headers the messages of a batch share only once."""


LIST_HEADERS_POLICY = _BatchPolicy(linesep=email.policy.SMTP.linesep)


class EmailTransport(Transport):
    """Email through the job's ``ir.mail_server``, one SMTP session while it stays usable.

    A session that failed (dropped, timed out) is closed and the next message opens a new one,
    so that one failure with an unknown outcome does not fail the messages after it.
    """

    def __init__(self, job, compiled, limiters):
        super().__init__(job, compiled, limiters)
        # The envelope sender (Return-Path), where bounces go: Odoo defaults it to the bounce
        # address of env.company, the cron user's; it must be the job's company's, as mail.mail
        # does with its record's alias domain.
        self.mail_server = (
            job.env["ir.mail_server"]
            .sudo()
            .with_context(domain_bounce_address=job.company_id.bounce_email or None)
        )
        self.messages = job.env["outbound.message"]
        campaign = job.campaign_id
        self.unsubscribe = campaign.email_unsubscribe
        self.sign = self.messages._get_unsubscribe_signer() if self.unsubscribe else None
        self.base_url = job.get_base_url()
        # Templates that place $UNSUBSCRIBE_URL themselves get no footer.
        self.footer = self.unsubscribe and "UNSUBSCRIBE_URL" not in compiled["body"].variables
        alias_domain = campaign.company_id.alias_domain_id
        # The mailto: form goes to the catchall, where mail_thread.message_route reads it.
        self.mailto_address = alias_domain.catchall_email
        self.footer_text = job.env._("To stop receiving these emails, unsubscribe")
        self.lang = (job.env.lang or "en_US").replace("_", "-")
        domain = email_domain_extract(job.email_from or "") or alias_domain.name
        self.headers = {
            "List-Id": unsubscribe.list_id(campaign.name, f"campaign-{campaign.id}", domain),
            # RFC 3834: no out-of-office or other automatic answer to bulk mail.
            "Precedence": "bulk",
            "X-Auto-Response-Suppress": "OOF",
        }
        # Message shape -> the factory of its prototype (None: always build_email). Only when no
        # addon overrides build_email: an override may make each message its own way (e.g.
        # redirect every recipient on a staging server), which a prototype would not repeat.
        self.factories = {}
        self.reuse_prototypes = type(self.mail_server).build_email is IrMailServer.build_email
        self.smtp = None
        self._connect()

    def _connect(self):
        try:
            self.smtp = self.mail_server.connect(mail_server_id=self.job.mail_server_id.id)
        except Exception as error:
            raise classify_connect_error(error) from error

    def send(self, payload):
        message = self._message(payload)
        if self.smtp is None:
            self._connect()
        try:
            message_id = self.mail_server.send_email(message, smtp_session=self.smtp)
        except Exception as error:
            classified = classify_smtp_error(error, recipient=payload["address"])
            if classified.scope != MESSAGE:
                self._drop_session()
            raise classified from error
        return dispatch.Accepted(provider_id=message_id)

    def _message(self, payload):
        """The email of ``payload``, as ``ir.mail_server.build_email`` makes it."""
        url = self._unsubscribe_url(payload["id"])
        context = dict(self.context(payload), UNSUBSCRIBE_URL=url)
        rendered = self.job.env["outbound.template"]._render_context(self.compiled, context)
        return self._build(payload, rendered, url)

    def _build(self, payload, rendered, url):
        html = rendered["html"]
        body, body_text = rendered["body"], rendered["body_text"]
        if self.footer:
            body, body_text = self._add_footer(body, body_text, html, url)
        if html:
            body = email_body.html_document(body, rendered["subject"], self.lang)
        subject, headers = rendered["subject"], self._headers(payload["id"], url)
        if payload.get("test"):
            subject = f"{TEST_PREFIX}{subject}"
            headers["X-Outbound-Test"] = "1"
        return self._make_message(
            {
                "email_from": self.job.email_from,
                "email_to": [payload["address"]],
                "subject": subject,
                "body": body,
                "body_alternative": body_text if html else None,
                "subtype": "html" if html else "plain",
                "headers": headers,
            }
        )

    def _make_message(self, arguments):
        """``build_email(**arguments)``, or the same made from the prototype of its shape: the
        first message of each shape is built by ``build_email`` and becomes the prototype."""
        shape = MessageFactory.shape_of(arguments)
        factory = self.factories.get(shape)
        if factory:
            return factory.make(arguments)
        message = self.mail_server.build_email(**arguments)
        message.policy = LIST_HEADERS_POLICY  # smtplib serialises with the message's policy
        if self.reuse_prototypes and shape not in self.factories:
            self.factories[shape] = MessageFactory.from_prototype(message, arguments)
        return message

    # ---- UNSUBSCRIBE

    def _unsubscribe_url(self, message_id):
        """The message's one-click link; empty when the campaign does not offer one.

        A test send has no message: its link shows where the real one goes, and unsubscribes
        nobody (the route refuses it as malformed).
        """
        if not self.unsubscribe:
            return ""
        if not isinstance(message_id, int):
            return f"{self.base_url}/outbound/unsubscribe/{message_id}"
        return self.messages._get_unsubscribe_url(message_id, self.base_url, self.sign)

    def _headers(self, message_id, url):
        headers = dict(self.headers, **{"X-Outbound-Message": str(message_id)})
        if url:
            mailto = None
            if self.mailto_address:
                token = url.rsplit("/", 1)[1]
                mailto = unsubscribe.mailto_uri(self.mailto_address, token)
            headers["List-Unsubscribe"] = unsubscribe.list_unsubscribe(url, mailto)
            headers["List-Unsubscribe-Post"] = unsubscribe.ONE_CLICK_BODY
        return headers

    def _add_footer(self, body, body_text, html, url):
        """The link for templates without $UNSUBSCRIBE_URL, at the end of both parts."""
        text = self.footer_text
        body_text = f"{body_text}\n\n{text}: {url}"
        if html:
            return email_body.append_html(body, email_body.footer_html(text, url)), body_text
        return body_text, body_text

    def _drop_session(self):
        smtp, self.smtp = self.smtp, None
        if smtp:
            try:
                smtp.close()
            except Exception:
                _logger.debug("SMTP session already closed", exc_info=True)

    def close(self):
        if self.smtp:
            try:
                self.smtp.quit()
            except Exception:
                _logger.debug("SMTP session already closed", exc_info=True)


class EmailChannel(Channel):
    code = "email"
    label = "Email"
    address_column = "email"
    time_zone_column = "time_zone"
    blacklist_model = "mail.blacklist"
    blacklist_column = "email"
    template_field = "template_id"
    campaign_fields = {"email_from": "email_from", "mail_server_id": "mail_server_id"}
    transport = EmailTransport

    def test_address(self, wizard, raw):
        return normalise_email(raw) if "@" in raw else None

    def invalid_sql(self, alias):
        return SQL("%s IS NOT NULL", SQL.identifier(alias, "email_error"))

    def invalid_detail_sql(self, alias):
        return SQL.identifier(alias, "email_error")

    def no_address_reason(self, env):
        return env._("no email address")

    def invalid_reason(self, env):
        return env._("invalid email address: %(error)s")

    def blockers(self, wizard):
        env, campaign, template = wizard.env, wizard.campaign_id, wizard.template_id
        checks = [
            (wizard.count_with_email, env._("no account in scope has an email address")),
            (template, env._("choose a template")),
            (
                not template or template.use_for_email,
                env._("template %s is for SMS only", template.name),
            ),
            (not template or template.subject, env._("the template has no subject")),
            (campaign.mail_server_id, env._("the campaign has no mail server")),
            (campaign.email_from, env._("the campaign has no sender address")),
        ]
        return [blocker for ok, blocker in checks if not ok]

    def max_errors(self, job):
        return job.campaign_id.email_max_errors
