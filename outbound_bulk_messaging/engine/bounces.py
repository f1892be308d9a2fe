"""Email bounces read into what the tracking of one sent message needs.

A delivery status notification (RFC 3464: ``multipart/report; report-type=delivery-status``)
is read from its ``message/delivery-status`` part, one :class:`Bounce` per recipient block with
its ``Final-Recipient``, ``Original-Recipient``, ``Action``, ``Status`` and ``Diagnostic-Code``.

Some MTAs send plain text instead (qmail, old Exchange, some hosted mailers). Their text is
searched for an enhanced status code (RFC 3463, ``5.1.1``) or else a basic SMTP reply code
(``550``, read as ``5.0.0`` as RFC 3463 maps an undetailed class); the line holding it is the
diagnostic. A bounce with no code at all keeps ``status=None``: it is recorded, but it is not
:attr:`Bounce.permanent`, so an address is never invalidated on a guess.

Only the report's own parts are read. The original message it returns (``message/rfc822``,
``text/rfc822-headers``) is skipped, so a code or an address quoted in our own email never counts.
"""

import base64
import email
import email.policy
import quopri
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

from .addresses import normalise_email
from .html_text import html_to_text

__all__ = ["Bounce", "find_bounce", "quoted_message_ids", "read_reports"]

DSN_TYPE = "message/delivery-status"
ORIGINAL_TYPES = frozenset({"message/rfc822", "text/rfc822-headers"})
# RFC 3464 2.3.3: these actions report a success; any other one (failed, delayed) a problem.
SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded"})
MAX_DIAGNOSTIC = 1000

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_FAILURE_STATUS = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# A reply code opening a line or an MTA's quote of it ("said: 550 …", "smtp; 550-…").
_REPLY_CODE = re.compile(r"(?:^|[:;])\s*([45][0-5]\d)(?=[\s-])", re.MULTILINE)
_MESSAGE_ID_LINE = re.compile(
    r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE
)
_SPACES = re.compile(r"\s+")
# Where a plain-text bounce starts quoting the returned message (qmail, Exim, Exchange, Sendmail).
_QUOTE_START = re.compile(
    r"^[ \t-]*(?:below this line is a copy of the message|this is a copy of the message"
    r"|original message follows|the original message was received|original message headers"
    r"|-+ ?original message ?-+)|^(?:Return-Path|Received):",
    re.IGNORECASE | re.MULTILINE,
)
_DECODERS = {
    "base64": lambda raw: base64.b64decode(raw, validate=False),
    "quoted-printable": quopri.decodestring,
}


@dataclass(frozen=True)
class Bounce:
    """What a bounce says of one recipient. Every field is ``None`` when the report lacks it.

    :param recipient: the ``Final-Recipient`` address, normalised as accounts store theirs
    :param original_recipient: the ``Original-Recipient`` address (before forwarding), normalised
    :param action: ``failed``, ``delayed``, ``delivered``… in lower case
    :param status: the DSN status code, ``5.1.1``
    :param diagnostic: the remote server's words (``smtp; 550 5.1.1 …``) on one line
    """

    recipient: str | None = None
    original_recipient: str | None = None
    action: str | None = None
    status: str | None = None
    diagnostic: str | None = None

    @property
    def permanent(self):
        """A 5.x.x status: the address will not take mail, retrying will not help."""
        return bool(self.status) and self.status.startswith("5.")

    @property
    def failed(self):
        """Whether this reports a problem (a failure or a delay) rather than a success."""
        return self.action not in SUCCESS_ACTIONS and not (self.status or "").startswith("2.")

    def names(self, address):
        """Whether the report is about ``address``: ``None`` when it names no recipient."""
        named = {self.recipient, self.original_recipient} - {None}
        if not named:
            return None
        return _normalise(address) in named


def read_reports(message):
    """The :class:`Bounce` of each recipient a bounce reports on (at least one).

    :param message: an :class:`email.message.Message`, or the raw bytes or text of one
    """
    message = _as_message(message)
    if message is None:
        return [Bounce()]
    parts = list(_report_parts(message))
    # A plain-text bounce may quote our email below its own words: codes there do not count.
    text = _QUOTE_START.split(_report_text(parts), maxsplit=1)[0]
    blocks = [
        block
        for part in parts
        if part.get_content_type() == DSN_TYPE
        for block in _dsn_blocks(part)
        if _is_recipient_block(block)
    ]
    if not blocks:
        return [_from_text(text)]
    return [_from_block(block, text) for block in blocks]


def find_bounce(message, address):
    """The :class:`Bounce` of ``message`` about ``address``, the address our email went to.

    A report naming ``address`` (as final or original recipient) wins, a failed one first. When
    the report names only other recipients, the first failed one is returned and the caller sees
    from :meth:`Bounce.names` that it is about someone else; when it names nobody (plain text),
    its only report is returned.
    """
    reports = read_reports(message)
    ours = [report for report in reports if report.names(address)]
    candidates = ours or reports
    return next((report for report in candidates if report.failed), candidates[0])


def quoted_message_ids(message):
    """Message-Ids (``<…>``) on ``Message-ID:`` lines of a bounce's text.

    Plain-text bounces quote the returned message in their text rather than attach it, where
    the mail gateway does not look for the original Message-Id.
    """
    message = _as_message(message)
    if message is None:
        return []
    found = _MESSAGE_ID_LINE.findall(_report_text(list(_report_parts(message))))
    return list(dict.fromkeys(found))


# ---- READING THE PARTS


def _as_message(message):
    if isinstance(message, Message):
        return message
    if isinstance(message, bytes):
        return email.message_from_bytes(message, policy=email.policy.default)
    if isinstance(message, str):
        return email.message_from_string(message, policy=email.policy.default)
    return None


def _report_parts(part):
    """The parts of a bounce, depth first, without the returned original message."""
    content_type = part.get_content_type()
    if content_type in ORIGINAL_TYPES:
        return
    yield part
    if content_type != DSN_TYPE and part.is_multipart():
        for child in part.get_payload():
            if isinstance(child, Message):
                yield from _report_parts(child)


def _report_text(parts):
    """The human-readable text of the bounce: its text/plain parts, else its HTML as text."""
    plain = [_decoded(part) for part in parts if part.get_content_type() == "text/plain"]
    if any(plain):
        return "\n".join(plain)
    html = [_decoded(part) for part in parts if part.get_content_type() == "text/html"]
    return "\n".join(html_to_text(text) for text in html)


def _decoded(part):
    if part.is_multipart():
        return ""
    raw = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return raw.decode("utf-8", errors="replace")


def _dsn_blocks(part):
    """The header blocks of a ``message/delivery-status`` part (the parser's, or re-read)."""
    payload = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if isinstance(payload, list) and encoding not in _DECODERS:
        return [block for block in payload if isinstance(block, Message)]
    # The parser splits the blocks before decoding: an encoded part is joined back, decoded and
    # split again.
    if isinstance(payload, list):
        payload = "\n\n".join(_block_text(block) for block in payload)
    text = _decode_text(payload, encoding).replace("\r\n", "\n")
    parser = HeaderParser(policy=email.policy.compat32)
    return [parser.parsestr(block.strip()) for block in re.split(r"\n\s*\n", text) if block.strip()]


def _block_text(block):
    if not isinstance(block, Message):
        return ""
    headers = "".join(f"{name}: {value}\n" for name, value in block.items())
    body = block.get_payload()
    return headers + (body if isinstance(body, str) else "")


def _decode_text(text, encoding):
    try:
        raw = _DECODERS[encoding](text.encode("ascii", errors="ignore"))
    except (KeyError, ValueError):  # not encoded, or not valid base64
        return text
    return raw.decode("utf-8", errors="replace")


def _is_recipient_block(block):
    return any(block.get(name) for name in ("Final-Recipient", "Original-Recipient", "Status"))


# ---- READING THE FIELDS


def _from_block(block, text):
    status = _field_status(_field(block, "Status"))
    diagnostic = _field(block, "Diagnostic-Code")
    if not status:
        status = _status_in(diagnostic or "") or _status_in(text)
    if not diagnostic:
        diagnostic = _line_with_code(text)
    action = _field(block, "Action")
    return Bounce(
        recipient=_field_address(_field(block, "Final-Recipient")),
        original_recipient=_field_address(_field(block, "Original-Recipient")),
        action=action.split()[0].lower() if action else None,
        status=status,
        diagnostic=_short(diagnostic),
    )


def _from_text(text):
    return Bounce(status=_status_in(text), diagnostic=_short(_line_with_code(text)))


def _field(block, name):
    try:
        value = block.get(name)
    except Exception:  # a header the policy cannot parse is as good as absent
        return None
    value = _SPACES.sub(" ", str(value)).strip() if value is not None else ""
    return value or None


def _field_status(value):
    match = _STATUS.match(value or "")
    return ".".join(match.groups()) if match else None


def _field_address(value):
    """``rfc822; x@y`` → ``x@y`` (normalised); other address types are kept as written."""
    if not value:
        return None
    address_type, _semicolon, address = value.rpartition(";")
    if address_type and address_type.strip().lower() != "rfc822":
        return value
    return _normalise(address) or None


def _normalise(address):
    address = (address or "").strip().strip("<>").strip()
    normalised, error = normalise_email(address)
    return address.casefold() if error else normalised


def _status_in(text):
    """An enhanced status code in ``text``, else a basic reply code as ``x.0.0``."""
    match = _FAILURE_STATUS.search(text)
    if match:
        return ".".join(match.groups())
    match = _REPLY_CODE.search(text)
    return f"{match[1][0]}.0.0" if match else None


def _line_with_code(text):
    """The first line holding a failure code, preferring one with both kinds of code."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    enhanced = [line for line in lines if _FAILURE_STATUS.search(line)]
    both = [line for line in enhanced if _REPLY_CODE.search(line)]
    basic = [line for line in lines if _REPLY_CODE.search(line)]
    return next(iter(both or enhanced or basic), None)


def _short(text):
    if not text:
        return None
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= MAX_DIAGNOSTIC else text[: MAX_DIAGNOSTIC - 1] + "…"
