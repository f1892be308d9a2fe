#!/usr/bin/env python3
"""Regenerate outbound_bulk_messaging/i18n/outbound_bulk_messaging.pot from a fresh database."""

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from odoo_tests import ADDON, ROOT, addons_path, drop_database, odoo_available


def main():
    if not odoo_available():
        print("Odoo 18 is not installed: cannot export the translation template.")
        return 1
    database = f"obm_pot_{os.getpid()}"
    odoo = [sys.executable, "-m", "odoo", "-d", database, "--addons-path", addons_path()]
    odoo += ["--stop-after-init", "--log-level", "warn", "--no-http"]
    pot = ROOT / ADDON / "i18n" / f"{ADDON}.pot"
    try:
        subprocess.run([*odoo, "-i", ADDON, "--without-demo", "all"], check=True)
        subprocess.run([*odoo, f"--i18n-export={pot}", f"--modules={ADDON}"], check=True)
    finally:
        drop_database(database)
    print(f"written {pot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
