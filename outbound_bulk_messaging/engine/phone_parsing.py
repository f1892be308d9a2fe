"""``phonenumbers.parse`` for the way numbers are usually written, without its generic steps.

An import of 100 000 accounts spends most of its time in ``phonenumbers.parse``: for every
number it looks for RFC 3966 parameters, extensions, vanity letters and a second number, converts
each character with a Unicode table and compiles (or looks up) each region pattern again. A cell
holding only ASCII digits, spaces, ``-``, ``.``, ``(`` and ``)``, after an optional ``+``, has none
of those: every one of those steps leaves just its digits and whether it starts with ``+`` (see
:func:`parse_number`). :func:`parse_digits` is ``parse`` for those two values, the same algorithm
on patterns compiled once per region; anything else still goes to ``phonenumbers.parse``.

``tests/test_properties_phone_parsing.py`` checks both halves against ``phonenumbers.parse``
(same number, same error) on every region's example numbers and on generated text, so that a new
phonenumbers release cannot make them drift apart.
"""

import re
from functools import cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumber, ValidationResult

# phonenumbers' limits (phonenumberutil: _MAX_INPUT_STRING_LENGTH, _MIN_LENGTH_FOR_NSN...).
MAX_INPUT_LENGTH = 250
MIN_NATIONAL_LENGTH = 2
MAX_NATIONAL_LENGTH = 17
MAX_COUNTRY_CODE_LENGTH = 3

# No extension, vanity letter, RFC 3966 parameter, second number nor non-ASCII digit can hide in
# this alphabet, and with three digits or more phonenumbers finds the text viable whatever the
# separators: the result depends on the digits and the leading "+" only.
_PLAIN = re.compile(r"\+?[0-9 ().-]*", re.ASCII)
_MIN_PLAIN_DIGITS = 3
_NOT_DIGITS = re.compile(r"[^0-9]+")
_SHORT_LENGTHS = frozenset(
    (
        ValidationResult.TOO_SHORT,
        ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        ValidationResult.INVALID_LENGTH,
    )
)


def parse_number(text, region=None):
    """Return ``phonenumbers.parse(text, region)``: the same :class:`PhoneNumber`, or the same
    :class:`NumberParseException` (its ``error_type``; the message may differ)."""
    plain = plain_number(text, region)
    if plain is not None:
        return parse_digits(*plain, region)
    return phonenumbers.parse(text, region)


def parse_national(text, region=None, plain=None):
    """``(country code, national significant number)`` of :func:`parse_number`, or its exception.

    What the import needs of a number, without building the :class:`PhoneNumber` only to read
    its national number back as text. ``plain`` is :func:`plain_number` of ``text`` when the
    caller has it already.
    """
    if plain is None:
        plain = plain_number(text, region)
    if plain is not None:
        return _parse_plain(*plain, region)
    number = phonenumbers.parse(text, region)
    return number.country_code, phonenumbers.national_significant_number(number)


def parse_digits(plus, digits, region=None):
    """``phonenumbers.parse`` of ``digits`` (ASCII, three or more), with a ``+`` before them when
    ``plus``; ``region`` is ``None`` or one of ``phonenumbers.SUPPORTED_REGIONS``."""
    return _phone_number(*_parse_plain(plus, digits, region))


def plain_number(text, region=None):
    """``(plus, digits)`` of a number :func:`parse_digits` can read, else None.

    Such a text holds only digits (three or more), separators and a leading ``+``: no letter.
    """
    if (
        len(text) <= MAX_INPUT_LENGTH
        and (region is None or region in phonenumbers.SUPPORTED_REGIONS)
        and _PLAIN.fullmatch(text)
    ):
        digits = _NOT_DIGITS.sub("", text)
        if len(digits) >= _MIN_PLAIN_DIGITS:
            return text.startswith("+"), digits
    return None


def _parse_plain(plus, digits, region):
    """:func:`parse_digits` as ``(country code, national significant number)``."""
    if region is None and not plus:
        raise _error(NumberParseException.INVALID_COUNTRY_CODE, "missing default region")
    rules = _region_rules(region) if region else None
    try:
        country_code, national = _extract_country_code(plus, digits, rules)
    except NumberParseException as exc:
        if not plus or exc.error_type != NumberParseException.INVALID_COUNTRY_CODE:
            raise
        # phonenumbers reads the digits after an unknown "+code" as written without the "+".
        country_code, national = _extract_country_code(False, digits, rules)
        if not country_code:
            raise _error(exc.error_type, "unknown country code after the plus sign") from None
    if country_code:
        number_region = phonenumbers.region_code_for_country_code(country_code)
        if number_region != region:
            rules = _country_rules(country_code, number_region)
    else:
        national, country_code = digits, rules.country_code
    return country_code, _national_digits(national, rules)


def _national_digits(national, rules):
    if len(national) < MIN_NATIONAL_LENGTH:
        raise _error(NumberParseException.TOO_SHORT_NSN, "too short")
    stripped = rules.strip_national_prefix(national)
    # Kept only when what remains can still be a whole number of the region.
    if rules.test_length(stripped) not in _SHORT_LENGTHS:
        national = stripped
    if len(national) < MIN_NATIONAL_LENGTH:
        raise _error(NumberParseException.TOO_SHORT_NSN, "too short")
    if len(national) > MAX_NATIONAL_LENGTH:
        raise _error(NumberParseException.TOO_LONG, "too long")
    return national


def _phone_number(country_code, national):
    """The :class:`PhoneNumber` whose national significant number is ``national``."""
    number = PhoneNumber(country_code=country_code, national_number=int(national))
    if len(national) > 1 and national[0] == "0":
        number.italian_leading_zero = True
        zeros = len(national) - len(national.lstrip("0"))
        zeros = min(zeros, len(national) - 1)  # an all-zero number keeps its last zero
        if zeros != 1:
            number.number_of_leading_zeros = zeros
    return number


def _extract_country_code(plus, digits, rules):
    """phonenumbers' ``_maybe_extract_country_code``: (country code or 0, national number)."""
    international = plus
    if not plus and rules is not None and rules.idd is not None:
        match = rules.idd.match(digits)
        # A country code never starts with 0: "0" after the prefix means it was not one.
        if match and digits[match.end() : match.end() + 1] != "0":
            digits, international = digits[match.end() :], True
    if international:
        if len(digits) <= MIN_NATIONAL_LENGTH:
            raise _error(NumberParseException.TOO_SHORT_AFTER_IDD, "too short after the prefix")
        country_code, national = _leading_country_code(digits)
        if not country_code:
            raise _error(NumberParseException.INVALID_COUNTRY_CODE, "unknown country code")
        return country_code, national
    if rules is not None and digits.startswith(rules.country_code_text):
        # The region's own country code written without "+" or prefix: kept as such only when
        # the number makes more sense without it.
        national = rules.strip_national_prefix(digits[len(rules.country_code_text) :])
        if (not rules.is_general(digits) and rules.is_general(national)) or (
            rules.test_length(digits) == ValidationResult.TOO_LONG
        ):
            return rules.country_code, national
    return 0, ""


def _leading_country_code(digits):
    """phonenumbers' ``_extract_country_code``: codes are prefix-free, the first known one wins."""
    if digits[0] != "0":
        codes = _country_codes()
        for length in range(1, min(len(digits), MAX_COUNTRY_CODE_LENGTH) + 1):
            country_code = codes.get(digits[:length])
            if country_code is not None:
                return country_code, digits[length:]
    return 0, digits


@cache
def _country_codes():
    return {str(code): code for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}


def _error(error_type, message):
    return NumberParseException(error_type, message)


@cache  # one entry per region at most
def _region_rules(region):
    return _ParsingRules(PhoneMetadata.metadata_for_region(region))


@cache
def _country_rules(country_code, region):
    return _ParsingRules(PhoneMetadata.metadata_for_region_or_calling_code(country_code, region))


class _ParsingRules:
    """What ``parse`` reads of one region's metadata, compiled."""

    def __init__(self, metadata):
        self.country_code = metadata.country_code
        self.country_code_text = str(metadata.country_code)
        # An empty prefix would match every number: only a missing one never does.
        prefix = metadata.international_prefix
        self.idd = re.compile(prefix) if prefix is not None else None
        self.national_prefix = _compile(metadata.national_prefix_for_parsing)
        self.transform_rule = metadata.national_prefix_transform_rule or None
        general = metadata.general_desc
        self.general = _compile(general.national_number_pattern)
        self.lengths = tuple(general.possible_length)
        self.local_lengths = frozenset(general.possible_length_local_only)

    def is_general(self, national):
        return self.general is not None and self.general.fullmatch(national) is not None

    def strip_national_prefix(self, national):
        """phonenumbers' ``_maybe_strip_national_prefix_carrier_code``, carrier code left out."""
        match = self.national_prefix.match(national) if self.national_prefix else None
        if not national or match is None:
            return national
        groups = match.groups()
        if self.transform_rule is None or groups[-1] is None:
            stripped = national[match.end() :]
        else:
            stripped = self.national_prefix.sub(self.transform_rule, national, count=1)
        if self.is_general(national) and not self.is_general(stripped):
            return national
        return stripped

    def test_length(self, national):
        """phonenumbers' ``_test_number_length`` for any type of number."""
        length, lengths = len(national), self.lengths
        if length in self.local_lengths:
            return ValidationResult.IS_POSSIBLE_LOCAL_ONLY
        if lengths[0] == length:
            return ValidationResult.IS_POSSIBLE
        if lengths[0] > length:
            return ValidationResult.TOO_SHORT
        if lengths[-1] < length:
            return ValidationResult.TOO_LONG
        return (
            ValidationResult.IS_POSSIBLE
            if length in lengths[1:]
            else ValidationResult.INVALID_LENGTH
        )


def _compile(pattern):
    return re.compile(pattern) if pattern else None
