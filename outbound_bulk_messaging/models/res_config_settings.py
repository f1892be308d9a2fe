from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    outbound_cap_count = fields.Integer(related="company_id.outbound_cap_count", readonly=False)
    outbound_cap_period = fields.Selection(related="company_id.outbound_cap_period", readonly=False)
