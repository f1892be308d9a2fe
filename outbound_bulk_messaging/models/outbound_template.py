from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..engine import render, sms
from ..engine.errors import TemplateError

BODY_TYPES = [("text", "Text"), ("html", "HTML")]


class OutboundTemplate(models.Model):
    """The manual's "OutBound Message Templates": fixed text mixed with account data.

    Email uses a subject and a text or HTML body; only text templates can be sent as SMS. The
    body is compiled by the engine in a Jinja2 sandbox when the template is saved, so a typo or a
    forbidden construct is refused then, not after thousands of messages went out.
    """

    _name = "outbound.template"
    _description = "Outbound Message Template"
    _order = "campaign_id, name, id"
    _check_company_auto = True

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    campaign_id = fields.Many2one(
        "outbound.campaign",
        index=True,
        ondelete="cascade",
        check_company=True,
        help="Empty: the template is shared by every campaign of the company.",
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        compute="_compute_company_id",
        store=True,
        readonly=False,
        precompute=True,
    )
    body_type = fields.Selection(
        BODY_TYPES,
        default="text",
        required=True,
        help="Only text templates can be sent as SMS. HTML emails also get a plain-text part.",
    )
    subject = fields.Char(help="Email subject; placeholders allowed. Not used for SMS.")
    body = fields.Text(required=True, default="Dear $ACCOUNT_NAME,\n\n")
    # The HTML editor's view of ``body`` (an HTML template's source is ``body`` itself):
    # sanitised as Odoo's mail templates are, which keeps styles, tables and comments.
    body_html = fields.Html(
        string="HTML Body",
        compute="_compute_body_html",
        inverse="_inverse_body_html",
        sanitize="email_outgoing",
    )
    html_source_only = fields.Boolean(
        compute="_compute_html_source_only",
        help="The HTML has Jinja2 blocks ({% … %}), which the HTML editor would move about "
        "(inside a table, say): it is edited as source.",
    )
    use_for_email = fields.Boolean(
        string="Usable for Email",
        default=True,
        help="Unticked: an SMS-only template, without a subject, not offered for email.",
    )
    use_for_sms = fields.Boolean(
        string="Usable for SMS",
        compute="_compute_use_for_sms",
        store=True,
        readonly=False,
        precompute=True,
        help="Checked when saved: every character must be sendable by SMS and the fixed text "
        "must fit the maximum number of segments.",
    )
    sms_max_segments = fields.Integer(
        string="Max SMS Segments",
        default=3,
        help="An SMS longer than this once rendered is not sent (it fails with the reason).",
    )
    placeholder_help = fields.Html(compute="_compute_placeholder_help")
    placeholder_names = fields.Json(
        compute="_compute_placeholder_help",
        help="The placeholders the HTML editor offers in its menu (type / in the body).",
    )
    preview_account_id = fields.Many2one(
        "outbound.account",
        compute="_compute_preview_account_id",
        store=True,
        readonly=False,
        help="The account shown in the preview (default: the first account with an address).",
    )
    preview_subject = fields.Char(compute="_compute_preview")
    preview_body = fields.Html(compute="_compute_preview", sanitize=True)
    preview_text = fields.Text(compute="_compute_preview", string="Preview (text part)")
    preview_sms_info = fields.Char(compute="_compute_preview", string="SMS Encoding")
    preview_error = fields.Char(compute="_compute_preview")

    @api.depends("campaign_id")
    def _compute_company_id(self):
        for template in self:
            template.company_id = (
                template.campaign_id.company_id or template.company_id or self.env.company
            )

    @api.depends("body_type")
    def _compute_use_for_sms(self):
        for template in self:
            template.use_for_sms = template.body_type == "text"

    @api.depends("campaign_id", "company_id")
    def _compute_placeholder_help(self):
        for template in self:
            columns = template._get_known_columns()
            names = [
                *render.STANDARD_PLACEHOLDERS,
                *(f"ACCOUNT_{render.column_key(c)}" for c in columns),
            ]
            template.placeholder_help = Markup(" ").join(
                Markup("<code>$%s</code>") % name for name in names
            )
            template.placeholder_names = [f"${name}" for name in names]

    @api.depends("body")
    def _compute_body_html(self):
        for template in self:
            template.body_html = template.body

    def _inverse_body_html(self):
        for template in self:
            if template.body_type == "html" and not template.html_source_only:
                template.body = template.body_html or ""

    @api.depends("body", "body_type")
    def _compute_html_source_only(self):
        for template in self:
            template.html_source_only = template.body_type == "html" and "{%" in (
                template.body or ""
            )

    @api.onchange("body_html")
    def _onchange_body_html(self):
        # The preview follows what is typed in the editor, before the inverse runs at save.
        self._inverse_body_html()

    @api.depends("campaign_id", "use_for_sms")
    def _compute_preview_account_id(self):
        for template in self:
            account = template.preview_account_id
            if not account or (
                template.campaign_id and account.campaign_id != template.campaign_id
            ):
                template.preview_account_id = template._preview_domain_accounts()[:1]

    @api.depends(
        "preview_account_id", "subject", "body", "body_type", "sms_max_segments", "use_for_sms"
    )
    def _compute_preview(self):
        for template in self:
            values = {"preview_subject": False, "preview_body": False, "preview_text": False}
            values.update(preview_sms_info=False, preview_error=False)
            if template.preview_account_id and template.body:
                try:
                    preview = template._get_preview(template.preview_account_id)
                except TemplateError as error:
                    values["preview_error"] = str(error)
                else:
                    values.update({f"preview_{key}": value for key, value in preview.items()})
            template.update(values)

    @api.constrains(
        "body",
        "subject",
        "body_type",
        "use_for_sms",
        "use_for_email",
        "sms_max_segments",
        "campaign_id",
    )
    def _check_template(self):
        for template in self:
            try:
                template._validate()
            except TemplateError as error:
                raise ValidationError(
                    self.env._("Template %(name)s: %(error)s", name=template.name, error=error)
                ) from error

    # ---- ACTIONS

    def action_preview_next(self):
        """Show the next account of the campaign in the preview."""
        self.ensure_one()
        accounts = self._preview_domain_accounts(limit=None)
        if accounts:
            index = (
                accounts.ids.index(self.preview_account_id.id)
                if self.preview_account_id in accounts
                else -1
            )
            self.preview_account_id = accounts[(index + 1) % len(accounts)]

    # ---- RENDERING

    def _compile(self, columns=None):
        """Compile subject and body once; the result renders any number of accounts.

        :param columns: the imported columns the accounts have (default: every column of the
            template's campaign, or of the company's lists for a shared template)
        """
        self.ensure_one()
        columns = self._get_known_columns() if columns is None else columns
        return self._compile_text(self._get_frozen_values(), columns)

    @api.model
    def _compile_text(self, text, columns=None):
        """Compile ``text`` (``subject``, ``body``, ``body_type``: a template's or the copy a
        send job froze); ``columns`` as in :func:`~..engine.render.compile_template`."""
        html = text["body_type"] == "html"
        return {
            "subject": render.compile_template(
                text["subject"] or "", columns=columns, field="subject"
            ),
            "body": render.compile_template(text["body"], html=html, columns=columns, field="body"),
            "html": html,
        }

    def _get_frozen_values(self):
        """What a send job copies when it is created, and sends whatever becomes of the
        template: its text, its type and its SMS limit."""
        self.ensure_one()
        return {
            "subject": self.subject,
            "body": self.body,
            "body_type": self.body_type,
            "sms_max_segments": self.sms_max_segments,
        }

    def _render(self, account, compiled=None):
        """Render this template for ``account`` (a record): subject, body and its text part."""
        self.ensure_one()
        compiled = compiled or self._compile()
        context = account._get_render_context()
        return self._render_context(compiled, context)

    @api.model
    def _render_context(self, compiled, context):
        body = compiled["body"].render(context)
        return {
            "subject": render.render_subject(compiled["subject"], context),
            "body": body,
            "body_text": render.html_to_text(body) if compiled["html"] else body,
            "html": compiled["html"],
        }

    def _validate(self):
        self.ensure_one()
        if self.subject:
            render.check_header_text(self.subject)
        if self.use_for_sms and self.body_type != "text":
            raise TemplateError(self.env._("only text templates can be sent as SMS"))
        if not self.use_for_email and not self.use_for_sms:
            raise TemplateError(self.env._("it must be usable for email, for SMS or both"))
        compiled = self._compile()
        # Rendered once with every value empty: what only shows at render time (a forbidden
        # attribute, a missing column) is refused now, and an SMS's fixed text must fit.
        rendered = self._render_context(compiled, self._empty_context())
        if self.use_for_sms:
            sms.check(rendered["body"], self.sms_max_segments or None)

    def _empty_context(self):
        account = {"reference": "", "name": "", "email": "", "sms_number": "", "status": ""}
        account["data"] = dict.fromkeys(self._get_known_columns(), "")
        return render.make_context(account, list_name="", campaign_name=self.campaign_id.name or "")

    def _get_preview(self, account):
        """What the preview shows for ``account``: subject, body as HTML, text part, SMS info."""
        self.ensure_one()
        rendered = self._render(account)
        preview = self._format_preview(rendered)
        body = rendered["body"]
        if self.use_for_sms:
            info = sms.analyse(body)
            preview["sms_info"] = self.env._(
                "%(encoding)s, %(chars)s characters, %(segments)s segment(s), "
                "%(remaining)s characters left in the last one",
                encoding=info.encoding,
                chars=len(body),
                segments=info.segments,
                remaining=info.remaining,
            )
        return preview

    @api.model
    def _format_preview(self, rendered):
        """A rendered message as the previews show it: the body as HTML (a text one in <pre>)."""
        body = rendered["body"]
        return {
            "subject": rendered["subject"],
            "body": Markup(body) if rendered["html"] else Markup("<pre>%s</pre>") % body,
            "text": rendered["body_text"],
            "sms_info": False,
        }

    # ---- HELPERS

    def _get_known_columns(self):
        """Imported column names the template may use as $ACCOUNT_<COLUMN>."""
        self.ensure_one()
        if self.campaign_id:
            lists = self.campaign_id.with_context(active_test=False).list_ids
        else:
            lists = self.env["outbound.list"].search([("company_id", "=", self.company_id.id)])
        return sorted(
            {column for columns in lists.mapped("data_columns") for column in columns or []}
        )

    def _preview_domain_accounts(self, limit=1):
        domain = [("company_id", "=", self.company_id.id)]
        if self.campaign_id:
            domain = [("list_id.campaign_id", "=", self.campaign_id.id)]
        address = "sms_number_e164" if self.use_for_sms else "email"
        return self.env["outbound.account"].search(
            domain + [(address, "!=", False)], limit=limit, order="id"
        )
