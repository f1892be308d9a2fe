from odoo import fields, models

from .outbound_account import ACCOUNT_STATUSES


class OutboundAccountStatus(models.Model):
    """One record per value of ``outbound.account.status``.

    The account keeps a plain selection (fast to filter in SQL on 100 000 rows); this model only
    exists so that the send wizard and jobs can hold a *set* of statuses as checkboxes.
    """

    _name = "outbound.account.status"
    _description = "Outbound Account Status"
    _order = "sequence, id"
    _rec_name = "name"

    code = fields.Selection(ACCOUNT_STATUSES, required=True, readonly=True)
    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)

    _sql_constraints = [
        ("code_unique", "unique(code)", "There is already a status with this code."),
    ]
