"""The account statuses of the dialler: the one definition the models, the data and the reader use.

``ACCOUNT_STATUSES`` gives the codes stored on accounts and their labels (the selection of every
status field). ``STATUS_SPELLINGS`` is what an imported file may write instead of a code: the
codes, their labels and a few dialler exports' spellings, folded to lower case.
"""

from types import MappingProxyType

ACCOUNT_STATUSES = (
    ("unused", "Unused"),
    ("callback", "Call-back"),
    ("completed", "Completed"),
    ("failed", "Failed"),
    ("do_not_call", "Do Not Call"),
)
STATUS_CODES = tuple(code for code, _label in ACCOUNT_STATUSES)
DEFAULT_STATUS = "unused"

_OTHER_SPELLINGS = {"call back": "callback", "dnc": "do_not_call"}

STATUS_SPELLINGS = MappingProxyType(
    {code: code for code in STATUS_CODES}
    | {label.casefold(): code for code, label in ACCOUNT_STATUSES}
    | _OTHER_SPELLINGS
)
