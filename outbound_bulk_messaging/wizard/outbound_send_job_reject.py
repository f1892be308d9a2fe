from odoo import fields, models


class OutboundSendJobReject(models.TransientModel):
    """Asks why a send job waiting for approval is rejected; the reason goes on its chatter."""

    _name = "outbound.send.job.reject"
    _description = "Reject Outbound Send Job"

    job_ids = fields.Many2many("outbound.send.job", string="Send Jobs", required=True)
    reason = fields.Text(required=True, help="Shown to the sender on the job and its chatter.")

    def action_reject(self):
        self.ensure_one()
        self.job_ids.action_reject(self.reason)
        return {"type": "ir.actions.act_window_close"}
