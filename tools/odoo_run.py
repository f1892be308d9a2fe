#!/usr/bin/env python3
"""Start Odoo with the addon and its demo data on the local PostgreSQL (http://localhost:8069).

The database (default ``outbound_demo``, or $OBM_DB) is created on first use with demo data and
reused afterwards. Log in as admin / admin.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from odoo_tests import ADDON, addons_path, odoo_available


def main():
    if not odoo_available():
        print(
            "Odoo 18 is not installed in this Python. Install it as README.md says "
            "('Installing Odoo 18'), then run `make run` again."
        )
        return 1
    database = os.environ.get("OBM_DB", "outbound_demo")
    port = os.environ.get("OBM_PORT", "8069")
    print(f"Odoo on http://localhost:{port} (database {database}, login admin / admin)")
    command = [
        sys.executable,
        "-m",
        "odoo",
        "--database",
        database,
        "--addons-path",
        addons_path(),
        "--init",
        ADDON,
        "--http-port",
        port,
        "--db-filter",
        f"^{database}$",
    ]
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
