"""One-click unsubscribe (RFC 8058): the signed per-message token and the header values.

A token is ``<message id>-<signature>``; the signature is computed by the caller's ``sign``
(the addon passes Odoo's ``tools.hmac`` with the database secret), so the engine knows the
format and the checks but never a secret. The id alone unsubscribes nobody: a token is good only
with the signature of that very id, compared in constant time.
"""

import hmac
import re
import urllib.parse

__all__ = [
    "ONE_CLICK_BODY",
    "SCOPE",
    "InvalidToken",
    "MalformedToken",
    "is_one_click",
    "list_id",
    "list_unsubscribe",
    "make_token",
    "mailto_token",
    "mailto_uri",
    "read_token",
]

SCOPE = "outbound_bulk_messaging-unsubscribe"
# What RFC 8058 mail clients POST (form-encoded) to the List-Unsubscribe URL.
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
# Message ids fit PostgreSQL's integer; signatures are hex digests (sha256: 64).
_TOKEN = re.compile(r"([1-9][0-9]{0,9})-([0-9a-f]{32,128})", re.ASCII)
MAX_TOKEN_LENGTH = 140
_MAX_ID = 2**31 - 1


class InvalidToken(ValueError):
    """The token's signature does not match (forged or altered), or it names no email."""


class MalformedToken(InvalidToken):
    """The token is not of the form ``<id>-<hex signature>``."""


def make_token(message_id, sign):
    """The token of ``message_id``; ``sign(message_id) -> hex digest``."""
    if not isinstance(message_id, int) or not 0 < message_id <= _MAX_ID:
        raise ValueError(f"not a message id: {message_id!r}")
    return f"{message_id}-{sign(message_id)}"


def read_token(token, sign):
    """The message id ``token`` was made for.

    :raises InvalidToken: malformed, or signed for another id or with another secret
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise MalformedToken("malformed token")
    match = _TOKEN.fullmatch(token)
    if not match or int(match[1]) > _MAX_ID:
        raise MalformedToken("malformed token")
    message_id = int(match[1])
    if not hmac.compare_digest(match[2], sign(message_id)):
        raise InvalidToken(f"bad signature for message {message_id}")
    return message_id


def is_one_click(form):
    """Whether a POSTed form is RFC 8058's ``List-Unsubscribe=One-Click``."""
    return form.get("List-Unsubscribe") == "One-Click"


def mailto_uri(address, token):
    """``mailto:`` form for clients without one-click: the subject carries the token."""
    return "mailto:" + address + "?subject=" + urllib.parse.quote(f"unsubscribe {token}")


_MAILTO_SUBJECT = re.compile(r"\s*unsubscribe\s+(\S+)\s*", re.IGNORECASE)


def mailto_token(subject):
    """The token of a ``mailto_uri`` email's subject, or ``None`` when it is not one."""
    match = _MAILTO_SUBJECT.fullmatch(subject or "")
    return match[1] if match else None


def list_unsubscribe(url, mailto=None):
    """``List-Unsubscribe`` value (RFC 2369): the HTTPS URL first, as RFC 8058 wants it found."""
    uris = [url, mailto] if mailto else [url]
    return ", ".join(f"<{uri}>" for uri in uris)


_LIST_LABEL_JUNK = re.compile(r"[^A-Za-z0-9-]+")
_PHRASE_JUNK = re.compile(r'["\\\x00-\x1f\x7f]+')


def list_id(name, key, domain):
    """A stable RFC 2919 ``List-Id``: ``"<name>" <<key>.<domain>>``; ``key`` never changes
    (the campaign's id), the name is only a label and may."""
    labels = [_label(part) for part in f"{key}.{domain or 'localhost'}".split(".")]
    phrase = _PHRASE_JUNK.sub(" ", name or "").strip()
    value = "<" + ".".join(label for label in labels if label) + ">"
    return f'"{phrase}" {value}' if phrase else value


def _label(text):
    return _LIST_LABEL_JUNK.sub("-", text).strip("-").lower()
