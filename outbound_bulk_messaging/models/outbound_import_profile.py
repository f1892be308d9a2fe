from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..engine.csv_import import ImportProfile
from ..engine.errors import ImportFormatError
from ..engine.statuses import DEFAULT_STATUS
from .outbound_account import ACCOUNT_STATUSES


class OutboundImportProfile(models.Model):
    """How to read a dialler CSV export: file format and which column holds what.

    The email and SMS columns are the manual's "OutBound section" of an import profile: only
    accounts imported with those columns filled can be sent emails or SMS.
    """

    _name = "outbound.import.profile"
    _description = "Outbound Import Profile"
    _order = "name, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    delimiter = fields.Selection(
        [(",", "Comma"), (";", "Semicolon"), ("\t", "Tab"), ("|", "Pipe")],
        default=",",
        required=True,
    )
    quotechar = fields.Char(string="Quote Character", default='"', required=True, size=1)
    has_header = fields.Boolean(
        string="Header Row",
        default=True,
        help="The first line holds the column names. Without it, give columns by number.",
    )
    encoding = fields.Selection(
        [
            ("utf-8", "UTF-8"),
            ("utf-8-sig", "UTF-8 with BOM"),
            ("cp1252", "Windows-1252"),
            ("latin-1", "ISO-8859-1 (Latin-1)"),
            ("utf-16", "UTF-16"),
        ],
        default="utf-8",
        required=True,
    )
    reference_column = fields.Char(
        required=True,
        default="reference",
        help="Column name (or 1-based number) holding the account reference.",
    )
    name_column = fields.Char(default="name")
    status_column = fields.Char(
        help="Column holding the account status; empty: every account gets the default status."
    )
    email_column = fields.Char(string="Email Address Column", default="email")
    sms_column = fields.Char(string="SMS Number Column", default="mobile")
    time_zone_column = fields.Char(
        help="Column holding the account's time zone (IANA name such as America/New_York), "
        "which the campaign's sending hours follow for emails. A row with an unknown zone is "
        "rejected. Empty: emails follow the calendar's time zone.",
    )
    default_status = fields.Selection(ACCOUNT_STATUSES, default=DEFAULT_STATUS, required=True)
    default_country_id = fields.Many2one(
        "res.country",
        help="Country used to read SMS numbers written without an international prefix.",
    )
    duplicate_policy = fields.Selection(
        [
            ("allow", "Allow duplicates"),
            ("list", "Exclude within the list"),
            ("campaign", "Exclude within the campaign"),
        ],
        string="Duplicates",
        default="list",
        required=True,
        help="A duplicate is an account whose SMS number or email address is already held by "
        "another account of the list (or of any list of the campaign), or by an earlier row of "
        "the file. Excluded rows are listed in the import report.",
    )
    import_mode = fields.Selection(
        [
            ("add", "Add new accounts"),
            ("update", "Add and update"),
            ("overwrite", "Overwrite the list"),
        ],
        default="add",
        required=True,
        help="Add: rows whose reference already exists in the list are rejected. "
        "Add and update: existing references are updated with the row's values. "
        "Overwrite: the list's accounts are replaced by the file's.",
    )

    @api.constrains("reference_column", "has_header")
    def _check_columns(self):
        for profile in self:
            try:
                profile._get_engine_profile()
            except (ImportFormatError, ValueError) as error:
                raise ValidationError(
                    self.env._("Import profile %(name)s: %(error)s", name=profile.name, error=error)
                ) from error

    def _get_engine_profile(self, company=None):
        """The engine's profile, reading national numbers as the accounts of ``company`` do
        (by default the profile's company)."""
        self.ensure_one()
        country = self.env["outbound.account"]._get_sms_country(
            self.default_country_id, company or self.company_id
        )
        return ImportProfile(
            delimiter=self.delimiter,
            quotechar=self.quotechar,
            has_header=self.has_header,
            encoding=self.encoding,
            reference_column=self.reference_column,
            name_column=self.name_column or None,
            status_column=self.status_column or None,
            email_column=self.email_column or None,
            sms_column=self.sms_column or None,
            time_zone_column=self.time_zone_column or None,
            default_region=country.code or None,
            default_status=self.default_status,
        )
