from odoo import api, fields, models

from .outbound_dispatcher import DISPATCHERS_PARAM, MAX_DISPATCHERS


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    outbound_cap_count = fields.Integer(related="company_id.outbound_cap_count", readonly=False)
    outbound_cap_period = fields.Selection(related="company_id.outbound_cap_period", readonly=False)
    outbound_dispatchers = fields.Integer(
        string="Dispatchers",
        default=1,
        config_parameter=DISPATCHERS_PARAM,
        help="Scheduled actions that send at the same time, for all companies: saving keeps "
        "that many copies of 'Outbound: send due batches' active. Odoo runs each one in one "
        "cron worker of one server at a time, so a dispatcher is one cron worker busy while "
        "it sends: keep this at most the cron workers of all the Odoo servers on this "
        "database together (their --max-cron-threads added up), less those the other "
        "scheduled actions need: the extra ones would only wait for a free worker. From 1 to "
        f"{MAX_DISPATCHERS}. Several dispatchers share one email job; an SMS gateway sends "
        "from one dispatcher at a time.",
    )

    @api.constrains("outbound_dispatchers")
    def _check_outbound_dispatchers(self):
        for settings in self:
            self.env["outbound.dispatcher"]._check_dispatcher_count(settings.outbound_dispatchers)

    def set_values(self):
        result = super().set_values()
        self.env["outbound.dispatcher"]._sync_dispatch_crons(self.outbound_dispatchers)
        return result
