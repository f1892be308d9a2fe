"""SMS encoding: GSM-7 or UCS-2, length in units and the split into segments.

A message whose characters all belong to the GSM 03.38 alphabet goes out as GSM-7 (7-bit septets,
160 per single SMS); one character outside it turns the whole message into UCS-2 (UTF-16 code
units, 70 per single SMS). A concatenated message spends part of every segment on the user data
header, leaving 153 septets or 67 code units. Providers bill per segment, so the count shown to the
user and the split must agree exactly: :func:`analyse` counts with :func:`split`.
"""

import re
from dataclasses import dataclass

from .errors import SegmentLimitError, SmsEncodingError

__all__ = [
    "GSM7",
    "UCS2",
    "SegmentLimitError",
    "SmsInfo",
    "analyse",
    "check",
    "check_segments",
    "count_segments",
    "split",
]

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 basic character set, without the escape (0x1B) that introduces the extension table.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each is sent as escape + character, so it costs two septets.
GSM_EXTENSION = "\x0c^{}\\[~]|€"

# (units in a single message, units per segment of a concatenated one)
_LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}

_NOT_GSM = re.compile(f"[^{re.escape(GSM_BASIC + GSM_EXTENSION)}]")
_GSM_EXTENSION = re.compile(f"[{re.escape(GSM_EXTENSION)}]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# C0 controls other than \n, \r and form feed, DEL, lone surrogates and the two non-characters
# U+FFFE/U+FFFF: no provider delivers them reliably, some reject the whole request.
_UNSENDABLE = re.compile("[\x00-\x09\x0b\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class SmsInfo:
    """What a text costs as SMS.

    :param encoding: ``GSM-7`` or ``UCS-2``
    :param units: septets (extension characters count 2) or UTF-16 code units
    :param segments: number of SMS the provider will send and bill (0 for an empty text)
    :param per_segment: units that fit in one segment for this message (160/153 or 70/67)
    :param remaining: units still free in the last segment
    """

    encoding: str
    units: int
    segments: int
    per_segment: int
    remaining: int


def analyse(text):
    """Return the :class:`SmsInfo` of ``text``."""
    encoding = _encoding(text)
    units = _units(text, encoding)
    single, multi = _LIMITS[encoding]
    if units <= single:
        return SmsInfo(encoding, units, 1 if units else 0, single, single - units)
    segments = split(text)
    last = _units(segments[-1], encoding)
    return SmsInfo(encoding, units, len(segments), multi, multi - last)


def count_segments(text):
    """``analyse(text).segments``, fast: the text is cut only when a character could straddle.

    A long text without any two-unit character (GSM-7 extension, UCS-2 surrogate pair) fills
    every segment but the last, so its count is a division; the cost estimate of a send counts
    every account's text with it.
    """
    encoding = _encoding(text)
    doubles = len((_GSM_EXTENSION if encoding == GSM7 else _ASTRAL).findall(text))
    units = len(text) + doubles
    single, multi = _LIMITS[encoding]
    if units <= single:
        return 1 if units else 0
    if not doubles:
        return -(-units // multi)
    return len(_cut(text, multi, _cost_function(encoding)))


def split(text):
    """Return the segments ``text`` is sent as; ``"".join(split(text)) == text``.

    A character is never cut: an extension character stays with its escape (a GSM-7 segment may
    then hold 152 septets) and a character outside the BMP keeps both halves of its surrogate pair
    (a UCS-2 segment may then hold 66 code units).
    """
    encoding = _encoding(text)
    single, multi = _LIMITS[encoding]
    if _units(text, encoding) <= single:
        return [text] if text else []
    return _cut(text, multi, _cost_function(encoding))


def check(text, max_segments=None):
    """Refuse a text that cannot be sent, or that needs more than ``max_segments`` segments.

    :returns: the :class:`SmsInfo` of ``text``
    :raises SmsEncodingError: naming the character and its 1-based position, or the counts
    """
    _check_sendable(text)
    info = analyse(text)
    if max_segments is not None and info.segments > max_segments:
        raise SegmentLimitError(
            f"The message renders to {info.segments} SMS segments, "
            f"the template allows {max_segments}"
        )
    return info


def check_segments(text, max_segments=None):
    """:func:`check`, answering the number of segments only (with :func:`count_segments`)."""
    _check_sendable(text)
    segments = count_segments(text)
    if max_segments is not None and segments > max_segments:
        raise SegmentLimitError(
            f"The message renders to {segments} SMS segments, the template allows {max_segments}"
        )
    return segments


def _check_sendable(text):
    bad = _UNSENDABLE.search(text)
    if bad:
        char = bad.group()
        raise SmsEncodingError(
            f"Character U+{ord(char):04X} at position {bad.start() + 1} cannot be sent by SMS"
        )


def _encoding(text):
    return UCS2 if _NOT_GSM.search(text) else GSM7


def _units(text, encoding):
    extra = _GSM_EXTENSION if encoding == GSM7 else _ASTRAL
    return len(text) + len(extra.findall(text))


def _cost_function(encoding):
    if encoding == GSM7:
        return lambda char: 2 if char in GSM_EXTENSION else 1
    return lambda char: 2 if char > "\uffff" else 1


def _cut(text, limit, cost):
    segments, start, used = [], 0, 0
    for index, char in enumerate(text):
        units = cost(char)
        if used + units > limit:
            segments.append(text[start:index])
            start, used = index, 0
        used += units
    segments.append(text[start:])
    return segments
