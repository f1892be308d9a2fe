"""The sending channels: one descriptor per channel, read by the wizard, the job and the SQL.

A channel (:class:`~.base.Channel`) says where an account's address is, what makes it invalid,
which blacklist applies, what the job copies from the campaign, what blocks the Send button and
which transport sends. Adding a channel is one descriptor module with its transport, one line in
:data:`CHANNELS`, and its button and fields in the views; nothing else tests the channel's code.
"""

from .base import Channel, Transport, TransportBusy
from .email import EmailChannel
from .sms import SmsChannel

CHANNELS = {channel.code: channel for channel in (EmailChannel(), SmsChannel())}


def get_channel(code):
    """The descriptor of channel ``code``."""
    return CHANNELS[code]


def channel_selection():
    """The ``(code, label)`` pairs of every channel, for selection fields."""
    return [(channel.code, channel.label) for channel in CHANNELS.values()]


__all__ = ["CHANNELS", "Channel", "Transport", "TransportBusy", "channel_selection", "get_channel"]
