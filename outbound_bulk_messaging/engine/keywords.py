"""What an inbound SMS asks for: to opt out, to opt back in, or nothing (a reply for a person).

A text is a keyword only when it is the keyword alone: case, spaces and the punctuation around it
do not count (``" stop. "``, ``"Stop!"``, ``"«STOP»"``), anything else does (``"don't stop calling
me"`` is a reply). Accents are folded on both sides (``"ARRÊT"`` matches the keyword ``ARRET``
and the other way round): people type them or not depending on their phone, and no opt-out word
of the languages we serve differs from another word by its accents only.
"""

import unicodedata

# The opt-out and opt-in words carriers and providers honour (CTIA; Twilio's defaults).
OPT_OUT_WORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
OPT_IN_WORDS = ("START", "UNSTOP")

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
REPLY = "reply"
KINDS = (OPT_OUT, OPT_IN, REPLY)

# A keyword is a word: longer texts are replies, whatever they hold.
MAX_KEYWORD_LENGTH = 40


def fold(word):
    """``word`` in the form keywords are compared in: no accents, case-folded, upper case."""
    decomposed = unicodedata.normalize("NFKD", word)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.casefold().upper()


def parse_keywords(text):
    """The folded words of a comma-separated setting (``"ARRET, Stopp,,BAJA"``); blanks dropped."""
    words = (_bare(word) for word in (text or "").split(","))
    return frozenset(fold(word) for word in words if word)


def classify(text, extra_opt_out=()):
    """:data:`OPT_OUT`, :data:`OPT_IN` or :data:`REPLY` for the text of an inbound SMS.

    ``extra_opt_out`` adds opt-out words (any case or accents). A word listed as both opt-out
    and opt-in opts out: keeping someone who asked to stop is the mistake that must not happen.
    """
    word = fold(_bare(text or ""))
    if not word or len(word) > MAX_KEYWORD_LENGTH:
        return REPLY
    if word in {fold(w) for w in (*OPT_OUT_WORDS, *extra_opt_out)}:
        return OPT_OUT
    if word in {fold(w) for w in OPT_IN_WORDS}:
        return OPT_IN
    return REPLY


def _bare(text):
    """``text`` without the spaces, punctuation and symbols around it (emoji included)."""
    start, end = 0, len(text)
    while start < end and not _is_word_char(text[start]):
        start += 1
    while end > start and not _is_word_char(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_word_char(char):
    # Letters, combining marks (a decomposed accent at the end of a word) and digits.
    return unicodedata.category(char)[0] in "LMN"
