import itertools
import json
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..channels import CHANNELS, get_channel
from ..engine import render, senders, sms_cost
from ..engine.errors import TemplateError
from ..models.outbound_message import OUTCOME_COUNTS, OUTCOME_TALLIES
from ..models.outbound_send_job import INTERVAL_UNITS, RESEND_PERIODS

MANAGER_GROUP = "outbound_bulk_messaging.group_outbound_manager"
# Figures older than this are counted again when Send is clicked.
STALE_AFTER = timedelta(minutes=1)
# The panel's figures per channel: count_<channel>_<figure>. Messages by state and what came
# back, then the accounts in scope sent to or failed (an account failed then sent counts as sent).
MESSAGE_FIGURES = ("awaiting", "sent", "failed", "delivered", "undelivered", "bounced", "replied")
ACCOUNT_FIGURES = ("accounts_sent", "accounts_failed")
# Above this many accounts in scope (ir.config_parameter), what takes a pass of the recipient
# rules over every account (the sendable figures, who is left out, the SMS cost) is counted once
# the screen is open (get_sendable_figures, called by the form's outbound_deferred_counts
# widget): the wizard opens at once, and Send waits for the figures.
SYNC_LIMIT_PARAM = "outbound.panel_sync_limit"
SYNC_LIMIT_DEFAULT = 20_000
# Recipient rows the SMS cost estimate reads at a time.
SMS_ESTIMATE_CHUNK = 5_000
_CURSOR_NUMBERS = itertools.count(1)
# What get_sendable_figures computes and returns.
DEFERRED_FIGURES = (
    "count_sendable_email",
    "count_sendable_sms",
    "recipients_summary",
    "pending_counts",
    "sms_cost_estimate",
    "sms_segments",
    "sms_unpriced_countries",
    "count_sms_over_limit",
    "sms_text_problems",
    "sms_sender_warning",
    "email_blockers",
    "sms_blockers",
    "can_send_email",
    "can_send_sms",
)
# The wizard's values that say whom it sends to: get_sendable_figures' arguments.
SCOPE_FIELDS = (
    "campaign_id",
    "list_id",
    "account_statuses",
    "active_lists_only",
    "resend_period",
    "template_id",
    "sms_template_id",
)


class OutboundSendWizard(models.TransientModel):
    """The send screen of the manual: status panel, Preview, Recipients and Schedule tabs.

    Opened from a campaign (all its lists) or from a list assigned to a campaign. The panel is
    counted with two aggregate queries whatever the number of accounts; sending creates an
    ``outbound.send.job`` whose messages are inserted in one statement.
    """

    _name = "outbound.send.wizard"
    _description = "Send Outbound Email / SMS"

    campaign_id = fields.Many2one("outbound.campaign", required=True, readonly=True)
    list_id = fields.Many2one("outbound.list", readonly=True)
    template_id = fields.Many2one(
        "outbound.template",
        string="Email Template",
        domain="[('campaign_id', 'in', [campaign_id, False]), ('use_for_email', '=', True)]",
        compute="_compute_template_id",
        store=True,
        readonly=False,
        precompute=True,
    )
    sms_template_id = fields.Many2one(
        "outbound.template",
        string="SMS Template",
        domain="[('campaign_id', 'in', [campaign_id, False]), ('use_for_sms', '=', True)]",
        compute="_compute_sms_template_id",
        store=True,
        readonly=False,
        precompute=True,
        help="Only text templates usable for SMS can be sent as SMS.",
    )
    account_statuses = fields.Many2many(
        "outbound.account.status",
        string="Accounts with Status",
        default=lambda self: self._default_account_statuses(),
    )
    resend_period = fields.Selection(
        RESEND_PERIODS,
        string="Resend",
        default="all",
        required=True,
        help="Other than All: skip an address that already received this template on this "
        "channel within the period.",
    )
    active_lists_only = fields.Boolean(help="Send to the campaign's active lists only.")
    use_current_time = fields.Boolean(default=True)
    start_at = fields.Datetime(string="Start Time", default=fields.Datetime.now)
    batch_size = fields.Integer(string="How Many?", default=500, required=True)
    batch_interval = fields.Integer(string="How Often?", default=1, required=True)
    batch_interval_unit = fields.Selection(INTERVAL_UNITS, default="minutes", required=True)

    count_accounts = fields.Integer(string="Accounts", compute="_compute_panel")
    count_with_email = fields.Integer(string="With Email Address", compute="_compute_panel")
    count_with_sms = fields.Integer(string="With SMS Number", compute="_compute_panel")
    # Per channel, for this campaign (or list): messages by state and what came back, and the
    # accounts in scope sent to or failed (an account failed then sent counts as sent).
    count_email_awaiting = fields.Integer(string="Emails Awaiting", compute="_compute_panel")
    count_email_sent = fields.Integer(string="Emails Sent", compute="_compute_panel")
    count_email_failed = fields.Integer(string="Emails Failed", compute="_compute_panel")
    count_email_bounced = fields.Integer(string="Emails Bounced", compute="_compute_panel")
    count_email_accounts_sent = fields.Integer(string="Accounts Emailed", compute="_compute_panel")
    count_email_accounts_failed = fields.Integer(
        string="Accounts Whose Email Failed", compute="_compute_panel"
    )
    count_sms_awaiting = fields.Integer(string="Texts Awaiting", compute="_compute_panel")
    count_sms_sent = fields.Integer(string="Texts Sent", compute="_compute_panel")
    count_sms_failed = fields.Integer(string="Texts Failed", compute="_compute_panel")
    count_sms_delivered = fields.Integer(string="Texts Delivered", compute="_compute_panel")
    count_sms_undelivered = fields.Integer(string="Texts Undelivered", compute="_compute_panel")
    count_sms_replied = fields.Integer(string="Replies", compute="_compute_panel")
    count_sms_accounts_sent = fields.Integer(string="Accounts Texted", compute="_compute_panel")
    count_sms_accounts_failed = fields.Integer(
        string="Accounts Whose Text Failed", compute="_compute_panel"
    )
    # What the user saw, and when: Send recounts figures older than STALE_AFTER (the manual:
    # "click Send within a minute"). Set at create and by the scope onchange, saved with Send.
    counted_at = fields.Datetime(default=fields.Datetime.now)
    counted_sendable_email = fields.Integer()
    counted_sendable_sms = fields.Integer()
    stale_warning = fields.Char(readonly=True)
    count_sendable_email = fields.Integer(
        string="Emails to Send",
        compute="_compute_sendable",
        help="Messages a Send Email would queue now, after every recipient rule (no address, "
        "invalid address, blacklist, duplicates, resend window, frequency cap).",
    )
    count_sendable_sms = fields.Integer(
        string="Texts to Send",
        compute="_compute_sendable",
        help="Messages a Send SMS would queue now, after every recipient rule (no number, "
        "invalid number, blacklist, duplicates, resend window, frequency cap).",
    )
    recipients_summary = fields.Html(
        string="Who Is Left Out",
        compute="_compute_sendable",
        sanitize=False,  # rendered by our own QWeb template, every value escaped
        help="How many accounts each recipient rule leaves out, per channel, in the order the "
        "rules apply (an account left out by one rule is not counted again by the next).",
    )
    pending_counts = fields.Char(
        compute="_compute_sendable",
        help="Set while the figures above SYNC_LIMIT_PARAM accounts are being counted: the "
        "scope they are counted for.",
    )
    sms_currency_id = fields.Many2one(related="campaign_id.company_id.currency_id")
    sms_cost_estimate = fields.Float(
        string="Estimated SMS Cost",
        digits=(16, 5),
        compute="_compute_sms_estimate",
        help="Each account's own text counted in segments, times the gateway's price per "
        "segment in the country of its number. Countries without a price are listed apart.",
    )
    sms_segments = fields.Integer(string="SMS Segments to Send", compute="_compute_sms_estimate")
    sms_unpriced_countries = fields.Char(compute="_compute_sms_estimate")
    count_sms_over_limit = fields.Integer(
        string="Texts Over the Segment Limit",
        compute="_compute_sms_estimate",
        help="Accounts whose text needs more segments than the template allows: the job will "
        "fail them (they cost nothing).",
    )
    sms_text_problems = fields.Char(compute="_compute_sms_estimate")
    sms_sender_warning = fields.Char(compute="_compute_sms_estimate")
    email_from = fields.Char(related="campaign_id.email_from", string="Emails Sent From")
    sms_sender = fields.Char(related="campaign_id.sms_sender", string="Texts Sent From")
    no_address_alert = fields.Boolean(compute="_compute_panel")
    email_blockers = fields.Char(compute="_compute_blockers")
    sms_blockers = fields.Char(compute="_compute_blockers")
    can_send_email = fields.Boolean(compute="_compute_blockers")
    can_send_sms = fields.Boolean(compute="_compute_blockers")

    preview_account_id = fields.Many2one(
        "outbound.account",
        string="Preview For",
        compute="_compute_preview_account_id",
        store=True,
        readonly=False,
        precompute=True,
    )
    preview_subject = fields.Char(compute="_compute_preview")
    preview_body = fields.Html(compute="_compute_preview", sanitize=True)
    preview_sms = fields.Text(string="SMS Text", compute="_compute_preview")
    preview_sms_info = fields.Char(string="SMS Encoding", compute="_compute_preview")
    preview_error = fields.Char(compute="_compute_preview")
    test_recipient = fields.Char(
        string="Send a Test To",
        help="An email address (the email template) or an SMS number (the SMS template). It "
        "receives the message of the preview account, through the campaign's mail server or "
        "gateway, marked as a test; nothing is counted or recorded as sent.",
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        model, record_id = self.env.context.get("active_model"), self.env.context.get("active_id")
        if model == "outbound.list" and record_id:
            campaign = self._get_list_campaign(record_id)
            values.update(list_id=record_id, campaign_id=campaign.id)
        elif model == "outbound.campaign" and record_id:
            values["campaign_id"] = record_id
        return values

    def _default_account_statuses(self):
        return self.env["outbound.account.status"].search([("code", "in", ["unused", "callback"])])

    @api.depends("campaign_id")
    def _compute_template_id(self):
        for wizard in self:
            if not wizard.template_id:
                wizard.template_id = wizard._find_template([("use_for_email", "=", True)])

    @api.depends("campaign_id", "template_id")
    def _compute_sms_template_id(self):
        for wizard in self:
            if wizard.template_id.use_for_sms:
                wizard.sms_template_id = wizard.template_id
            elif not wizard.sms_template_id.use_for_sms:
                wizard.sms_template_id = wizard._find_template([("use_for_sms", "=", True)])

    def _find_template(self, domain=()):
        """The campaign's first template matching ``domain``, else the first shared one.

        Computed as superuser (stored fields): another company's shared templates must not be
        candidates.
        """
        campaign = self.campaign_id
        return self.env["outbound.template"].search(
            [
                ("campaign_id", "in", [campaign.id, False]),
                ("company_id", "=", campaign.company_id.id),
                *domain,
            ],
            order="campaign_id, id",
            limit=1,
        )

    @api.depends("campaign_id", "list_id", "account_statuses", "active_lists_only")
    def _compute_panel(self):
        for wizard in self:
            accounts, with_email, with_sms = wizard._count_accounts()
            wizard.update(
                {
                    "count_accounts": accounts,
                    "count_with_email": with_email,
                    "count_with_sms": with_sms,
                    "no_address_alert": bool(accounts) and not with_email and not with_sms,
                    **wizard._count_messages(),
                }
            )

    @api.depends(*SCOPE_FIELDS)
    def _compute_sendable(self):
        for wizard in self:
            if wizard._defer_counts():
                wizard.update(
                    {
                        **{f"count_sendable_{code}": 0 for code in CHANNELS},
                        "recipients_summary": False,
                        "pending_counts": wizard._get_scope_key(),
                    }
                )
                continue
            wizard.pending_counts = False
            rule_counts = {}
            for code in CHANNELS:
                job = wizard._new_job(code)
                rule_counts[code] = job._count_by_rule() if job else {None: 0}
                wizard[f"count_sendable_{code}"] = rule_counts[code][None]
            wizard.recipients_summary = wizard._render_recipients_summary(rule_counts)

    @api.depends(
        "campaign_id",
        "list_id",
        "account_statuses",
        "active_lists_only",
        "resend_period",
        "sms_template_id",
    )
    def _compute_sms_estimate(self):
        for wizard in self:
            wizard.update(wizard._get_sms_estimate(deferred=wizard._defer_counts()))

    @api.depends(
        "count_with_email",
        "count_with_sms",
        "count_sendable_email",
        "count_sendable_sms",
        "template_id",
        "sms_template_id",
        "campaign_id",
    )
    def _compute_blockers(self):
        for wizard in self:
            values = {}
            for code in CHANNELS:
                blockers = wizard._get_blockers(code)
                values[f"{code}_blockers"] = "; ".join(blockers)
                values[f"can_send_{code}"] = not blockers
            wizard.update(values)

    @api.depends("campaign_id", "list_id", "account_statuses", "active_lists_only", "template_id")
    def _compute_preview_account_id(self):
        for wizard in self:
            wizard.preview_account_id = wizard._get_preview_account()

    @api.depends("preview_account_id", "template_id", "sms_template_id")
    def _compute_preview(self):
        for wizard in self:
            values = dict.fromkeys(
                (
                    "preview_subject",
                    "preview_body",
                    "preview_sms",
                    "preview_sms_info",
                    "preview_error",
                ),
                False,
            )
            if (wizard.template_id or wizard.sms_template_id) and wizard.preview_account_id:
                try:
                    values.update(wizard._get_preview_values())
                except TemplateError as error:
                    values["preview_error"] = str(error)
            wizard.update(values)

    @api.constrains(
        "campaign_id", "list_id", "template_id", "sms_template_id", "preview_account_id"
    )
    def _check_records_access(self):
        """What the wizard shows and sends must be readable by whoever opens it.

        The panel counts in SQL and the cron renders as superuser, so a campaign, list, template
        or account of another company given by id would otherwise leak or be sent.
        """
        for field_name in (
            "campaign_id",
            "list_id",
            "template_id",
            "sms_template_id",
            "preview_account_id",
        ):
            self[field_name].check_access("read")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("list_id") and not vals.get("campaign_id"):
                vals["campaign_id"] = self._get_list_campaign(vals["list_id"]).id
        wizards = super().create(vals_list)
        for wizard, vals in zip(wizards, vals_list, strict=True):
            if "counted_sendable_email" not in vals and "counted_sendable_sms" not in vals:
                wizard._remember_counts()
        return wizards

    @api.onchange(*SCOPE_FIELDS)
    def _onchange_scope_remember_counts(self):
        self._remember_counts()

    def _remember_counts(self):
        """Note the sendable figures on screen now, to tell at Send whether they went stale."""
        for wizard in self:
            wizard.update(
                {
                    "counted_at": fields.Datetime.now(),
                    "counted_sendable_email": wizard.count_sendable_email,
                    "counted_sendable_sms": wizard.count_sendable_sms,
                }
            )

    @api.model
    def _get_list_campaign(self, list_id):
        """The campaign a send from list ``list_id`` belongs to; a clear error without one."""
        outbound_list = self.env["outbound.list"].browse(list_id)
        if not outbound_list.campaign_id:
            raise UserError(
                self.env._(
                    "List %s is not assigned to a campaign: assign it to one before sending.",
                    outbound_list.name,
                )
            )
        return outbound_list.campaign_id

    # ---- ACTIONS

    @api.model
    def _get_open_action(self, record):
        """The wizard's window action, opened from a campaign or a list."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send Email / SMS"),
            "res_model": self._name,
            "view_mode": "form",
            "target": "new",
            "context": {"active_model": record._name, "active_id": record.id},
        }

    def action_send_email(self):
        return self._action_send("email")

    def action_send_sms(self):
        return self._action_send("sms")

    def action_edit_templates(self):
        return self.campaign_id.action_edit_templates()

    def action_send_test(self):
        """Send the preview account's message to ``test_recipient`` only, marked as a test."""
        self.ensure_one()
        channel, address = self._get_test_address()
        self._check_can_send(channel)
        account = self.preview_account_id
        if not account:
            raise UserError(self.env._("Choose the account to preview: its message is sent."))
        job = self.env["outbound.send.job"].new(self._prepare_job_values(channel))
        job._send_test(address, account)
        return self._get_test_notification(channel, address, account)

    def _action_send(self, channel):
        self.ensure_one()
        # Whether the rules leave anyone is known from the messages inserted: counting it first
        # would run the job's recipient SELECT once more for each channel.
        self._check_can_send(channel, count_sendable=False)
        if self._counts_went_stale(channel):
            return self._reopen()
        job = self._create_job(channel)
        job.message_post(body=job._get_creation_summary())
        job._submit()
        return job._get_form_action()

    def _create_job(self, channel):
        """The job and its messages; refused, leaving nothing, when none of them is queued."""
        # Jobs are created here only, after the checks above (nobody has create rights on them).
        values = {**self._prepare_job_values(channel), **self._prepare_cost_values(channel)}
        with self.env.cr.savepoint():
            job = self.env["outbound.send.job"].sudo().create(values)
            job._create_messages()
            if not job.count_queued:
                self._raise_blockers(channel, [self._get_no_sendable_blocker()])
        return job

    def _counts_went_stale(self, channel):
        """Whether the figures the user saw are over a minute old and no longer true.

        Then the screen comes back with the new figures and a warning, and nothing is sent: a
        Send must not go out on numbers the user did not see.
        """
        if not self.counted_at or fields.Datetime.now() - self.counted_at <= STALE_AFTER:
            return False
        seen = self[f"counted_sendable_{channel}"]
        self.invalidate_recordset([f"count_sendable_{channel}", "pending_counts"])
        now = self.with_context(outbound_count_now=True)[f"count_sendable_{channel}"]
        if now == seen:
            return False
        minutes = (fields.Datetime.now() - self.counted_at).total_seconds() // 60
        self._remember_counts()
        self.stale_warning = self.env._(
            "The figures changed since they were counted %(minutes)d minute(s) ago: %(now)s "
            "message(s) would now be sent instead of %(seen)s. Check them, then click Send "
            "again.",
            minutes=minutes,
            now=now,
            seen=seen,
        )
        return True

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send Email / SMS"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "context": self.env.context,
        }

    def _get_test_address(self):
        """(channel, normalised address) of ``test_recipient``; a clear error when unusable."""
        raw = (self.test_recipient or "").strip()
        if not raw:
            raise UserError(self.env._("Enter an email address or an SMS number to test with."))
        for code, descriptor in CHANNELS.items():
            parsed = descriptor.test_address(self, raw)
            if parsed is None:
                continue
            address, error = parsed
            if error or not address:
                raise UserError(
                    self.env._(
                        "Cannot send a test to %(recipient)s: %(error)s",
                        recipient=raw,
                        error=error or self.env._("not an address"),
                    )
                )
            return code, address
        raise UserError(self.env._("%s is neither an email address nor an SMS number.", raw))

    def _get_test_notification(self, channel, address, account):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("Test sent"),
                "message": self.env._(
                    "The %(channel)s of account %(account)s was sent to %(recipient)s, marked as "
                    "a test. It is not counted anywhere.",
                    channel=get_channel(channel).label,
                    account=account.reference,
                    recipient=address,
                ),
            },
        }

    def _check_can_send(self, channel, count_sendable=True):
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(
                self.env._(
                    "Only Campaign Managers, who may edit campaign properties, may send messages."
                )
            )
        self.campaign_id.check_access("write")
        # Values may be in the cache from a superuser compute: check rights, not just reads.
        self._check_records_access()
        blockers = self._get_blockers(channel, count_sendable)
        if blockers:
            self._raise_blockers(channel, blockers)

    def _raise_blockers(self, channel, blockers):
        raise UserError(
            self.env._(
                "Cannot send %(channel)s: %(blockers)s.",
                channel=channel.upper(),
                blockers="; ".join(blockers),
            )
        )

    def _prepare_job_values(self, channel):
        now = fields.Datetime.now()
        start_at = now if self.use_current_time or not self.start_at else max(self.start_at, now)
        descriptor = get_channel(channel)
        template = self[descriptor.template_field]
        return {
            "campaign_id": self.campaign_id.id,
            "list_id": self.list_id.id,
            "channel": channel,
            "template_id": template.id,
            # The job's own copy of the text: it sends this whatever becomes of the template.
            **(template._get_frozen_values() if template else {}),
            "account_statuses": [fields.Command.set(self.account_statuses.ids)],
            "resend_period": self.resend_period,
            "active_lists_only": self.active_lists_only,
            "start_at": start_at,
            "batch_size": self.batch_size,
            "batch_interval": self.batch_interval,
            "batch_interval_unit": self.batch_interval_unit,
            "send_calendar_id": self.campaign_id.send_calendar_id.id,
            **descriptor.job_values(self.campaign_id),
        }

    def _new_job(self, channel):
        """The job Send would create on ``channel``, not saved (``new()``): its recipient rules
        count the panel's sendable messages. Empty without a campaign."""
        if not self.campaign_id:
            return self.env["outbound.send.job"]
        return self.env["outbound.send.job"].sudo().new(self._prepare_job_values(channel))

    def _prepare_cost_values(self, channel):
        """What the job keeps of the panel's cost estimate."""
        return {"sms_cost_estimate": self.sms_cost_estimate} if channel == "sms" else {}

    # ---- PANEL

    def _scope_where(self):
        return self.env["outbound.account"]._get_scope_sql(
            self.campaign_id, self.list_id, self.account_statuses, self.active_lists_only
        )

    def _count_accounts(self):
        """(accounts in scope, with an email address, with a valid SMS number), summed from the
        running counts per list and status (outbound.tally)."""
        if not self.campaign_id:
            return 0, 0, 0
        sums = [SQL("sum(a.n)")]
        sums += [SQL("sum(%s)", SQL.identifier("a", f"with_{code}")) for code in ("email", "sms")]
        return self.env["outbound.tally"]._sum_accounts(self._scope_where(), sums)

    def _count_scope_exclusions(self):
        """(accounts of the campaign or list, left out by their status, in passive lists)."""
        conditions = [SQL("l.campaign_id = %s", self.campaign_id.id)]
        if self.list_id:
            conditions.append(SQL("a.list_id = %s", self.list_id.id))
        statuses = self.account_statuses.mapped("code")
        return self.env["outbound.tally"]._sum_accounts(
            SQL(" AND ").join(conditions),
            [
                SQL("sum(a.n)"),
                SQL("sum(a.n) FILTER (WHERE NOT a.status = ANY(%s))", statuses),
                SQL("sum(a.n) FILTER (WHERE a.status = ANY(%s) AND l.state != 'active')", statuses),
            ],
        )

    def _render_recipients_summary(self, rule_counts):
        """The Recipients tab's table: the scope, then each rule's count per channel."""
        if not self.campaign_id:
            return False
        total, by_status, passive = self._count_scope_exclusions()
        labels = list(dict.fromkeys(label for counts in rule_counts.values() for label in counts))
        rules = [
            (label, [rule_counts[code].get(label, 0) for code in CHANNELS])
            for label in labels
            if label is not None
        ]
        channel_labels = dict(
            self.env["outbound.message"]._fields["channel"]._description_selection(self.env)
        )
        return self.env["ir.qweb"]._render(
            "outbound_bulk_messaging.send_wizard_recipients_summary",
            {
                "channels": [channel_labels[code] for code in CHANNELS],
                "total": total,
                "by_status": by_status,
                "passive": passive,
                "active_lists_only": self.active_lists_only,
                "rules": rules,
                "sendable": [rule_counts[code][None] for code in CHANNELS],
            },
        )

    def _count_messages(self):
        """The panel's counts of this campaign's (or list's) messages, per channel:
        {count field: number}."""
        values = {
            name: 0
            for code in CHANNELS
            for key in (*MESSAGE_FIGURES, *ACCOUNT_FIGURES)
            if (name := f"count_{code}_{key}") in self._fields
        }
        if not self.campaign_id:
            return values
        rows = self._fetch_message_counts() if self.list_id else self._sum_message_counts()
        # Accounts sent to (or failed) are counted over the sent and failed messages: none yet
        # (a job still queued), nothing to count.
        if any(
            counts[MESSAGE_FIGURES.index("sent")] or counts[MESSAGE_FIGURES.index("failed")]
            for _code, _keys, counts in rows
        ):
            rows += self._fetch_account_outcomes()
        for code, keys, counts in rows:
            for key, count in zip(keys, counts, strict=True):
                if f"count_{code}_{key}" in values:
                    values[f"count_{code}_{key}"] = count
        return values

    def _sum_message_counts(self):
        """[(channel, keys, counts)] of the campaign's messages, summed from the running counts
        of its jobs (outbound.tally): a few rows per job, whatever their size."""
        figures = {
            "awaiting": SQL("state IN ('queued', 'sending')"),
            "sent": SQL("state = 'sent'"),
            "failed": SQL("state = 'failed'"),
        }
        aggregates = [
            SQL("coalesce(sum(n) FILTER (WHERE %s), 0)::bigint", condition)
            for condition in figures.values()
        ] + [OUTCOME_TALLIES[f"count_{key}"] for key in MESSAGE_FIGURES if key not in figures]
        self.env["outbound.send.job"].flush_model(["campaign_id"])
        rows = self.env["outbound.tally"]._read(
            "message",
            SQL(
                "t.job_id IN (SELECT j.id FROM outbound_send_job j WHERE j.campaign_id = %s)",
                self.campaign_id.id,
            ),
            [SQL("t.channel")],
            aggregates,
        )
        return [(code, MESSAGE_FIGURES, counts) for code, *counts in rows]

    def _fetch_message_counts(self):
        """[(channel, keys, counts)] of the list's messages: those of its accounts among the
        campaign's jobs' (outbound_message_job_state_idx per job), counted."""
        self.env["outbound.message"].flush_model()
        self.env["outbound.send.job"].flush_model(["campaign_id"])
        self.env["outbound.account"].flush_model(["list_id"])
        states = {
            "awaiting": SQL("count(*) FILTER (WHERE m.state IN ('queued', 'sending'))"),
            "sent": SQL("count(*) FILTER (WHERE m.state = 'sent')"),
            "failed": SQL("count(*) FILTER (WHERE m.state = 'failed')"),
        }
        aggregates = [states.get(key) or OUTCOME_COUNTS[f"count_{key}"] for key in MESSAGE_FIGURES]
        self.env.cr.execute(
            SQL(
                """
                SELECT m.channel, %(aggregates)s FROM outbound_message m
                  JOIN outbound_account a ON a.id = m.account_id AND a.list_id = %(list)s
                 WHERE %(campaign_messages)s
                 GROUP BY m.channel
                """,
                aggregates=SQL(", ").join(aggregates),
                list=self.list_id.id,
                campaign_messages=self._campaign_messages_sql(),
            )
        )
        return [(code, MESSAGE_FIGURES, counts) for code, *counts in self.env.cr.fetchall()]

    def _campaign_messages_sql(self):
        return SQL(
            "m.job_id IN (SELECT j.id FROM outbound_send_job j WHERE j.campaign_id = %s)",
            self.campaign_id.id,
        )

    def _fetch_account_outcomes(self):
        """[(channel, keys, counts)]: the accounts in scope sent to, or only failed, over the
        campaign's (or list's) messages sent or failed."""
        self.env["outbound.message"].flush_model()
        self.env["outbound.send.job"].flush_model(["campaign_id"])
        self.env["outbound.account"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT p.channel, count(*) FILTER (WHERE p.sent),
                       count(*) FILTER (WHERE p.failed AND NOT p.sent)
                  FROM (
                    SELECT m.channel, bool_or(m.state = 'sent') AS sent,
                           bool_or(m.state = 'failed') AS failed
                      FROM outbound_message m
                      JOIN outbound_account a ON a.id = m.account_id
                      JOIN outbound_list l ON l.id = a.list_id
                     WHERE %(campaign_messages)s AND m.state IN ('sent', 'failed')
                       AND %(scope)s
                     GROUP BY m.channel, m.account_id
                  ) AS p
                 GROUP BY p.channel
                """,
                campaign_messages=self._campaign_messages_sql(),
                scope=self._scope_where(),
            )
        )
        return [(code, ACCOUNT_FIGURES, counts) for code, *counts in self.env.cr.fetchall()]

    @api.model
    def get_live_panel_counts(self, campaign_id, list_id=False):
        """The panel's message counts of a campaign (or list), read again while its jobs send:
        the wizard on screen updates these figures only, keeping what the user is typing."""
        campaign = self.env["outbound.campaign"].browse(campaign_id)
        outbound_list = self.env["outbound.list"].browse(list_id)
        campaign.check_access("read")
        outbound_list.check_access("read")
        return self.new({"campaign_id": campaign.id, "list_id": outbound_list.id})._count_messages()

    @api.model
    def get_sendable_figures(self, values):
        """The figures deferred on a large scope (:data:`DEFERRED_FIGURES`), counted now for
        the wizard's ``values`` (:data:`SCOPE_FIELDS`, many2many as a list of ids), with what
        the stale check at Send compares them to."""
        scope = {name: values.get(name) or False for name in SCOPE_FIELDS}
        scope["account_statuses"] = [fields.Command.set(values.get("account_statuses") or [])]
        wizard = self.with_context(outbound_count_now=True).new(scope)
        wizard._check_records_access()
        figures = {name: wizard[name] for name in DEFERRED_FIGURES}
        figures["recipients_summary"] = str(figures["recipients_summary"] or "")
        return {
            **figures,
            "counted_at": fields.Datetime.to_string(fields.Datetime.now()),
            **{f"counted_sendable_{code}": figures[f"count_sendable_{code}"] for code in CHANNELS},
        }

    def _defer_counts(self):
        """Whether the recipient rules' figures are left to get_sendable_figures: the scope is
        larger than the setting :data:`SYNC_LIMIT_PARAM`, and they are not asked for now."""
        if self.env.context.get("outbound_count_now") or not self.campaign_id:
            return False
        param = self.env["ir.config_parameter"].sudo().get_param(SYNC_LIMIT_PARAM)
        limit = int(param) if param else SYNC_LIMIT_DEFAULT
        return self.count_accounts > limit

    def _get_scope_key(self):
        """A text that changes with the scope (what the deferred figures are counted for)."""
        values = self._convert_to_write({name: self[name] for name in SCOPE_FIELDS})
        return json.dumps(values, sort_keys=True, default=str)

    def _get_blockers(self, channel, count_sendable=True):
        """Why the Send button of ``channel`` is disabled (empty: it can send); without
        ``count_sendable``, all but whether the recipient rules leave anyone."""
        blockers = get_channel(channel).blockers(self)
        blockers += self._template_blockers(self[get_channel(channel).template_field])
        if count_sendable and not blockers and self.pending_counts:
            blockers.append(
                self.env._(
                    "counting the messages of %(count)s accounts in scope…",
                    count=self.count_accounts,
                )
            )
        elif count_sendable and not blockers and not self[f"count_sendable_{channel}"]:
            blockers.append(self._get_no_sendable_blocker())
        return blockers

    def _get_no_sendable_blocker(self):
        return self.env._(
            "no account in scope would get a message: the recipient rules skip them all"
        )

    def _template_blockers(self, template):
        """The placeholders of ``template`` some list in scope has no column for, as blockers.

        The dispatcher compiles with every column of the campaign; an account of a list
        without that column would then fail to render. Each list is checked with its own
        imported columns, so the blocker names the placeholder and the list.
        """
        if not template:
            return []
        problems = {}
        for outbound_list in self._scope_lists():
            try:
                template._compile(columns=outbound_list.data_columns or [])
            except TemplateError as error:
                problems.setdefault(str(error), []).append(outbound_list.name)
        return [
            self.env._(
                "template %(template)s: %(error)s, in list %(lists)s",
                template=template.name,
                error=error,
                lists=", ".join(lists),
            )
            for error, lists in problems.items()
        ]

    def _scope_lists(self):
        """The lists with at least one account in scope."""
        if not self.campaign_id:
            return self.env["outbound.list"]
        list_ids = self.env["outbound.tally"]._account_lists(self._scope_where())
        return self.env["outbound.list"].sudo().browse(list_ids)

    # ---- SMS COST

    def _get_sms_estimate(self, deferred=False):
        """The SMS panel's cost figures: {field: value} (zero while ``deferred``)."""
        values = {
            "sms_cost_estimate": 0.0,
            "sms_segments": 0,
            "sms_unpriced_countries": False,
            "count_sms_over_limit": 0,
            "sms_text_problems": False,
            "sms_sender_warning": False,
        }
        template = self.sms_template_id
        job = self._new_job("sms")
        if deferred or not job or not template.use_for_sms or self._template_blockers(template):
            return values
        compiled = template._compile()["body"]
        result = sms_cost.tally(
            self._sms_recipients(job, compiled), compiled, template.sms_max_segments or None
        )
        gateway = self.campaign_id.sms_gateway_id
        cost, unpriced = result.cost(self.env["outbound.sms.price"].sudo()._get_prices(gateway))
        values.update(
            sms_cost_estimate=cost,
            sms_segments=sum(result.segments.values()),
            # Without a gateway Send SMS is blocked for that reason, not for missing prices.
            sms_unpriced_countries=self._describe_regions(unpriced, result.accounts)
            if gateway
            else False,
            count_sms_over_limit=result.over_limit,
            sms_text_problems=result.first_error
            and self.env._(
                "%(count)s account(s) whose text cannot be sent, e.g. %(error)s",
                count=result.failing,
                error=result.first_error,
            ),
            sms_sender_warning=self._sender_warning(gateway, result.accounts),
        )
        return values

    def _sms_recipients(self, job, compiled):
        """(number, render context) of every account the SMS job would queue."""
        data = not compiled.placeholders_only or any(
            name not in render.STANDARD_PLACEHOLDERS for name in compiled.placeholders
        )
        query = SQL(
            """
                SELECT v.address, a.reference, a.name, a.email, a.sms_number,
                       a.sms_number_e164, a.status, %(data)s AS data, l.name AS list_name
                  FROM (%(recipients)s) AS v
                  JOIN outbound_account a ON a.id = v.account_id
                  JOIN outbound_list l ON l.id = a.list_id
                 WHERE v.reason IS NULL
            """,
            data=SQL("a.data") if data else SQL("NULL::jsonb"),
            recipients=job._get_recipients_select(),
        )
        accounts = self.env["outbound.account"]
        labels = accounts._get_status_labels()
        campaign_name = self.campaign_id.name or ""
        # A placeholders-only template needs its placeholders only (render.make_context).
        names = frozenset(compiled.placeholders) if compiled.placeholders_only else None
        for row in self._fetch_in_chunks(query, "outbound_sms_estimate", SMS_ESTIMATE_CHUNK):
            context = render.make_context(
                accounts._row_render_values(row, labels),
                list_name=row["list_name"],
                campaign_name=campaign_name,
                names=names,
            )
            yield row["address"], context

    def _fetch_in_chunks(self, query, name, chunk):
        """The rows of ``query`` as dicts, read through an SQL cursor ``chunk`` rows at a time: a
        million accounts are never all in this process at once, neither as Python objects nor
        in the driver's buffer of the result (which a plain execute fills whole).

        The cursor (``name`` and a number of its own) is closed once read; one left by a
        reader that stopped early closes with the transaction."""
        cr = self.env.cr
        cursor = SQL.identifier(f"{name}_{next(_CURSOR_NUMBERS)}")
        cr.execute(SQL("DECLARE %s NO SCROLL CURSOR FOR %s", cursor, query))
        while True:
            cr.execute(SQL("FETCH FORWARD %s FROM %s", chunk, cursor))
            rows = cr.dictfetchall()
            if not rows:
                break
            yield from rows
        cr.execute(SQL("CLOSE %s", cursor))

    def _describe_regions(self, regions, accounts):
        """ "France (2 accounts), unknown country (1 account)" for ISO codes ``regions``."""
        if not regions:
            return False
        names = dict(
            self.env["res.country"]
            .search([("code", "in", [r for r in regions if r])])
            .mapped(lambda country: (country.code, country.name))
        )
        return ", ".join(
            self.env._(
                "%(country)s (%(count)s account(s))",
                country=names.get(region, region) if region else self.env._("unknown country"),
                count=accounts[region],
            )
            for region in regions
        )

    def _sender_warning(self, gateway, accounts):
        sender = self.campaign_id.sms_sender or gateway.sudo().default_sender
        refusing = senders.refusing_regions(sender, accounts)
        if not refusing:
            return False
        return self.env._(
            "Alphanumeric sender %(sender)s is not accepted in %(countries)s: those texts may "
            "be refused or sent from another number. Use a local number as sender for them.",
            sender=sender,
            countries=self._describe_regions(refusing, accounts),
        )

    # ---- PREVIEW

    def _get_preview_account(self):
        """The first account in scope, preferring one with the address the template needs.

        Two queries, each stopping at its first match in id order, rather than one ordering
        every account in scope by whether it has that address.
        """
        if not self.campaign_id:
            return self.env["outbound.account"]
        sms_only = not self.template_id and self.sms_template_id
        address = CHANNELS["sms" if sms_only else "email"].address_sql("a")
        self.env["outbound.account"].flush_model()
        for condition in (SQL("%s IS NOT NULL", address), SQL("TRUE")):
            self.env.cr.execute(
                SQL(
                    """
                    SELECT a.id FROM outbound_account a JOIN outbound_list l ON l.id = a.list_id
                     WHERE %s AND %s ORDER BY a.id LIMIT 1
                    """,
                    self._scope_where(),
                    condition,
                )
            )
            row = self.env.cr.fetchone()
            if row:
                return self.env["outbound.account"].browse(row[0])
        return self.env["outbound.account"]

    def _get_preview_values(self):
        values = {}
        if self.template_id:
            preview = self.template_id._get_preview(self.preview_account_id)
            values.update(
                preview_subject=preview["subject"],
                preview_body=preview["body"],
                preview_sms_info=preview["sms_info"],
            )
        sms_template = self.sms_template_id
        if sms_template:
            preview = sms_template._get_preview(self.preview_account_id)
            values.update(preview_sms=preview["text"], preview_sms_info=preview["sms_info"])
        return values
