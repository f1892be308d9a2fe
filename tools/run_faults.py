#!/usr/bin/env python3
"""Run the fault scenarios of tests_faults/ (crash, scale-out, failing providers).

They start real Odoo server processes on a fresh database, kill, race and starve them, so they
need Odoo 18: without an importable ``odoo`` this prints one loud line and succeeds, as
``tools/odoo_tests.py`` does. Otherwise it runs ``pytest tests_faults -q`` and exits with
pytest's code; extra arguments go to pytest (``-k crash``, ``-x``, ``-s``).

Usage: tools/run_faults.py [PYTEST ARGS]
"""

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from odoo_tests import ROOT, odoo_available


def main(argv):
    if not odoo_available():
        print(
            "!!!!! ODOO 18 IS NOT INSTALLED: the fault scenarios (crash, scale-out, failing "
            "providers) were SKIPPED (see README 'Installing Odoo 18') !!!!!"
        )
        return 0
    command = [sys.executable, "-m", "pytest", "tests_faults", "-q", *argv]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
