from odoo import models


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    def _build_bus_channel_list(self, channels):
        """Also the send jobs' progress channels of the companies the user may read jobs in."""
        channels = super()._build_bus_channel_list(channels)
        channels.extend(self.env["outbound.send.job"]._get_progress_bus_channels())
        return channels
