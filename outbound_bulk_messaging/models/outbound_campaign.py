from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ..engine.addresses import normalise_email
from ..engine.statuses import ACCOUNT_STATUSES

ADMIN_GROUP = "outbound_bulk_messaging.group_outbound_admin"


class OutboundCampaign(models.Model):
    _name = "outbound.campaign"
    _description = "Outbound Campaign"
    _inherit = ["mail.thread"]
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    description = fields.Text()
    list_ids = fields.One2many("outbound.list", "campaign_id", string="Lists")
    list_count = fields.Integer(compute="_compute_counts")
    account_count = fields.Integer(compute="_compute_counts")
    email_from = fields.Char(
        string="Send Emails From",
        tracking=True,
        help="Sender of this campaign's emails, e.g. 'Acme Collections <collect@acme.example>'.",
    )
    mail_server_id = fields.Many2one(
        "ir.mail_server",
        tracking=True,
        help="Outgoing mail server used for this campaign's emails.",
    )

    email_max_errors = fields.Integer(
        string="Pause Email After",
        default=3,
        help="Emails in a row whose outcome is unknown (timeout, dropped connection) after which "
        "a job pauses. Each one fails its message as 'outcome unknown'; an email accepted in "
        "between starts the count again.",
    )

    email_unsubscribe = fields.Boolean(
        string="One-Click Unsubscribe",
        default=True,
        tracking=True,
        help="Every email carries List-Unsubscribe headers (RFC 8058 one-click, as Gmail and "
        "Yahoo require of bulk senders) and an unsubscribe link ($UNSUBSCRIBE_URL, or a footer "
        "line when the template has none). Who unsubscribes goes to the email blacklist.",
    )
    reply_status = fields.Selection(
        list(ACCOUNT_STATUSES),
        string="Status After a Reply",
        default="callback",
        tracking=True,
        help="Status given to an account that replies to a text, so that the dialler rings it. "
        "Empty: leave the status as it is.",
    )
    undelivered_status = fields.Selection(
        list(ACCOUNT_STATUSES),
        string="Status When Undelivered",
        tracking=True,
        help="Status given to an account whose text was not delivered or whose email bounced. "
        "Empty: leave the status as it is.",
    )

    require_approval = fields.Boolean(
        tracking=True,
        help="Four-eyes rule: every send job of this campaign waits until a Campaign Manager "
        "other than the one who sent it approves it. Only Outbound Administrators can lift it.",
    )
    send_calendar_id = fields.Many2one(
        "resource.calendar",
        string="Sending Hours",
        tracking=True,
        check_company=True,
        domain="[('company_id', 'in', (company_id, False))]",
        help="When a message may reach a person, read in that person's own time zone: the "
        "hours of each weekday, and the calendar's public holidays (on the recipient's own "
        "date). The zone comes from the SMS number, or for emails from the account's imported "
        "time zone, else the calendar's. Messages outside their hours wait in the queue. "
        "Empty: any time.",
    )

    template_ids = fields.One2many("outbound.template", "campaign_id", string="Templates")
    template_count = fields.Integer(compute="_compute_template_count")

    sms_gateway_id = fields.Many2one(
        "outbound.sms.gateway",
        string="SMS Gateway",
        tracking=True,
        check_company=True,
        domain="[('company_id', '=', company_id)]",
        help="Provider account used for this campaign's SMS.",
    )
    sms_sender = fields.Char(
        string="Send Texts From",
        compute="_compute_sms_sender",
        store=True,
        readonly=False,
        tracking=True,
        help="Sender id or number shown on the phone; defaults to the gateway's.",
    )
    job_ids = fields.One2many("outbound.send.job", "campaign_id", string="Send Jobs")
    job_count = fields.Integer(compute="_compute_job_count")
    reply_count = fields.Integer(compute="_compute_reply_count", string="Replies")

    @api.depends("sms_gateway_id")
    def _compute_sms_sender(self):
        for campaign in self:
            if campaign.sms_gateway_id and not campaign.sms_sender:
                campaign.sms_sender = campaign.sms_gateway_id.default_sender

    def _compute_job_count(self):
        counts = self._count_per_campaign("outbound.send.job", "campaign_id")
        for campaign in self:
            campaign.job_count = counts.get(campaign, 0)

    def _compute_reply_count(self):
        counts = self._count_per_campaign("outbound.inbound.sms", "campaign_id")
        for campaign in self:
            campaign.reply_count = counts.get(campaign, 0)

    def _compute_template_count(self):
        counts = self._count_per_campaign("outbound.template", "campaign_id")
        for campaign in self:
            campaign.template_count = counts.get(campaign, 0)

    def _compute_counts(self):
        list_counts = self._count_per_campaign("outbound.list", "campaign_id")
        lists = self.env["outbound.list"].search([("campaign_id", "in", self.ids)])
        by_list = self.env["outbound.tally"]._count_accounts_by_list(lists.ids)
        account_counts = dict.fromkeys(self, 0)
        for outbound_list in lists:
            account_counts[outbound_list.campaign_id] += by_list.get(outbound_list.id, 0)
        for campaign in self:
            campaign.list_count = list_counts.get(campaign, 0)
            campaign.account_count = account_counts[campaign]

    def _count_per_campaign(self, model, campaign_field):
        """{campaign: number of ``model`` records whose ``campaign_field`` is that campaign}."""
        groups = self.env[model]._read_group(
            [(campaign_field, "in", self.ids)], [campaign_field], ["__count"]
        )
        return dict(groups)

    @api.constrains("email_max_errors")
    def _check_email_max_errors(self):
        for campaign in self.filtered(lambda campaign: campaign.email_max_errors < 1):
            raise ValidationError(
                self.env._("Campaign %s: 'Pause Email After' must be at least 1.", campaign.name)
            )

    @api.constrains("email_from")
    def _check_email_from(self):
        for campaign in self.filtered("email_from"):
            error = normalise_email(campaign.email_from)[1]
            if error:
                raise ValidationError(
                    self.env._("Campaign %(name)s: %(error)s", name=campaign.name, error=error)
                )

    @api.constrains("send_calendar_id")
    def _check_send_calendar(self):
        for campaign in self.filtered("send_calendar_id.flexible_hours"):
            raise ValidationError(
                self.env._(
                    "Campaign %(name)s: calendar %(calendar)s has flexible hours, which say how "
                    "long but not when; choose a calendar with hours per weekday.",
                    name=campaign.name,
                    calendar=campaign.send_calendar_id.display_name,
                )
            )

    def write(self, vals):
        self._check_can_lift_approval(vals)
        return super().write(vals)

    def _check_can_lift_approval(self, vals):
        """A manager may not lift the four-eyes rule to send alone; an administrator may."""
        if vals.get("require_approval", True) or self.env.su:
            return
        if self.filtered("require_approval") and not self.env.user.has_group(ADMIN_GROUP):
            raise AccessError(
                self.env._("Only Outbound Administrators can stop requiring approval of sends.")
            )

    # ---- ACTIONS

    def action_view_lists(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "outbound_bulk_messaging.outbound_list_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"default_campaign_id": self.id}
        return action

    def action_view_accounts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "outbound_bulk_messaging.outbound_account_action"
        )
        action["domain"] = [("list_id.campaign_id", "=", self.id)]
        action["context"] = {"search_default_group_by_list": 1}
        return action

    def action_edit_templates(self):
        """The manual's "Edit Templates": this campaign's templates and the shared ones."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "outbound_bulk_messaging.outbound_template_action"
        )
        action["domain"] = [("campaign_id", "in", [self.id, False])]
        action["context"] = {"default_campaign_id": self.id, "search_default_group_by_campaign": 1}
        return action

    def action_view_jobs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "outbound_bulk_messaging.outbound_send_job_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        return action

    def action_view_analysis(self):
        """Messages Analysis (graph, pivot) of this campaign's messages."""
        self.ensure_one()
        return self.env["outbound.message"]._get_analysis_action(
            [("campaign_id", "=", self.id)],
            name=self.env._("Messages Analysis: %s", self.name),
        )

    def action_view_replies(self):
        """The texts that came back for this campaign (replies, STOP, opt-ins)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "outbound_bulk_messaging.outbound_inbound_sms_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        return action

    def action_open_send_wizard(self):
        self.ensure_one()
        return self.env["outbound.send.wizard"]._get_open_action(self)
