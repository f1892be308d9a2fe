"""Processes and data for the fault scenarios: Odoo servers, the SMTP sink, the fake Vonage.

Everything talks over loopback to processes of its own; the database is reached from this
(pytest) process through Odoo's registry, one short committed cursor at a time, so that no
transaction of the tests holds a row an Odoo server is working on.
"""

import collections
import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAKES = ROOT / "outbound_bulk_messaging" / "tests" / "fakes.py"
FAULT_SINK = Path(__file__).resolve().parent / "fault_sink.py"
INTERRUPTED = "interrupted: outcome unknown"
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \d+ ([A-Z]+) ")
CRON_NAME = "Outbound: send due batches"
# The shipped dispatch cron and its copies ("… (2)"), made by Settings > Outbound > Dispatchers.
CRON_JOB = rf"Job '{CRON_NAME}(?: \(\d+\))?' \(\d+\)"
CRON_DONE = re.compile(rf"{CRON_JOB} done in ([\d.]+)s")
BATCH_DONE = re.compile(r"Send job (\S+): batch (\d+): (\d+) sent, (\d+) failed, (\d+) requeued")


# Rows of the table printed at the end of the session: (scenario, {column: value}).
RESULTS = []


def record(scenario, **values):
    """Add a row to the closing table (and print it at once, for ``pytest -s``)."""
    RESULTS.append((scenario, values))
    print(f"\n[{scenario}] " + ", ".join(f"{key}={value}" for key, value in values.items()))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.2, on_wait=None):
    """Return predicate()'s first true value, polling; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        if on_wait:
            on_wait()
        time.sleep(interval)


def addons_path():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import odoo_tests
    finally:
        sys.path.pop(0)
    return odoo_tests.addons_path()


# ---- PROCESSES


class Process:
    """A child process in a session of its own, stopped by its own id only."""

    def __init__(self, command, log_path, name):
        self.name = name
        self.log_path = Path(log_path)
        self.command = command
        self.popen = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.command,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    @property
    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def kill9(self):
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout=15):
        if not self.alive:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_text(self):
        return self.log_path.read_text(encoding="utf-8", errors="replace")


class FakeServer(Process):
    """``fakes.py`` (or ``fault_sink.py``) listening on a port, writing one JSON line per item."""

    def __init__(self, command, directory, name):
        directory = Path(directory)
        self.jsonl = directory / f"{name}.jsonl"
        self.jsonl.touch()
        super().__init__([*command, "--jsonl", str(self.jsonl)], directory / f"{name}.out", name)
        self.port = None

    def start(self, timeout=20):
        super().start()

        def listening():
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.log_text())
            assert self.alive, f"{self.name} exited:\n{self.log_text()}"
            return match and int(match.group(1))

        self.port = wait_until(listening, timeout, f"{self.name} to listen")
        return self

    def records(self):
        """Every complete JSON line written so far."""
        with open(self.jsonl, encoding="utf-8") as stream:
            lines = stream.read().split("\n")
        return [json.loads(line) for line in lines[:-1] if line]

    def count(self):
        with open(self.jsonl, "rb") as stream:
            return stream.read().count(b"\n")


def smtp_sink(directory, name="sink", **faults):
    """The SMTP sink: ``fakes.py smtp`` as shipped, or ``fault_sink.py`` with fault options."""
    if faults:
        options = []
        for key, value in faults.items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                options += [f"--{key.replace('_', '-')}", str(item)]
        command = [sys.executable, str(FAULT_SINK), *options]
    else:
        command = [sys.executable, str(FAKES), "smtp"]
    return FakeServer(command, directory, name).start()


def fake_vonage(directory, tls, mode, name=None, delay=3.0):
    cert, key, _ca = tls
    command = [
        sys.executable,
        str(FAKES),
        "vonage",
        "--cert",
        cert,
        "--key",
        key,
        "--mode",
        mode,
        "--delay",
        str(delay),
    ]
    return FakeServer(command, directory, name or f"vonage-{mode}").start()


def tls_files(directory):
    directory = Path(directory)
    output = subprocess.run(
        [sys.executable, str(FAKES), "tls", str(directory)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return tuple(output)


class Nudger:
    """``on_wait`` for wait_until: wakes the cron threads every ``every`` seconds."""

    def __init__(self, database, every=5.0):
        self.database = database
        self.every = every
        self.last = time.monotonic()

    def __call__(self):
        if time.monotonic() - self.last >= self.every:
            self.database.nudge()
            self.last = time.monotonic()


class OdooServer(Process):
    """``python3 -m odoo`` on the test database: HTTP on a free port, cron threads sending."""

    def __init__(self, database, directory, name="odoo", extra=()):
        self.database = database
        self.http_port = free_port()
        log = Path(directory) / f"{name}.log"
        command = [
            sys.executable,
            "-m",
            "odoo",
            "--database",
            database,
            "--db-filter",
            f"^{database}$",
            "--addons-path",
            addons_path(),
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(self.http_port),
            "--max-cron-threads",
            "1",
            "--log-level",
            "info",
            "--logfile",
            str(log),
            "--no-database-list",
            *extra,
        ]
        super().__init__(command, Path(directory) / f"{name}.out", name)
        self.odoo_log = log
        self.offset = 0

    def start(self, timeout=90):
        super().start()
        wait_until(self.ready, timeout, f"{self.name} to load {self.database}")
        return self

    def ready(self):
        assert self.alive, f"{self.name} exited:\n{self.log_text()}"
        return "Registry loaded in" in self.odoo_text() and self.health()

    def health(self):
        """True when the HTTP workers answer (the server is responsive)."""
        try:
            with socket.create_connection(("127.0.0.1", self.http_port), timeout=5) as sock:
                sock.sendall(b"GET /web/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                return re.match(rb"HTTP/1\.[01] 200 ", sock.recv(64)) is not None
        except OSError:
            return False

    def odoo_text(self):
        if not self.odoo_log.exists():
            return ""
        return self.odoo_log.read_text(encoding="utf-8", errors="replace")

    def mark(self):
        """Remember the end of the log: cron_runs() and batches() then read from here."""
        self.offset = len(self.odoo_text())

    def new_text(self):
        return self.odoo_text()[self.offset :]

    def cron_runs(self):
        """Durations (s) of the dispatch cron's runs logged since mark()."""
        return [float(seconds) for seconds in CRON_DONE.findall(self.new_text())]

    def cron_idle(self):
        """True when every run of the dispatch cron this server started has ended."""
        text = self.odoo_text()
        started = len(re.findall(rf"{CRON_JOB} starting", text))
        ended = len(CRON_DONE.findall(text)) + len(
            re.findall(rf"{CRON_JOB} server action #\d+ failed", text)
        )
        return started == ended

    def batches(self):
        """(job name, batch id, sent, failed, requeued) of the batches logged since mark()."""
        return [
            (job, int(batch), int(sent), int(failed), int(requeued))
            for job, batch, sent, failed, requeued in BATCH_DONE.findall(self.new_text())
        ]

    def problems(self, allowed=()):
        """ERROR/CRITICAL lines, and WARNING lines not matching ``allowed``, since mark()."""
        bad = []
        for line in self.new_text().splitlines():
            match = LOG_LINE.match(line)
            if not match or match.group(2) not in ("WARNING", "ERROR", "CRITICAL"):
                continue
            if match.group(2) == "WARNING" and any(re.search(a, line) for a in allowed):
                continue
            bad.append(line)
        return bad


# ---- DATABASE


class Database:
    """The test database as seen from this process: short committed cursors only."""

    def __init__(self, name, log_file):
        import odoo
        from odoo.modules.registry import Registry

        odoo.tools.config.parse_config(
            [
                "--database",
                name,
                "--addons-path",
                addons_path(),
                "--log-level",
                "warn",
                "--logfile",
                str(log_file),
                "--max-cron-threads",
                "0",
            ],
            setup_logging=True,
        )
        self.name = name
        self.registry = Registry(name)

    @contextlib.contextmanager
    def env(self):
        """An environment on a new cursor, committed when the block ends without error."""
        from odoo import SUPERUSER_ID, api

        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        # As Odoo does after each request: the servers drop their cached copies of what
        # changed (a system parameter read through get_param, for one).
        self.registry.signal_changes()

    def sql(self, query, params=None):
        with self.env() as env:
            env.cr.execute(query, params or ())
            return env.cr.fetchall() if env.cr.description else None

    def set_param(self, key, value):
        with self.env() as env:
            env["ir.config_parameter"].set_param(key, value)

    def nudge(self):
        """Wake the cron threads now (as a trigger's commit does) instead of up to 60 s later."""
        with self.env() as env:
            for cron in env["outbound.send.job"]._get_dispatch_crons():
                cron._trigger()

    def set_dispatchers(self, count):
        """Save Settings > Outbound > Dispatchers as the administrator does."""
        with self.env() as env:
            admin = env.ref("base.user_admin")
            settings = env["res.config.settings"].with_user(admin)
            settings.create({"outbound_dispatchers": count}).execute()

    def dispatch_crons(self):
        """Ids of the active dispatch crons, the shipped one first."""
        with self.env() as env:
            return env["outbound.send.job"]._get_dispatch_crons().ids

    @contextlib.contextmanager
    def cron_held(self, cron_id):
        """Hold a cron's row as the cron worker running it does (Odoo's _acquire_one_job)."""
        with self.registry.cursor() as cr:
            # Waits for a run in progress, then locks the row as that run left it.
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute("SELECT id FROM ir_cron WHERE id = %s FOR NO KEY UPDATE", [cron_id])
            yield

    # ---- data

    def create_campaign(
        self, name, sink_port=None, gateway=None, email_from="ops@acme.example", **campaign
    ):
        with self.env() as env:
            values = {"name": name, "email_from": email_from, **campaign}
            if sink_port:
                values["mail_server_id"] = (
                    env["ir.mail_server"]
                    .create(
                        {
                            "name": f"{name} sink",
                            "smtp_host": "127.0.0.1",
                            "smtp_port": sink_port,
                            "smtp_encryption": "none",
                        }
                    )
                    .id
                )
            if gateway:
                values["sms_gateway_id"] = env["outbound.sms.gateway"].create(gateway).id
                values["sms_sender"] = "ACME"
            campaign = env["outbound.campaign"].create(values)
            template = env["outbound.template"].create(
                {
                    "name": f"{name} template",
                    "campaign_id": campaign.id,
                    "subject": "Your balance, $ACCOUNT_NAME",
                    "body": "Dear $ACCOUNT_NAME, your reference is $ACCOUNT_REFERENCE.",
                }
            )
            outbound_list = env["outbound.list"].create(
                {"name": f"{name} list", "campaign_id": campaign.id}
            )
            return campaign.id, template.id, outbound_list.id

    def add_email_accounts(self, list_id, count, prefix):
        """``count`` accounts with distinct addresses, in one statement (as an import would)."""
        self.sql(
            """
            INSERT INTO outbound_account (list_id, reference, name, status, email,
                                          create_uid, create_date, write_uid, write_date)
            SELECT %(list)s, %(prefix)s || lpad(n::text, 6, '0'), 'Account ' || n, 'unused',
                   %(prefix)s || lpad(n::text, 6, '0') || '@example.com',
                   1, now() AT TIME ZONE 'UTC', 1, now() AT TIME ZONE 'UTC'
              FROM generate_series(1, %(count)s) n
            """,
            {"list": list_id, "prefix": prefix.lower(), "count": count},
        )

    def add_sms_accounts(self, list_id, count, prefix):
        with self.env() as env:
            env.company.country_id = env.ref("base.uk")
            env["outbound.account"].create(
                [
                    {
                        "list_id": list_id,
                        "reference": f"{prefix}{index:04d}",
                        "name": f"Account {index}",
                        "sms_number": f"+447911123{index:03d}",
                    }
                    for index in range(1, count + 1)
                ]
            )

    def send(self, campaign_id, template_id, channel="email", batch_size=10_000):
        """Create the job as the send wizard does; its commit wakes the dispatch cron."""
        with self.env() as env:
            wizard = (
                env["outbound.send.wizard"]
                .with_context(active_model="outbound.campaign", active_id=campaign_id)
                .create({"template_id": template_id, "batch_size": batch_size})
            )
            action = wizard.action_send_email() if channel == "email" else wizard.action_send_sms()
            return action["res_id"]

    def job(self, job_id):
        """(job state, its reason, {message state: count})."""
        rows = self.sql(
            "SELECT state, count(*) FROM outbound_message WHERE job_id = %s GROUP BY state",
            [job_id],
        )
        ((state, reason),) = self.sql(
            "SELECT state, state_reason FROM outbound_send_job WHERE id = %s", [job_id]
        )
        return state, reason, collections.Counter(dict(rows))

    def messages(self, job_id):
        """{message id: (address, state, failure reason, batch id)}."""
        rows = self.sql(
            "SELECT id, address, state, failure_reason, batch_id FROM outbound_message "
            "WHERE job_id = %s",
            [job_id],
        )
        return {row[0]: row[1:] for row in rows}

    def cancel(self, job_id):
        with self.env() as env:
            env["outbound.send.job"].browse(job_id).action_cancel()

    def job_settled(self, job_id):
        """The job's state when it stopped moving on its own (done, paused), else None."""
        state, _reason, counts = self.job(job_id)
        if state in ("done", "paused", "cancelled") and not counts.get("sending"):
            return state
        return None
