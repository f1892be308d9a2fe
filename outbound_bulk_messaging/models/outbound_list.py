from odoo import api, fields, models
from odoo.exceptions import ValidationError

LIST_STATES = [
    ("active", "Active"),
    ("passive", "Passive"),
    ("finishing", "Finishing"),
    ("exhausted", "Exhausted"),
    ("inactive", "Inactive"),
]


class OutboundList(models.Model):
    _name = "outbound.list"
    _description = "Outbound List"
    _inherit = ["mail.thread"]
    _order = "campaign_id, name, id"

    name = fields.Char(required=True, tracking=True)
    campaign_id = fields.Many2one(
        "outbound.campaign",
        index=True,
        tracking=True,
        ondelete="restrict",
        help="Only lists assigned to a campaign can be sent to.",
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
    state = fields.Selection(
        LIST_STATES,
        default="passive",
        required=True,
        tracking=True,
        help="The dialler's list state. 'Active lists only' in the send wizard means Active.",
    )
    account_ids = fields.One2many("outbound.account", "list_id", string="Accounts")
    account_count = fields.Integer(compute="_compute_account_count")
    data_columns = fields.Json(
        readonly=True, help="Names of the extra columns imported into this list's accounts."
    )

    @api.depends("campaign_id")
    def _compute_company_id(self):
        for outbound_list in self:
            outbound_list.company_id = (
                outbound_list.campaign_id.company_id or outbound_list.company_id or self.env.company
            )

    def _compute_account_count(self):
        # A list's accounts are readable with the list (same company rule): their running count
        # is the count, without reading a million rows for a form.
        counts = self.env["outbound.tally"]._count_accounts_by_list(self.ids)
        for outbound_list in self:
            outbound_list.account_count = counts.get(outbound_list.id, 0)

    @api.constrains("campaign_id", "company_id")
    def _check_campaign_company(self):
        for outbound_list in self.filtered("campaign_id"):
            if outbound_list.campaign_id.company_id != outbound_list.company_id:
                raise ValidationError(
                    self.env._(
                        "List %(list)s belongs to %(company)s but campaign %(campaign)s to "
                        "%(campaign_company)s.",
                        list=outbound_list.name,
                        company=outbound_list.company_id.name,
                        campaign=outbound_list.campaign_id.name,
                        campaign_company=outbound_list.campaign_id.company_id.name,
                    )
                )

    # ---- ACTIONS

    def action_view_accounts(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "outbound_bulk_messaging.outbound_account_action"
        )
        action["domain"] = [("list_id", "=", self.id)]
        action["context"] = {"default_list_id": self.id}
        return action

    def action_import_accounts(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Import Accounts"),
            "res_model": "outbound.account.import",
            "view_mode": "form",
            "target": "new",
            "context": {"default_list_id": self.id},
        }

    # ---- BUSINESS

    def _add_data_columns(self, columns):
        self.ensure_one()
        known = set(self.data_columns or [])
        if not set(columns) <= known:
            self.sudo().data_columns = sorted(known | set(columns))

    def action_open_send_wizard(self):
        self.ensure_one()
        return self.env["outbound.send.wizard"]._get_open_action(self)
