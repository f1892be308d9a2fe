"""What a channel descriptor and its transport offer to the wizard, the job and the dispatcher."""

from odoo.tools import SQL

from ..engine.errors import TemplateError


class TransportBusy(Exception):
    """Another dispatcher is sending through the same provider account; try on the next run."""


class Channel:
    """A sending channel, described by data; the methods are the few rules data cannot say.

    :attr code: the value stored in ``channel`` fields
    :attr address_column: column of ``outbound_account`` holding the usable address (empty when
        missing or invalid)
    :attr time_zone_column: column of ``outbound_account`` holding the recipient's time zone(s)
        on this channel, read by the campaign's sending hours (empty: the calendar's zone)
    :attr blacklist_model: Odoo model whose active entries may not be sent to, and
        :attr:`blacklist_column` its address column
    :attr template_field: the wizard's template field for this channel
    :attr campaign_fields: job field -> campaign field copied when a job is created
    :attr transport: the :class:`Transport` class that sends
    """

    code = None
    label = None
    address_column = None
    time_zone_column = None
    blacklist_model = None
    blacklist_column = None
    template_field = None
    campaign_fields = {}
    transport = None

    def address_sql(self, alias):
        return SQL.identifier(alias, self.address_column)

    def time_zone_sql(self, alias):
        return SQL.identifier(alias, self.time_zone_column)

    def invalid_sql(self, alias):
        """Condition on the account ``alias`` saying its address was given but is invalid."""
        raise NotImplementedError

    def invalid_detail_sql(self, alias):
        """SQL text saying why the account's address is invalid."""
        raise NotImplementedError

    def no_address_reason(self, env):
        raise NotImplementedError

    def invalid_reason(self, env):
        """Translated text with ``%(error)s`` for the address's own problem."""
        raise NotImplementedError

    def job_values(self, campaign):
        """What a job of this channel copies from ``campaign`` (sender, server, gateway)."""
        values = campaign._convert_to_write(
            {name: campaign[name] for name in self.campaign_fields.values()}
        )
        return {job_field: values[name] for job_field, name in self.campaign_fields.items()}

    def blockers(self, wizard):
        """Why the wizard cannot send on this channel (empty: it can)."""
        return []

    def test_address(self, wizard, raw):
        """``(address, error)`` of a test recipient typed in ``wizard``, ``None`` when ``raw`` is
        not this channel's kind of address."""
        raise NotImplementedError

    def max_errors(self, job):
        """Sends in a row with an unknown outcome after which the job pauses."""
        return 3


class Transport:
    """Sends the messages of one job during one dispatch; ``limiter`` spaces the sends."""

    limiter = None

    def __init__(self, job, compiled, limiters):
        self.job = job
        self.compiled = compiled

    def send(self, payload):
        """Send one message (``payload``: id, address, render context, and ``test`` for a test
        send, which the recipient must be able to tell) -> ``dispatch.Accepted``."""
        raise NotImplementedError

    def close(self):
        """Release what the transport holds (connection, locks)."""

    @staticmethod
    def context(payload):
        if payload["context"] is None:
            raise TemplateError("the account was deleted before the message was sent")
        return payload["context"]
