"""A batch's emails made from one prototype, as ``ir.mail_server.build_email`` would make them.

Odoo's ``build_email`` sets a message header by header, and the standard library parses every
value as it is set and folds it again each time the message is serialised: for a campaign's
fifteen headers that is most of the CPU of a send, and all but five of them (To, Subject,
Message-Id, X-Outbound-Message, List-Unsubscribe) are the same for every message of a job.

:class:`MessageFactory` takes the message ``build_email`` made for the first recipient (the
prototype) and the arguments it was given, and makes the next recipients' messages with the same
structure: a header whose value did not change is the prototype's own (already parsed) object, a
header that did is parsed as ``build_email`` would parse it, and each text part is encoded as
``set_content`` would encode it. :class:`SharedFoldPolicy` folds a shared header once per
policy instead of once per message. The factory refuses (``from_prototype`` returns ``None``) a
prototype it cannot reproduce byte for byte, so that the caller goes on with ``build_email``.

Only ``build_email``'s arguments ``email_from``, ``email_to``, ``subject``, ``body``,
``body_alternative``, ``subtype`` and ``headers`` are supported, as the email channel passes them.
"""

import contextlib
import copy
import email.contentmanager
import email.policy
import io
import socket
from datetime import datetime, timezone
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import make_msgid

__all__ = ["MessageFactory", "SharedFoldPolicy"]

CHARSET = "utf-8"  # build_email's charset for every text part
# set_content's choice of transfer encoding and its encoding, as a function; private in the
# standard library (3.6 to 3.13 at least), so without it the factory is not used.
_encode_text = getattr(email.contentmanager, "_encode_text", None)
# Headers build_email sets from its arguments (lower-case name -> argument), besides ``headers``.
_ARGUMENT_HEADERS = {"subject": "subject", "from": "email_from", "to": "email_to"}
_GENERATED = {"message-id", "date"}
_STRUCTURE = {"mime-version", "content-type", "content-transfer-encoding"}
_FOLDS = "_obm_folds"  # attribute of a shared header object: policy key -> folded text


class SharedFoldPolicy(email.policy.EmailPolicy):
    """Folds a header object shared by several messages once per policy, not once per message.

    Only header objects the factory shares carry a cache; the folded text depends on the
    policy's class and line settings, which key it (smtplib serialises with a clone of the
    message's policy, and with ``utf8`` for international addresses).
    """

    def _fold(self, name, value, *args, **kwargs):
        folds = getattr(value, _FOLDS, None)
        if folds is None:
            return super()._fold(name, value, *args, **kwargs)
        key = (type(self), self.linesep, self.max_line_length, self.utf8)
        folded = folds.get(key)
        if folded is None:
            folded = folds[key] = super()._fold(name, value, *args, **kwargs)
        return folded


def _shared(header):
    """``header``, marked to keep its folds (a header class with slots keeps none)."""
    with contextlib.suppress(AttributeError):
        setattr(header, _FOLDS, {})
    return header


class _Node:
    """One part of the prototype: its headers in order and, for a text part, the argument that
    is its body."""

    def __init__(self, message, body_argument):
        self.policy = message.policy
        self.headers = list(message.raw_items())
        self.body_argument = body_argument
        for _name, value in self.headers:
            _shared(value)
        # Transfer encoding -> its header; a body may need another one than the prototype's.
        self.encodings = {
            str(value): value
            for name, value in self.headers
            if name.lower() == "content-transfer-encoding"
        }


class MessageFactory:
    """Makes each recipient's message from a prototype ``build_email`` made (see module doc)."""

    def __init__(self, prototype, arguments):
        self.arguments = arguments
        self.policy = prototype.policy
        self.domain = socket.getfqdn()  # make_msgid looks it up on each call otherwise
        if prototype.is_multipart():  # build_email's text alternative, then the body
            self.root = _Node(prototype, None)
            text, html = prototype.get_payload()
            self.parts = [_Node(text, "body_alternative"), _Node(html, "body")]
        else:
            self.root, self.parts = _Node(prototype, "body"), []
        self.shared = {name.lower(): value for name, value in self.root.headers}
        self.date_key = None

    @classmethod
    def from_prototype(cls, prototype, arguments):
        """The factory of ``prototype`` (made by ``build_email(**arguments)``), or ``None`` when
        the factory would not make the same message from the same arguments."""
        if _encode_text is None or not cls._supported(prototype, arguments):
            return None
        factory = cls(prototype, arguments)
        # Every header parsed again from the arguments: a value build_email did not take from
        # them (a recipient redirected, a subject rewritten) makes the copy differ.
        copy_ = factory._make(arguments, prototype["Message-Id"], prototype["Date"], fresh=True)
        if _flatten(copy_) != _flatten(prototype):
            return None
        return factory

    @staticmethod
    def _supported(prototype, arguments):
        headers = {name.lower() for name in arguments.get("headers") or {}}
        names = [name.lower() for name in prototype]
        expected = set(_ARGUMENT_HEADERS) | {"reply-to"} | _GENERATED | headers
        if len(names) != len(set(names)) or not expected <= set(names) <= expected | _STRUCTURE:
            return False
        if arguments["subtype"] == "html":
            parts = prototype.get_payload() if prototype.is_multipart() else []
            return (
                bool(arguments.get("body_alternative"))
                and prototype.get_content_type() == "multipart/alternative"
                and len(parts) == 2
                and not any(part.is_multipart() for part in parts)
            )
        return not arguments.get("body_alternative") and not prototype.is_multipart()

    @staticmethod
    def shape_of(arguments):
        """What must be equal for a message to be made by the same factory."""
        headers = tuple(arguments.get("headers") or ())
        return arguments["subtype"], bool(arguments.get("body_alternative")), headers

    def make(self, arguments):
        """The message ``build_email(**arguments)`` would make (with its own Message-Id and
        Date); ``arguments`` must have the prototype's :meth:`shape_of`."""
        return self._make(arguments, None, None)

    def _make(self, arguments, message_id, date, fresh=False):
        message = self._node(self.root, arguments, message_id, date, fresh)
        if self.parts:
            message.set_payload([self._node(part, arguments) for part in self.parts])
        return message

    def _node(self, node, arguments, message_id=None, date=None, fresh=False):
        message = EmailMessage(policy=node.policy)
        for name, value in node.headers:
            lower = name.lower()
            if lower == "content-transfer-encoding" and node.body_argument:
                cte, payload = _encode_text(
                    arguments[node.body_argument] or "", CHARSET, None, node.policy
                )
                value = self._encoding(node, name, cte)
                message.set_payload(payload)
            elif lower == "message-id":
                value = message_id or self._header(name, make_msgid(domain=self.domain))
            elif lower == "date":
                value = date or self._date(name)
            elif lower not in _STRUCTURE:
                value = self._value(name, lower, arguments, fresh)
            message.set_raw(name, value)
        return message

    def _value(self, name, lower, arguments, fresh=False):
        """The header ``name`` for ``arguments``: the prototype's when its source is the same
        (unless ``fresh``)."""
        argument = _ARGUMENT_HEADERS.get(lower, "email_from" if lower == "reply-to" else None)
        if argument:
            source, prototype_source = arguments[argument], self.arguments[argument]
        else:
            source = arguments["headers"][name]
            prototype_source = self.arguments["headers"][name]
        if source == prototype_source and not fresh:
            return self.shared[lower]
        return self._header(name, source)

    def _header(self, name, value):
        return self.policy.header_store_parse(name, value)[1]

    def _date(self, name):
        """build_email's Date (now, UTC, to the second), parsed once per second."""
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        key = now.replace(microsecond=0)
        if key != self.date_key:
            self.date_key = key
            self.shared["date"] = _shared(self._header(name, now))
        return self.shared["date"]

    def _encoding(self, node, name, cte):
        header = node.encodings.get(cte)
        if header is None:
            header = node.encodings[cte] = _shared(self._header(name, cte))
        return header


class _CheckGenerator(BytesGenerator):
    """Serialises with a fixed multipart boundary (a random one is drawn per message)."""

    @classmethod
    def _make_boundary(cls, text=None):
        return "===============check=="


def _flatten(message):
    with io.BytesIO() as stream:
        # On a copy: the generator writes the boundary into the message it serialises.
        _CheckGenerator(stream, policy=message.policy).flatten(copy.copy(message))
        return stream.getvalue()
