from odoo import api, fields, models


class OutboundSmsPrice(models.Model):
    """What one SMS segment costs through a gateway to one country, in the company's currency.

    Typed by hand on the gateway, imported from a CSV file (the list's standard import), or
    fetched from the provider's pricing API (*Fetch Prices* on a Vonage gateway). The send
    screen multiplies each account's segments by the price of its number's country.
    """

    _name = "outbound.sms.price"
    _description = "Outbound SMS Price"
    _order = "gateway_id, country_id"
    _rec_name = "country_id"

    gateway_id = fields.Many2one(
        "outbound.sms.gateway", string="SMS Gateway", required=True, ondelete="cascade"
    )
    country_id = fields.Many2one("res.country", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="gateway_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="gateway_id.company_id.currency_id")
    price = fields.Float(
        string="Price per Segment",
        digits=(16, 5),
        required=True,
        help="Price of one SMS segment (a text of 160 GSM-7 or 70 UCS-2 characters, or one "
        "part of a longer text) to this country, in the company's currency.",
    )

    _sql_constraints = [
        (
            "gateway_country_unique",
            "unique(gateway_id, country_id)",
            "A gateway has one price per country.",
        ),
        ("price_positive", "CHECK(price >= 0)", "A price cannot be negative."),
    ]

    @api.model
    def _get_prices(self, gateway):
        """{ISO country code: price per segment} of ``gateway`` (none without one), in SQL."""
        if not gateway:
            return {}
        self.flush_model()
        self.env.cr.execute(
            """
            SELECT c.code, p.price FROM outbound_sms_price p
              JOIN res_country c ON c.id = p.country_id
             WHERE p.gateway_id = %s
            """,
            [gateway.id],
        )
        return dict(self.env.cr.fetchall())
