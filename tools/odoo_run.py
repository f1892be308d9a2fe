#!/usr/bin/env python3
"""Start Odoo with the addon and its demo data on the local PostgreSQL (http://localhost:8069).

The database (default ``outbound_demo``) is created and the addon installed with demo data on
first use only; later starts reuse it as it is, so what a user changed (a campaign's sender, a
gateway) stays. Log in as admin / admin.

Usage: tools/odoo_run.py [--db NAME] [--port PORT] (``make run DB=… PORT=…``; $OBM_DB and
$OBM_PORT are the defaults)
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from odoo_tests import ADDON, addons_path, odoo_available


def addon_installed(database):
    """Whether ``database`` exists with the addon installed (psql: no Odoo import needed)."""
    query = f"SELECT 1 FROM ir_module_module WHERE name = '{ADDON}' AND state = 'installed'"
    result = subprocess.run(
        ["psql", "--no-psqlrc", "-tAq", "-d", database, "-c", query],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and result.stdout.strip() == "1"


def odoo_command(database, port, initialise):
    command = [
        sys.executable,
        "-m",
        "odoo",
        "--database",
        database,
        "--addons-path",
        addons_path(),
        "--http-port",
        str(port),
        "--db-filter",
        f"^{database}$",
    ]
    return [*command, "--init", ADDON] if initialise else command


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("OBM_DB") or "outbound_demo")
    parser.add_argument("--port", type=int, default=int(os.environ.get("OBM_PORT") or 8069))
    args = parser.parse_args()
    if not odoo_available():
        print(
            "Odoo 18 is not installed in this Python: run `make setup` (README 'Installing "
            "Odoo 18'), then `make run` again."
        )
        return 1
    initialise = not addon_installed(args.db)
    state = "new database, installing the addon with demo data" if initialise else "reused"
    print(f"Odoo on http://localhost:{args.port} (database {args.db}: {state}; admin / admin)")
    command = odoo_command(args.db, args.port, initialise)
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main())
