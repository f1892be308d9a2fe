from odoo import fields, models

CAP_PERIODS = [("day", "Day"), ("week", "Week"), ("month", "Month")]


class ResCompany(models.Model):
    _inherit = "res.company"

    outbound_cap_count = fields.Integer(
        string="Outbound Frequency Cap",
        default=0,
        help="Messages one address may receive on one channel (email or SMS) per period, from "
        "all the company's campaigns together; a send skips an address that has them. "
        "0: no cap.",
    )
    outbound_cap_period = fields.Selection(
        CAP_PERIODS,
        default="week",
        required=True,
        help="Calendar period of the cap, in UTC: a day from midnight, a week from Monday, a "
        "month from the 1st.",
    )

    _sql_constraints = [
        (
            "outbound_cap_count_positive",
            "CHECK(outbound_cap_count >= 0)",
            "The outbound frequency cap must be 0 (no cap) or more.",
        ),
    ]
