#!/usr/bin/env python3
"""Regenerate the README's screenshots (docs/*.png: send wizard, job, curve, analysis).

Installs the addon with its demo data in a fresh database and runs the test tagged
``outbound_screenshots`` alone (``TestScreenshots`` in outbound_bulk_messaging/tests/test_ui.py):
Odoo's headless Chromium, 1280x800, opens the send wizard of the demo campaign, sends its emails
to a loopback SMTP sink and shows the job. The other screens (lists, forms, kanban) are saved
for review in the log folder. Fails, like tools/odoo_tests.py, on a failed test or any WARNING /
ERROR line in the Odoo log.

Usage: tools/screenshots.py [--out DIR] [--log-dir DIR] [--keep-db]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from odoo_tests import ROOT, drop_database, judge_log, odoo_available, odoo_command

TAGS = "outbound_screenshots/outbound_bulk_messaging"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs"), help="where the PNGs go")
    parser.add_argument("--log-dir", default=None)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    if not odoo_available():
        print("Odoo 18 is not installed in this Python: no screenshots (see README).")
        return 1
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="obm-screenshots-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / "odoo-screenshots.log"
    log_file.unlink(missing_ok=True)
    out, review = Path(args.out).resolve(), log_dir / "review"
    database = f"obm_screenshots_{os.getpid()}"
    drop_database(database)
    print(f"screenshots: demo database {database}, log {log_file}")
    started = time.monotonic()
    env = dict(os.environ, OBM_SCREENSHOT_DIR=str(out), OBM_REVIEW_DIR=str(review))
    command = odoo_command(database, True, TAGS, log_file)
    returncode = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    bad, run, failed = judge_log(log_file)
    if not args.keep_db:
        drop_database(database)
    for line in bad:
        print(f"  {line}")
    ok = returncode == 0 and not bad and run > 0 and not failed
    print(
        f"screenshots: {'ok' if ok else 'FAILED'} in {time.monotonic() - started:.0f}s "
        f"({run} tests run, {failed} failed, {len(bad)} WARNING/ERROR lines)"
    )
    if ok:
        for path in sorted(out.glob("send_*.png")):
            print(f"  {path}")
        print(f"  other screens, for review: {review}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
