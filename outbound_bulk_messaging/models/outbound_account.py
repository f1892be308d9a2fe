from markupsafe import Markup

from odoo import SUPERUSER_ID, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..engine import render, send_hours
from ..engine.addresses import normalise_email, normalise_phone
from ..engine.statuses import ACCOUNT_STATUSES as STATUS_DEFINITIONS, DEFAULT_STATUS
from .statement_reference import StatementReference

# The engine's statuses as the selection of every status field (Odoo needs a list, not a tuple).
ACCOUNT_STATUSES = list(STATUS_DEFINITIONS)
# The list_id foreign key of earlier versions, and the triggers that keep it now: an import
# inserts ten thousand accounts of one list per statement, into a list it holds locked.
LIST_REFERENCE = StatementReference(
    "outbound_account_list",
    "outbound_account",
    "list_id",
    "outbound_list",
    label="list",
    row_label="account",
    moves=True,
)


class OutboundAccount(models.Model):
    """One account of a list. Its chatter tells what came back: replies, opt-outs, bounces,
    undelivered texts and the status changes they caused (imports write in bulk SQL and post
    nothing)."""

    _name = "outbound.account"
    _description = "Outbound Account"
    _inherit = ["mail.thread"]
    _order = "list_id, reference, id"
    _rec_names_search = ["name", "reference", "email", "sms_number"]

    list_id = fields.Many2one("outbound.list", required=True, ondelete="cascade")
    campaign_id = fields.Many2one(related="list_id.campaign_id")
    company_id = fields.Many2one(related="list_id.company_id")
    reference = fields.Char(required=True, help="Account reference, unique within its list.")
    name = fields.Char()
    status = fields.Selection(
        ACCOUNT_STATUSES, required=True, default=DEFAULT_STATUS, tracking=True
    )
    email = fields.Char(help="Stored normalised (lower case); must be a valid address.")
    email_error = fields.Char(
        readonly=True, help="Why the imported email address was not kept, if it was invalid."
    )
    sms_number = fields.Char(string="SMS Number", help="The number as imported or typed.")
    sms_country_id = fields.Many2one(
        "res.country",
        string="Number Country",
        help="Country used to read an SMS number written without an international prefix.",
    )
    sms_number_e164 = fields.Char(
        string="SMS Number (E.164)",
        compute="_compute_sms_number_e164",
        store=True,
        help="The number normalised to E.164; empty when the number is invalid.",
    )
    sms_number_error = fields.Char(
        string="SMS Number Problem", compute="_compute_sms_number_e164", store=True
    )
    sms_time_zones = fields.Char(
        string="SMS Number Time Zones",
        compute="_compute_sms_number_e164",
        store=True,
        help="Time zones of the SMS number's area (IANA names, space-separated): a campaign's "
        "sending hours must be open in all of them.",
    )
    time_zone = fields.Char(
        help="The account's time zone (IANA name such as Europe/London), imported; an email "
        "follows the campaign's sending hours in it. Empty: the calendar's time zone.",
    )
    data = fields.Json(help="The other columns of the imported row, by column name.")
    data_display = fields.Html(string="Imported Data", compute="_compute_data_display")

    _sql_constraints = [
        (
            "reference_list_unique",
            "unique(list_id, reference)",
            "An account reference must be unique within its list.",
        ),
    ]

    def init(self):
        # The send wizard counts and selects accounts by list and status on campaigns of
        # 100 000 accounts: one composite index serves both (list_id alone is its prefix, which
        # deleting a list's accounts reads too).
        tools.create_index(
            self.env.cr, "outbound_account_list_status_idx", self._table, ["list_id", "status"]
        )
        self.pool.post_init(self._install_list_integrity)

    def _install_list_integrity(self):
        """What the list_id foreign key would guarantee, checked once per statement
        (:class:`~.statement_reference.StatementReference`): an account names an existing
        list, moves only to an existing one, and goes with its list."""
        LIST_REFERENCE.install(self.env)

    @api.depends("sms_number", "sms_country_id", "list_id.company_id.country_id")
    def _compute_sms_number_e164(self):
        for account in self:
            country = self._get_sms_country(account.sms_country_id, account.list_id.company_id)
            result = normalise_phone(account.sms_number, country.code or None)
            account.sms_number_e164 = result.e164
            account.sms_number_error = result.error
            account.sms_time_zones = send_hours.phone_zones(
                result.e164, result.region, result.number_type
            )

    @api.model
    def _get_sms_country(self, country, company):
        """The country that reads a national SMS number, for the account's compute and the import.

        ``country`` is the account's own: set by hand, or by the import to its profile's default
        country, so that a recompute reads the number as the import did. Without one, the
        company's country.
        """
        return country or company.country_id

    @api.depends("data")
    def _compute_data_display(self):
        for account in self:
            rows = Markup("").join(
                Markup("<tr><th>%s</th><td>%s</td></tr>") % (column, value)
                for column, value in (account.data or {}).items()
            )
            account.data_display = Markup('<table class="table table-sm">%s</table>') % rows

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._normalise_email_vals(vals)
            self._normalise_time_zone_vals(vals)
        accounts = super().create(vals_list)
        accounts.filtered("data")._register_data_columns()
        return accounts

    def write(self, vals):
        self._normalise_email_vals(vals)
        self._normalise_time_zone_vals(vals)
        result = super().write(vals)
        if vals.get("data"):
            self._register_data_columns()
        return result

    def _register_data_columns(self):
        """Keep each list's known columns, which templates may use as $ACCOUNT_<COLUMN>."""
        for outbound_list, accounts in self.grouped("list_id").items():
            outbound_list._add_data_columns(
                {key for data in accounts.mapped("data") for key in data}
            )

    def _normalise_email_vals(self, vals):
        if vals.get("email"):
            email, error = normalise_email(vals["email"])
            if error:
                raise ValidationError(
                    self.env._(
                        "Account %(reference)s: %(error)s",
                        reference=vals.get("reference") or ", ".join(self.mapped("reference")),
                        error=error,
                    )
                )
            vals["email"] = email
            vals["email_error"] = False

    def _normalise_time_zone_vals(self, vals):
        if vals.get("time_zone"):
            try:
                vals["time_zone"] = send_hours.check_zone(vals["time_zone"])
            except ValueError as error:
                raise ValidationError(
                    self.env._(
                        "Account %(reference)s: %(error)s",
                        reference=vals.get("reference") or ", ".join(self.mapped("reference")),
                        error=error,
                    )
                ) from error

    @api.depends("reference", "name")
    def _compute_display_name(self):
        for account in self:
            account.display_name = (
                f"{account.name} ({account.reference})" if account.name else account.reference
            )

    # ---- WHAT COMES BACK

    def _post_outcome(self, body, status=False):
        """Post ``body`` (text or Markup) on each account's chatter and, when ``status`` is set,
        move the account to that status (tracked, so the chatter shows the change too).

        The callers are webhooks and the mail gateway: the note and the status change are told by
        OdooBot, not by whoever the request's user happens to be (the public user).
        """
        if not self:
            return
        accounts = self.with_user(SUPERUSER_ID)
        if status:
            accounts.filtered(lambda account: account.status != status).write({"status": status})
        for account in accounts:
            account.message_post(
                body=body, message_type="notification", subtype_xmlid="mail.mt_note"
            )

    # ---- SENDING SCOPE

    @api.model
    def _get_scope_sql(self, campaign, outbound_list, statuses, active_lists_only):
        """Condition (an :class:`~odoo.tools.SQL`) over ``a`` (outbound_account) joined to ``l``
        (its list) selecting the accounts a send covers. The send wizard's panel and preview and
        the job's recipients all use it, so what the panel counts is what the job sends to.
        """
        conditions = [
            SQL("l.campaign_id = %s", campaign.id),
            SQL("a.status = ANY(%s)", statuses.mapped("code")),
        ]
        if outbound_list:
            conditions.append(SQL("a.list_id = %s", outbound_list.id))
        if active_lists_only:
            conditions.append(SQL("l.state = 'active'"))
        return SQL(" AND ").join(conditions)

    # ---- RENDERING

    @api.model
    def _get_status_labels(self):
        return dict(self._fields["status"]._description_selection(self.env))

    @api.model
    def _row_render_values(self, row, status_labels):
        """The plain values a template sees for one account row (never the record itself)."""
        return {
            "reference": row["reference"],
            "name": row["name"] or "",
            "email": row["email"] or "",
            "sms_number": row["sms_number_e164"] or row["sms_number"] or "",
            "status": status_labels.get(row["status"], row["status"]),
            "data": row["data"] or {},
        }

    def _get_render_context(self):
        self.ensure_one()
        row = {
            name: self[name]
            for name in ("reference", "name", "email", "sms_number", "status", "data")
        }
        row["sms_number_e164"] = self.sms_number_e164
        values = self._row_render_values(row, self._get_status_labels())
        return render.make_context(
            values, list_name=self.list_id.name, campaign_name=self.campaign_id.name or ""
        )
