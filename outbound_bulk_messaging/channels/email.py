"""Email: the account's normalised address, ``mail.blacklist``, the campaign's mail server."""

import logging

from odoo.tools import SQL

from ..engine import dispatch
from ..engine.errors import MESSAGE
from ..engine.smtp import classify_connect_error, classify_smtp_error
from .base import Channel, Transport

_logger = logging.getLogger(__name__)


class EmailTransport(Transport):
    """Email through the job's ``ir.mail_server``, one SMTP session while it stays usable.

    A session that failed (dropped, timed out) is closed and the next message opens a new one,
    so that one failure with an unknown outcome does not fail the messages after it.
    """

    def __init__(self, job, compiled, limiters):
        super().__init__(job, compiled, limiters)
        self.mail_server = job.env["ir.mail_server"].sudo()
        self.smtp = None
        self._connect()

    def _connect(self):
        try:
            self.smtp = self.mail_server.connect(mail_server_id=self.job.mail_server_id.id)
        except Exception as error:
            raise classify_connect_error(error) from error

    def send(self, payload):
        rendered = self.job.env["outbound.template"]._render_context(
            self.compiled, self.context(payload)
        )
        message = self._build(payload, rendered)
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

    def _build(self, payload, rendered):
        html = rendered["html"]
        return self.mail_server.build_email(
            email_from=self.job.email_from,
            email_to=[payload["address"]],
            subject=rendered["subject"],
            body=rendered["body"],
            body_alternative=rendered["body_text"] if html else None,
            subtype="html" if html else "plain",
            headers={"X-Outbound-Message": str(payload["id"])},
        )

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
            (not template or template.subject, env._("the template has no subject")),
            (campaign.mail_server_id, env._("the campaign has no mail server")),
            (campaign.email_from, env._("the campaign has no sender address")),
        ]
        return [blocker for ok, blocker in checks if not ok]

    def max_errors(self, job):
        return job.campaign_id.email_max_errors
