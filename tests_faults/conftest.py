"""Fixtures of the fault scenarios: a fresh database, child processes, the table of numbers.

Run with ``make test-faults`` (``tools/run_faults.py``); not part of the default ``pytest`` run
(``testpaths`` is ``tests``). Every scenario starts real processes on loopback: Odoo servers
(``python3 -m odoo`` with cron threads), the SMTP sink and the fake Vonage of
``outbound_bulk_messaging/tests/fakes.py``. Logs stay in the folder printed at the end.
"""

import os
import subprocess
import sys
import time

import harness
import pytest

COLUMNS = [
    ("sent", "sent"),
    ("failed", "failed"),
    ("dup", "dup"),
    ("job", "job"),
    ("cron_max", "longest cron run"),
    ("time", "time"),
    ("note", "note"),
]


def pytest_configure(config):
    # Odoo's imports warn about their own dependencies; not what these scenarios are about.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("obm-faults", numbered=True)
    os.environ["OBM_FAULTS_LOGS"] = str(path)
    return path


@pytest.fixture(scope="session")
def database(workdir):
    """A fresh database with the addon (no demo data), dropped at the end of the session."""
    name = f"obm_fault_{os.getpid()}"
    subprocess.run(["dropdb", "--if-exists", name], check=False, capture_output=True)
    log = workdir / "install.log"
    started = time.monotonic()
    command = [
        sys.executable,
        "-m",
        "odoo",
        "--database",
        name,
        "--addons-path",
        harness.addons_path(),
        "--init",
        "outbound_bulk_messaging",
        "--without-demo",
        "all",
        "--stop-after-init",
        "--max-cron-threads",
        "0",
        "--http-port",
        str(harness.free_port()),
        "--http-interface",
        "127.0.0.1",
        "--log-level",
        "warn",
        "--logfile",
        str(log),
    ]
    install = subprocess.run(command, cwd=harness.ROOT, check=False)
    assert install.returncode == 0, f"install failed, see {log}"
    print(f"\ndatabase {name} installed in {time.monotonic() - started:.0f}s")
    db = harness.Database(name, workdir / "pytest-odoo.log")
    try:
        yield db
    finally:
        import odoo

        odoo.sql_db.close_db(name)
        subprocess.run(["dropdb", "--if-exists", name], check=False, capture_output=True)


@pytest.fixture
def processes():
    """Register started processes here: each is stopped (by its own pid) when the test ends."""
    started = []

    class Started:
        def add(self, process):
            started.append(process)
            return process

    yield Started()
    for process in reversed(started):
        process.stop()


def pytest_terminal_summary(terminalreporter):
    if not harness.RESULTS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault scenarios: numbers")
    header = ["scenario", *(title for _key, title in COLUMNS)]
    rows = [
        [scenario, *(str(values.get(key, "")) for key, _title in COLUMNS)]
        for scenario, values in harness.RESULTS
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if os.environ.get("OBM_FAULTS_LOGS"):
        write(f"logs: {os.environ['OBM_FAULTS_LOGS']}")
