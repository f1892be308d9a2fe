"""Generate a CSV file of accounts for the import benchmark, and optionally read it back.

    python bench/gen_accounts_csv.py 100000 /tmp/accounts.csv --bad-ratio 0.01 --seed 1 --read

Columns: reference, name, status, email, mobile, due_date, amount, agent. Numbers are mostly
British (the profile of ``--read`` defaults to GB) in national and international forms, with
French, German, Belgian, Spanish, Indian and US numbers; nearly all are different, as in a real
list, so the cache of the reader seldom helps. ``--bad-ratio`` of the rows are rejected
by the reader (wrong column count, missing reference, duplicate reference, unknown status), and as
many carry an invalid e-mail and an invalid number (imported with a warning). The same seed gives
the same file.
"""

import argparse
import csv
import random
import sys
import time
import tracemalloc
import types
from pathlib import Path

ADDON = Path(__file__).resolve().parent.parent / "outbound_bulk_messaging"

FIRST_NAMES = (
    *("Olivia", "Amelia", "Isla", "Ava", "Noah", "Oliver", "George", "Arthur", "Léa", "Chloé"),
    *("Zoë", "Jürgen", "Łukasz", "Søren", "Mário", "José", "Ana", "Priya", "Aarav", "Mary"),
    *("James", "Siobhán", "Dafydd", "Ngozi", "Mei"),
)
LAST_NAMES = (
    *("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel"),
    *("Wright", "Müller", "Dubois", "Peeters", "García", "Fernández", "Sharma", "O'Brien"),
    *("Nowak", "Kowalski", "Nguyen", "Ólafsson"),
)
DOMAINS = ("gmail.com", "hotmail.co.uk", "yahoo.fr", "outlook.com", "btinternet.com", "web.de")
STATUSES = ("unused",) * 12 + ("Unused", "Call Back", "callback", "completed", "failed", "DNC", "")
AGENTS = ("", "", "amira", "ben", "chen", "dara", "eli")
# (share of the rows, national form or None, international form): each "#" becomes a digit.
# British numbers are mostly written the national way since the profile's country is GB; the
# others need their prefix, written with "+" or "00".
PHONE_KINDS = (
    (40, "074## ######", "+44 74## ######"),
    (15, "079##-###-###", "+447 9## ### ###"),
    (5, "020 7### ####", "+44 20 7### ####"),
    (8, None, "+33 6 1# ## ## ##"),
    (8, None, "+49 151 ########"),
    (6, None, "+32 470 ## ## ##"),
    (6, None, "+34 6## ## ## ##"),
    (6, None, "+91 98### #####"),
    (6, None, "+1 (201) 555-01##"),
)
# Too short, too long, letters, unknown country, a French number written the French way.
BAD_PHONES = ("074## ###", "+44 74## ###### ###", "n/a", "+999 ### ###", "06 1# ## ## ##")
BAD_EMAILS = ("{}.{}@", "{}..{}@example.com", "{}@{}", "{}@x.com; {}@y.com", "{} {}@example.com")
BAD_ROWS = ("columns", "reference", "duplicate", "status")
ASCII_LETTERS = str.maketrans("éëüŁøáóÓ", "eeuLoaoO")


class AccountFaker:
    """Draw plausible rows from one seeded generator (the same seed gives the same file)."""

    def __init__(self, seed, bad_ratio):
        self.random = random.Random(seed)
        self.bad_ratio = bad_ratio
        self._kinds = [kind for kind in PHONE_KINDS for _ in range(kind[0])]

    def row(self, number):
        rnd = self.random
        first, last = rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)
        row = [
            f"ACC{number:08d}",
            f"{first} {last}",
            rnd.choice(STATUSES),
            self.email(first, last),
            self.phone(),
            f"2025-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
            f"{rnd.randint(5, 500000) / 100:.2f}",
            rnd.choice(AGENTS),
        ]
        return self.spoil(row, number) if rnd.random() < self.bad_ratio else row

    def email(self, first, last):
        rnd = self.random
        roll = rnd.random()
        if roll < 0.08:
            return ""
        if roll < 0.08 + self.bad_ratio:
            return rnd.choice(BAD_EMAILS).format(first.lower(), last.lower())
        local = f"{first}.{last}{rnd.randint(1, 999)}".replace("'", "")
        if roll < 0.95:
            # Mailbox providers rarely allow accents: most people drop them.
            local = local.translate(ASCII_LETTERS)
        address = f"{local}@{rnd.choice(DOMAINS)}"
        return f'"{last}, {first}" <{address}>' if roll > 0.97 else address

    def phone(self):
        rnd = self.random
        roll = rnd.random()
        if roll < 0.05:
            return ""
        if roll < 0.05 + self.bad_ratio:
            return self.digits(rnd.choice(BAD_PHONES))
        _, national, international = rnd.choice(self._kinds)
        if national and roll < 0.75:
            return self.digits(national)
        if roll > 0.9:
            international = "00" + international[1:]
        return self.digits(international)

    def digits(self, pattern):
        return "".join(str(self.random.randint(0, 9)) if c == "#" else c for c in pattern)

    def spoil(self, row, number):
        kind = self.random.choice(BAD_ROWS)
        if kind == "columns":
            return row[:5]
        if kind == "reference":
            row[0] = ""
        elif kind == "duplicate" and number > 1:
            row[0] = f"ACC{self.random.randint(1, number - 1):08d}"
        elif kind == "status":
            row[2] = "pending"
        return row


def generate(count, path, seed=1, bad_ratio=0.01):
    faker = AccountFaker(seed, bad_ratio)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            ("reference", "name", "status", "email", "mobile", "due_date", "amount", "agent")
        )
        writer.writerows(faker.row(number) for number in range(1, count + 1))


def bench_profile():
    from outbound_bulk_messaging.engine.csv_import import ImportProfile

    return ImportProfile(
        reference_column="reference",
        name_column="name",
        status_column="status",
        email_column="email",
        sms_column="mobile",
        default_region="GB",
    )


def read_back(path):
    """Read ``path`` with the bench profile; return counts, elapsed seconds and stats."""
    from outbound_bulk_messaging.engine.csv_import import AccountRow, ReadStats, read_accounts

    stats, counts = ReadStats(), {"rows": 0, "errors": 0, "warnings": 0}
    started = time.perf_counter()
    with open(path, "rb") as stream:
        for result in read_accounts(stream, bench_profile(), stats):
            if not isinstance(result, AccountRow):
                counts["errors"] += 1
            elif result.email_error or result.sms_error:
                counts["warnings"] += 1
            counts["rows"] += 1
    return counts, time.perf_counter() - started, stats


def peak_memory(path):
    """Peak of the memory allocated while reading ``path``, in bytes (a second, slower pass)."""
    tracemalloc.start()
    try:
        read_back(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _register_engine():
    # The addon's __init__ imports Odoo; the engine alone does not need it (see tests/conftest.py).
    if "outbound_bulk_messaging" not in sys.modules:
        package = types.ModuleType("outbound_bulk_messaging")
        package.__path__ = [str(ADDON)]
        sys.modules["outbound_bulk_messaging"] = package


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("path")
    parser.add_argument("--bad-ratio", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--read", action="store_true", help="read the file back and time it")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    generate(args.count, args.path, args.seed, args.bad_ratio)
    elapsed = time.perf_counter() - started
    print(f"wrote {args.count} rows to {args.path} in {elapsed:.2f} s")
    if args.read:
        _register_engine()
        counts, elapsed, stats = read_back(args.path)
        print(
            f"read {counts['rows']} rows ({counts['errors']} rejected, {counts['warnings']}"
            f" with warnings, {stats.bytes_read} bytes) in {elapsed:.2f} s:"
            f" {counts['rows'] / elapsed:,.0f} rows/s"
        )
        print(f"peak memory while reading: {peak_memory(args.path) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
