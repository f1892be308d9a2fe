"""Normalise the e-mail addresses and SMS numbers of imported accounts.

Both functions take the raw cell text and return a value the gateways can use, or an error text
naming the value so that a contact-centre agent can correct the source file. They never raise for
bad data: a bad address makes an account unreachable by that channel, not unimportable.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

from .phone_parsing import parse_national, parse_number, plain_number

# RFC 5321: 254 characters in a path, 64 in the local part.
MAX_EMAIL_LENGTH = 254
MAX_LOCAL_LENGTH = 64

# Imports repeat numbers (switchboards, one number for a family), but most are unique: the cache
# stays small so that it does not weigh on the memory of a long import.
PHONE_CACHE_SIZE = 8192

_ATEXT = "a-z0-9!#$%&'*+/=?^_`{|}~-"
# Most addresses are plain ASCII: one regular expression accepts them without the slow path.
_EMAIL_FAST = re.compile(
    rf"""(?=[^@]{{1,64}}@)                               # local part of 64 characters at most
        [{_ATEXT}]+(?:\.[{_ATEXT}]+)*                  # dot-separated atoms
        @(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+  # domain labels
        [a-z]{{2,63}}                                  # alphabetic top-level domain""",
    re.IGNORECASE | re.ASCII | re.VERBOSE,
)
_LOCAL_ASCII = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-"
)
_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_TOP_LEVEL = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DISPLAY_NAME = re.compile(r"([^<>]*)<([^<>]*)>")
_SEPARATORS = re.compile(r"[,;]")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")
_PLUS_FIRST = re.compile(r"[\s(]*[+＋]")
_ZERO_ZERO_FIRST = re.compile(r"[\s(]*0[\s.)-]*0")
_SPACE = re.compile(r"\s")


def _show(value, limit=80):
    """Quote a value for an error text, shortened so one bad cell cannot flood a report."""
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return repr(value)


# ---- E-MAIL


def normalise_email(raw):
    """Return ``(address, error)`` for one cell; ``(None, None)`` when the cell is empty.

    The address is lower-cased as Odoo's ``email_normalize`` does, so that the ORM can compare it
    with ``email_normalized`` on partners and blacklist entries. International domains are
    returned in their ASCII (punycode) form, which every SMTP server accepts.
    """
    text = (raw or "").strip()
    if not text:
        return None, None
    if len(text) <= MAX_EMAIL_LENGTH and _EMAIL_FAST.fullmatch(text):
        return text.lower(), None
    error = _email_form_error(text)
    if error:
        return None, error
    return _normalise_address(_extract_address(text))


def _email_form_error(text):
    """Check what surrounds the address: control characters, display name, several addresses."""
    shown = _show(text)
    if _CONTROL.search(text):
        return f"{shown} contains control characters"
    if ("<" in text or ">" in text) and not _DISPLAY_NAME.fullmatch(text):
        return f"{shown} is not an e-mail address nor a 'Name <address>' form"
    address = _extract_address(text)
    if _SEPARATORS.search(address) or (address.count("@") > 1 and _SPACE.search(address)):
        return f"{shown} contains several addresses, only one is allowed"
    if not address:
        return f"{shown} contains no address between < and >"
    return None


def _extract_address(text):
    match = _DISPLAY_NAME.fullmatch(text)
    return match[2].strip() if match else text


def _normalise_address(address):
    shown = _show(address)
    error = _address_shape_error(address, shown)
    if error:
        return None, error
    local, domain = address.rsplit("@", 1)
    # Checked once lower-cased (which can lengthen it) so that a returned address passes again.
    local = local.lower()
    error = _local_part_error(local, shown)
    if error:
        return None, error
    domain, error = _normalise_domain(domain, shown)
    if error:
        return None, error
    result = f"{local}@{domain}"  # measured after punycode, which lengthens it
    if len(result) > MAX_EMAIL_LENGTH:
        return None, f"{shown} is longer than {MAX_EMAIL_LENGTH} characters"
    return result, None


def _address_shape_error(address, shown):
    if len(address) > MAX_EMAIL_LENGTH:
        return f"{shown} is longer than {MAX_EMAIL_LENGTH} characters"
    if _SPACE.search(address):
        return f"{shown} contains spaces"
    if "@" not in address:
        return f"{shown} has no @"
    if address.count("@") > 1:
        return f"{shown} contains more than one @"
    if ".." in address:
        return f"{shown} contains consecutive dots"
    return None


def _local_part_error(local, shown):
    if not local:
        return f"{shown} has nothing before the @"
    if len(local) > MAX_LOCAL_LENGTH:
        return f"{shown} has more than {MAX_LOCAL_LENGTH} characters before the @"
    if local[0] == "." or local[-1] == ".":
        return f"{shown} starts or ends with a dot before the @"
    for char in local:
        if not _is_local_char(char):
            return f"{shown} contains the character {char!r}, not allowed before the @"
    return None


def _is_local_char(char):
    # Non-ASCII letters are accepted for SMTPUTF8 servers; symbols and invisible characters are
    # kept out because no real mailbox uses them and they hide typing mistakes.
    if char in _LOCAL_ASCII:
        return True
    return not char.isascii() and unicodedata.category(char)[0] in "LMN"


def _normalise_domain(domain, shown):
    if not domain:
        return None, f"{shown} has nothing after the @"
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None, f"{shown} has a domain that is not a valid international domain name"
    domain = domain.lower()
    labels = domain.split(".")
    if len(labels) < 2:
        return None, f"{shown} has a domain without a dot (.com, .fr…)"
    if not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        return None, f"{shown} has an invalid domain"
    if not _TOP_LEVEL.fullmatch(labels[-1]):
        return None, f"{shown} has an invalid top-level domain {labels[-1]!r}"
    return domain, None


# ---- PHONE


# Not frozen: a frozen dataclass sets each field through object.__setattr__, a seventh of the
# normalisation of a number. Results are cached and shared: never change one.
@dataclass(slots=True)
class PhoneResult:
    """An SMS number as imported: ``e164`` when usable, else ``error`` says why.

    ``region`` (ISO code) and ``number_type`` (``'MOBILE'``, ``'FIXED_LINE'``,
    ``'FIXED_LINE_OR_MOBILE'``, ``'VOIP'``…) are set for valid numbers so that the UI can warn
    about numbers that probably cannot receive SMS; ``region`` is also set on an error when the
    country is known.
    """

    e164: str | None = None
    error: str | None = None
    region: str | None = None
    number_type: str | None = None


_NO_PHONE = PhoneResult()

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "{} has an unknown country code",
    NumberParseException.NOT_A_NUMBER: "{} is not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "{} is too short",
    NumberParseException.TOO_SHORT_NSN: "{} is too short",
    NumberParseException.TOO_LONG: "{} is too long",
}
_LENGTH_ERRORS = {
    ValidationResult.TOO_SHORT: "{} is too short for {}",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "{} is too short for {}",
    ValidationResult.TOO_LONG: "{} is too long for {}",
    ValidationResult.INVALID_LENGTH: "{} has an invalid length for {}",
}


def normalise_phone(raw, default_region=None):
    """Return the :class:`PhoneResult` of one cell; all fields ``None`` when the cell is empty.

    ``default_region`` (ISO code such as ``'GB'``) is used for numbers written without an
    international prefix. Raises ``ValueError`` for an unknown ``default_region``: that is a
    configuration mistake, not a bad cell.
    """
    text = (raw or "").strip()
    if not text:
        return _NO_PHONE
    return _normalise_phone(text, default_region or None)


@lru_cache(maxsize=PHONE_CACHE_SIZE)
def _normalise_phone(text, default_region):
    region = _check_region(default_region)
    plain = plain_number(text, region)
    if plain is not None:
        # Digits and separators only: no letter to look for, and "+" can only come first.
        result = _parse_phone(text, region, text, plain) if region or plain[0] else None
    elif _LETTER.search(text) or not _DIGIT.search(text):
        return PhoneResult(error=f"{_show(text)} is not a phone number")
    else:
        result = _parse_phone(text, region, text) if region or _PLUS_FIRST.match(text) else None
    # "00" is the international prefix nearly everywhere, but not in every default region (011 in
    # North America) and there may be no default region: such a number is also read as "+".
    if (result is None or result.error) and _ZERO_ZERO_FIRST.match(text):
        result = _parse_phone("+" + "".join(_DIGIT.findall(text))[2:], None, text)
    return result or PhoneResult(
        error=f"{_show(text)} has no country prefix and no default country is set"
    )


def _check_region(default_region):
    region = default_region.upper() if default_region else None
    if region and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown country code {default_region!r}")
    return region


def _parse_phone(text, region, cell, plain=None):
    """The :class:`PhoneResult` of ``text``; errors name the ``cell`` it was read from.

    ``plain`` is :func:`.phone_parsing.plain_number` of ``text`` when the caller has it.
    """
    try:
        country_code, national = parse_national(text, region, plain)
    except NumberParseException as exc:
        return PhoneResult(error=_PARSE_ERRORS[exc.error_type].format(_show(cell)))
    region_found, number_type = _classify(country_code, national)
    if number_type == PhoneNumberType.UNKNOWN:
        return PhoneResult(
            error=_invalid_number_error(parse_number(text, region), _show(cell)),
            region=_main_region(country_code),
        )
    return PhoneResult(
        # What phonenumbers.format_number(number, E164) writes: an extension is left out.
        e164=f"+{country_code}{national}",
        region=region_found,
        number_type=_TYPE_NAMES[number_type],
    )


def _invalid_number_error(number, shown):
    country = f"{_main_region(number.country_code)} (+{number.country_code})"
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == ValidationResult.INVALID_COUNTRY_CODE:
        return f"{shown} has an unknown country code"
    template = _LENGTH_ERRORS.get(reason, "{} is not a valid number for {}")
    return template.format(shown, country)


def number_region(e164):
    """ISO region of a valid E.164 number (``"+33612345678"`` -> ``"FR"``), as
    ``phonenumbers.region_code_for_number`` says, without parsing it; ``None`` when unknown.

    Country calling codes are prefix-free, so the first 1 to 3 digits name the code; only a code
    shared by several regions (+1, +44, +7 ...) needs the national number's patterns.
    """
    digits = (e164 or "").removeprefix("+")
    for length in (1, 2, 3):
        if not digits[:length].isdigit():
            return None
        country_code = int(digits[:length])
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
        if regions:
            return _region_of(country_code, regions, digits[length:])
    return None


def _region_of(country_code, regions, national):
    if len(regions) == 1:
        region = regions[0]
        return None if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY else region
    for region in regions:
        patterns = _type_patterns(country_code, region)
        if patterns is None:
            continue
        if patterns.is_region_of(national):
            return region
        if patterns.leading_digits is None and patterns.is_valid(national):
            return region
    return None


def _main_region(country_code):
    """Name the country of an invalid number: the first of those sharing its code (GB for +44)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    return None if region == phonenumbers.UNKNOWN_REGION else region


# ---- NUMBER TYPES
# phonenumbers' number_type() looks each pattern up in the cache of the re module on every call
# and, for a country code shared by several regions (+1, +44, +7...), runs the type checks once to
# find the region and again for the type: it costs more than parsing the number. This is the same
# algorithm on patterns compiled once per region; tests/test_properties_addresses.py checks that
# it answers as phonenumbers does, so a new phonenumbers release cannot make them drift apart.

_SPECIAL_TYPES = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)


_TYPE_NAMES = {
    number_type: PhoneNumberType.to_string(number_type) for number_type in PhoneNumberType.values()
}


def classify_number(number):
    """Return ``(region, type)`` of a parsed number as ``phonenumbers.region_code_for_number``
    and ``phonenumbers.number_type`` would; the type is ``UNKNOWN`` for an invalid number."""
    return _classify(number.country_code, phonenumbers.national_significant_number(number))


def _classify(country_code, national):
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    for region in regions:
        patterns = _type_patterns(country_code, region)
        if patterns is None:
            continue
        if len(regions) == 1 or patterns.is_region_of(national):
            return region, patterns.number_type(national)
        if patterns.leading_digits is None:
            number_type = patterns.number_type(national)
            if number_type != PhoneNumberType.UNKNOWN:
                return region, number_type
    return None, PhoneNumberType.UNKNOWN


@cache  # one entry per region at most
def _type_patterns(country_code, region):
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    return _TypePatterns(metadata) if metadata is not None else None


class _TypePatterns:
    """The number descriptions of one region's metadata, compiled."""

    def __init__(self, metadata):
        digits = metadata.leading_digits
        self.leading_digits = re.compile(digits) if digits is not None else None
        self.general = _compile_description(metadata.general_desc)
        self.special = tuple(
            (number_type, description)
            for attribute, number_type in _SPECIAL_TYPES
            if (description := _compile_description(getattr(metadata, attribute)))
        )
        # Most numbers are of none of the special types: one pattern of them all says so at once.
        self.any_special = re.compile(
            "|".join(f"(?:{pattern.pattern})" for _type, (_lengths, pattern) in self.special)
        )
        self.fixed_line = _compile_description(metadata.fixed_line)
        self.mobile = _compile_description(metadata.mobile)
        self.same_mobile_and_fixed_line = metadata.same_mobile_and_fixed_line_pattern

    def is_region_of(self, national):
        return self.leading_digits is not None and self.leading_digits.match(national) is not None

    def is_valid(self, national):
        """``number_type(national) != UNKNOWN``, testing first what most numbers are."""
        if not _matches(national, self.general):
            return False
        if not self.same_mobile_and_fixed_line and _matches(national, self.mobile):
            return True
        if _matches(national, self.fixed_line):
            return True
        return self._special_type(national) is not None

    def number_type(self, national):
        if not _matches(national, self.general):
            return PhoneNumberType.UNKNOWN
        special = self._special_type(national)
        if special is not None:
            return special
        if _matches(national, self.fixed_line):
            if self.same_mobile_and_fixed_line or _matches(national, self.mobile):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
            return PhoneNumberType.FIXED_LINE
        if not self.same_mobile_and_fixed_line and _matches(national, self.mobile):
            return PhoneNumberType.MOBILE
        return PhoneNumberType.UNKNOWN

    def _special_type(self, national):
        """The first special type ``national`` is of, in phonenumbers' order, or None."""
        if not self.special or self.any_special.fullmatch(national) is None:
            return None
        for number_type, description in self.special:
            if _matches(national, description):
                return number_type
        return None


def _compile_description(description):
    """Return ``(possible lengths, pattern)``, or None when no number can be of that type."""
    if description is None or not description.national_number_pattern:
        return None
    return frozenset(description.possible_length), re.compile(description.national_number_pattern)


def _matches(national, description):
    if description is None:
        return False
    lengths, pattern = description
    if lengths and len(national) not in lengths:
        return False
    return pattern.fullmatch(national) is not None
