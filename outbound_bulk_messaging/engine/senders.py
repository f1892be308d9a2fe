"""Who may send from what: countries whose carriers refuse an alphanumeric sender id.

A text from ``ACME`` to such a country is rejected by the provider (Vonage status 15, "Illegal
Sender Address") or sent from a random local number instead, so the send screen warns before
sending. The list is data: add a country here when a provider documents it.
"""

import re

__all__ = ["ALPHANUMERIC_REFUSED", "is_alphanumeric", "refusing_regions"]

# ISO 3166 codes of the countries where no carrier accepts an alphanumeric sender id: the
# North American Numbering Plan's United States, Canada and Puerto Rico need a local long
# number, a toll-free number or a short code.
# Sources: Twilio, "International support for Alphanumeric Sender ID"
# (https://support.twilio.com/hc/en-us/articles/223133767); Vonage, "SMS Features Overview:
# Country-specific features and restrictions" (United States, Canada); read 2026-12.
ALPHANUMERIC_REFUSED = frozenset({"US", "CA", "PR"})

# A numeric sender: digits, optionally with a leading "+" (a phone number or a short code).
_NUMERIC = re.compile(r"\+?\d+")


def is_alphanumeric(sender):
    """True for a sender id with a letter or a sign in it (``ACME``), not a number."""
    sender = (sender or "").strip().replace(" ", "")
    return bool(sender) and not _NUMERIC.fullmatch(sender)


def refusing_regions(sender, regions):
    """The ``regions`` (ISO codes) that refuse ``sender``, sorted; empty for a numeric sender."""
    if not is_alphanumeric(sender):
        return []
    return sorted(set(regions) & ALPHANUMERIC_REFUSED)
