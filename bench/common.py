"""Shared helpers of the Odoo benchmarks (bench_import, bench_wizard, bench_send).

- **Databases.** ``obm_bench`` is a template: the addon and ``mass_mailing`` installed without
  demo data, rebuilt when the addon's files change (their fingerprint is the database comment).
  Each run works in a copy of it (``createdb -T``, a fraction of a second) that is dropped at
  the end, so a run leaves nothing behind and never sees the data of an earlier one.
- **Odoo in-process**: :func:`init_odoo` parses the configuration once, :func:`odoo_env` opens a
  registry cursor as the superuser and commits on success, as a cron worker would.
- **Fake servers as processes** (``outbound_bulk_messaging/tests/fakes.py``), so they never share
  the sender's GIL: :func:`smtp_sink`, :func:`fake_vonage`, :func:`tls_files`.
- **Measuring**: :func:`best_of`, :func:`wait_for_quiet` (other engineers share the two cores),
  :func:`machine_state`, peak RSS helpers.
- **Printing**: :func:`print_table`, :func:`target` ("target met" / "target MISSED").
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psutil
import psycopg2

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "outbound_bulk_messaging"
FAKES = ADDON / "tests" / "fakes.py"
# Another name (OBM_BENCH_DB) lets a patched copy of the addon keep its own template.
TEMPLATE_DB = os.environ.get("OBM_BENCH_DB", "obm_bench")
MODULES = ("outbound_bulk_messaging", "mass_mailing")
MiB = 2**20
HOST = "127.0.0.1"


def addons_path():
    """Odoo's addons folders and this repository, as the test runner computes them."""
    if str(ROOT / "tools") not in sys.path:
        sys.path.insert(0, str(ROOT / "tools"))
    from odoo_tests import addons_path as odoo_tests_addons_path

    return odoo_tests_addons_path()


# ---- COMMAND LINE


def add_common_arguments(parser):
    parser.add_argument("--runs", type=int, default=3, help="repetitions; the best is kept")
    parser.add_argument(
        "--quiet-timeout",
        type=float,
        default=30,
        help="seconds to wait, before each measurement, for the other processes of the machine "
        "to use less than --quiet-cores (0: do not wait)",
    )
    parser.add_argument("--quiet-cores", type=float, default=0.5)
    parser.add_argument("--keep-db", action="store_true", help="keep the run's database")
    parser.add_argument("--rebuild-db", action="store_true", help=f"rebuild {TEMPLATE_DB} first")
    parser.add_argument("--log-level", default="warn", help="Odoo's log level")
    return parser


def new_parser(doc):
    return add_common_arguments(
        argparse.ArgumentParser(
            description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
        )
    )


# ---- DATABASES


def _admin_connection():
    connection = psycopg2.connect(dbname="postgres")
    connection.autocommit = True
    return connection


def addon_fingerprint():
    """A digest of the addon's installable files: the template is rebuilt when it changes."""
    digest = hashlib.sha1()
    for path in sorted(ADDON.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".xml", ".csv"} and "tests" not in path.parts:
            digest.update(str(path.relative_to(ADDON)).encode())
            digest.update(path.read_bytes())
    return f"obm-bench {','.join(MODULES)} {digest.hexdigest()[:16]}"


def _database_comment(cursor, name):
    cursor.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
    )
    row = cursor.fetchone()
    return None if row is None else (row[0] or "")


def ensure_template_db(rebuild=False):
    """Create ``obm_bench`` with both modules unless it is there for the addon as it is now."""
    fingerprint = addon_fingerprint()
    with contextlib.closing(_admin_connection()) as connection, connection.cursor() as cursor:
        if not rebuild and _database_comment(cursor, TEMPLATE_DB) == fingerprint:
            return
        print(f"building the template database {TEMPLATE_DB} ({', '.join(MODULES)}) ...")
        started = time.monotonic()
        cursor.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        shutil.rmtree(_filestore(TEMPLATE_DB), ignore_errors=True)
        command = [
            sys.executable,
            "-m",
            "odoo",
            "--database",
            TEMPLATE_DB,
            "--addons-path",
            addons_path(),
            "--init",
            ",".join(MODULES),
            "--without-demo",
            "all",
            "--stop-after-init",
            "--max-cron-threads",
            "0",
            "--http-port",
            "0",
            "--log-level",
            "warn",
        ]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if result.returncode:
            raise RuntimeError(f"installing {TEMPLATE_DB} failed:\n{result.stderr[-4000:]}")
        cursor.execute(f"COMMENT ON DATABASE \"{TEMPLATE_DB}\" IS '{fingerprint}'")
        print(f"built {TEMPLATE_DB} in {time.monotonic() - started:.0f} s")


def _filestore(name):
    data_dir = os.path.expanduser("~/.local/share/Odoo")
    with contextlib.suppress(ImportError):
        from odoo.tools import config

        data_dir = config["data_dir"] or data_dir
    return Path(data_dir) / "filestore" / name


def _drop_database(cursor, name):
    cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(_filestore(name), ignore_errors=True)


def _drop_stale_copies(cursor, label):
    """Drop the copies left by runs of this bench that died (their process is gone)."""
    cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{TEMPLATE_DB}_%"])
    for (name,) in cursor.fetchall():
        match = re.fullmatch(rf"{TEMPLATE_DB}_{label}_(\d+)", name)
        if match and not psutil.pid_exists(int(match[1])):
            _drop_database(cursor, name)


@contextlib.contextmanager
def bench_database(label, keep=False, rebuild=False):
    """Yield the name of a fresh copy of the template database, dropped afterwards."""
    ensure_template_db(rebuild)
    name = f"{TEMPLATE_DB}_{label}_{os.getpid()}"
    with contextlib.closing(_admin_connection()) as connection, connection.cursor() as cursor:
        _drop_stale_copies(cursor, label)
        _drop_database(cursor, name)
        for attempt in range(10):
            try:
                cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
                break
            except psycopg2.errors.ObjectInUse:  # another bench is copying it right now
                if attempt == 9:
                    raise
                time.sleep(1)
    if _filestore(TEMPLATE_DB).is_dir():
        shutil.copytree(_filestore(TEMPLATE_DB), _filestore(name), dirs_exist_ok=True)
    try:
        yield name
    finally:
        close_odoo(name)
        if keep:
            print(f"kept database {name}")
        else:
            with (
                contextlib.closing(_admin_connection()) as connection,
                connection.cursor() as cursor,
            ):
                _drop_database(cursor, name)


# ---- ODOO IN-PROCESS


def init_odoo(log_level="warn"):
    """Configure Odoo once for this process: addons path, log level, no cron thread."""
    import odoo

    if not getattr(init_odoo, "done", False):
        odoo.tools.config.parse_config(
            [
                "--addons-path",
                addons_path(),
                "--log-level",
                log_level,
                "--max-cron-threads",
                "0",
            ]
        )
        init_odoo.done = True
    return odoo


@contextlib.contextmanager
def odoo_env(database, context=None):
    """An environment of the superuser on a new cursor; committed when the block succeeds."""
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry

    registry = Registry(database)
    with registry.cursor() as cr:
        yield api.Environment(cr, SUPERUSER_ID, dict(context or {}))


def close_odoo(database):
    """Close this process's connections to ``database`` so it can be dropped."""
    if "odoo" not in sys.modules:
        return
    from odoo import sql_db
    from odoo.modules.registry import Registry

    Registry.delete(database)
    sql_db.close_db(database)


# ---- DATA (the same people on both sides of a comparison)

EMAIL_FROM = "Acme Collections <collect@acme.example>"
SUBJECT = "Your account $ACCOUNT_REFERENCE"
BODY = (
    "Dear $ACCOUNT_NAME,\n\nour records show that account $ACCOUNT_REFERENCE is overdue. "
    "Please pay it or call us back.\n\nKind regards,\nAcme Collections"
)
# The same text for mass_mailing, in its QWeb syntax, on res.partner.
MAILING_BODY = (
    '<p>Dear <t t-out="object.name"/>,</p><p>our records show that account '
    '<t t-out="object.ref"/> is overdue. Please pay it or call us back.</p>'
    "<p>Kind regards,<br/>Acme Collections</p>"
)


def create_mail_server(env, port, host="127.0.0.1"):
    return env["ir.mail_server"].create(
        {
            "name": f"Bench sink {port}",
            "smtp_host": host,
            "smtp_port": port,
            "smtp_encryption": "none",
        }
    )


def create_campaign(env, name, mail_server=None, **values):
    """A campaign with one active list and an email template; (campaign, list, template)."""
    campaign = env["outbound.campaign"].create(
        dict(
            {
                "name": name,
                "email_from": EMAIL_FROM,
                "mail_server_id": mail_server.id if mail_server else False,
            },
            **values,
        )
    )
    outbound_list = env["outbound.list"].create(
        {"name": f"{name} list", "campaign_id": campaign.id, "state": "active"}
    )
    template = env["outbound.template"].create(
        {"name": f"{name} email", "campaign_id": campaign.id, "subject": SUBJECT, "body": BODY}
    )
    return campaign, outbound_list, template


def insert_accounts(env, outbound_list, count, *, email_every=20, start=1):
    """Insert ``count`` accounts in one statement (the import wizard is benchmarked apart).

    All have status unused (90 %) or call-back, so all are in the send wizard's default scope;
    one in ``email_every`` has no email address, which the send job skips with a reason. Every
    account has a distinct UK mobile number in E.164.
    """
    env.flush_all()
    env.cr.execute(
        """
        INSERT INTO outbound_account (
            list_id, reference, name, status, email, sms_number, sms_number_e164, data,
            create_uid, create_date, write_uid, write_date)
        SELECT %(list_id)s, 'ACC' || lpad(i::text, 8, '0'), 'Customer ' || i,
               CASE WHEN i %% 10 = 0 THEN 'callback' ELSE 'unused' END,
               CASE WHEN i %% %(email_every)s = 0 THEN NULL
                    ELSE 'customer' || i || '@example.com' END,
               '07' || lpad((400000000 + i)::text, 9, '0'),
               '+447' || lpad((400000000 + i)::text, 9, '0'),
               jsonb_build_object('amount', (i %% 997) || '.50', 'due_date', '2025-06-30'),
               %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
          FROM generate_series(%(start)s, %(stop)s) AS i
        """,
        {
            "list_id": outbound_list.id,
            "email_every": email_every,
            "uid": env.uid,
            "start": start,
            "stop": start + count - 1,
        },
    )
    env["outbound.account"].invalidate_model()
    return env.cr.rowcount


def insert_partners_like(env, outbound_list, limit=None):
    """res.partner records with the names, references and emails of the list's accounts.

    Inserted in SQL, with the stored fields mass_mailing reads (``email_normalized``,
    ``commercial_partner_id``, ``complete_name``) filled as the ORM would; returns their ids in
    the accounts' order.
    """
    env.flush_all()
    env.cr.execute(
        """
        INSERT INTO res_partner (
            name, complete_name, ref, email, email_normalized, active, type, is_company,
            partner_share, lang, create_uid, create_date, write_uid, write_date)
        SELECT name, name, reference, email, email, true, 'contact', false, true, 'en_US',
               %(uid)s, now() AT TIME ZONE 'UTC', %(uid)s, now() AT TIME ZONE 'UTC'
          FROM outbound_account
         WHERE list_id = %(list_id)s AND email IS NOT NULL
         ORDER BY id
         LIMIT %(limit)s
        RETURNING id
        """,
        {"list_id": outbound_list.id, "uid": env.uid, "limit": limit},
    )
    ids = sorted(row[0] for row in env.cr.fetchall())
    env.cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)", [ids])
    env["res.partner"].invalidate_model()
    return ids


def create_mailing(env, name, partner_ids, mail_server):
    """A mass_mailing on res.partner with the same text as :data:`BODY`."""
    return env["mailing.mailing"].create(
        {
            "subject": f"{name}: your account",
            "body_html": MAILING_BODY,
            "body_arch": MAILING_BODY,
            "mailing_model_id": env["ir.model"]._get_id("res.partner"),
            "mailing_domain": repr([("id", "in", partner_ids)]),
            "email_from": EMAIL_FROM,
            "mail_server_id": mail_server.id,
            "keep_archives": False,
        }
    )


def analyze(env, *tables):
    """Refresh the planner statistics after a bulk insert, as autovacuum soon would."""
    env.flush_all()
    for table in tables:
        env.cr.execute(f"ANALYZE {table}")


# ---- CHILD PROCESSES (a measure in a process of its own, so freed memory cannot hide growth)


def run_child(script, mode, database, *extra, log_level="warn", echo=False):
    """Run ``script --child mode --database database *extra``: the dict of its RESULT line.

    The child prints ``RESULT <json>`` (:func:`print_result`); with ``echo`` its other lines of
    output are printed here too.
    """
    command = [
        sys.executable,
        str(script),
        "--child",
        mode,
        "--database",
        database,
        "--log-level",
        log_level,
        *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = result.stdout.splitlines()
    results = [line for line in lines if line.startswith("RESULT ")]
    if echo:
        print("\n".join(line for line in lines if not line.startswith("RESULT ")), flush=True)
    if result.returncode or not results:
        raise RuntimeError(f"{mode} child failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return json.loads(results[-1].removeprefix("RESULT "))


def print_result(result):
    """The line a child's parent reads (:func:`run_child`)."""
    print("RESULT " + json.dumps(result), flush=True)


# ---- FAKE SERVERS (processes)


class FakeProcess:
    """A ``fakes.py`` server run as its own process, ready once it printed 'listening on'."""

    def __init__(self, args, directory, label):
        self.args = [sys.executable, str(FAKES), *args]
        self.label = label
        self.stderr_path = Path(directory) / f"{label}.stderr"
        self.process = None
        self.port = None

    def __enter__(self):
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                self.args, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=ROOT
            )
        line = self._read_line(timeout=20)
        match = re.search(r"listening on [\d.]+:(\d+)", line or "")
        if not match:
            self.__exit__()
            raise RuntimeError(f"{self.label} did not start: {self._stderr()}")
        self.port = int(match[1])
        return self

    def __exit__(self, *exc_info):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()

    def _read_line(self, timeout):
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return None
        return self.process.stdout.readline()

    def _stderr(self):
        with contextlib.suppress(OSError):
            return self.stderr_path.read_text()[-2000:]
        return ""


class JsonlServer(FakeProcess):
    """A fake that appends one JSON line per accepted message to ``jsonl``."""

    def __init__(self, args, directory, label):
        self.jsonl = Path(directory) / f"{label}.jsonl"
        self.jsonl.touch()
        super().__init__([*args, "--jsonl", str(self.jsonl)], directory, label)

    def records(self):
        with open(self.jsonl, encoding="utf-8") as stream:
            return [json.loads(line) for line in stream if line.strip()]

    def count(self):
        with open(self.jsonl, "rb") as stream:
            return sum(1 for line in stream if line.strip())

    def wait_for_count(self, count, timeout=30):
        """Wait until ``count`` records arrived (the sink writes before its 250 reply)."""
        deadline = time.monotonic() + timeout
        while (found := self.count()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return found


def smtp_sink(directory, label="smtp"):
    """The loopback SMTP sink as a process: ``with smtp_sink(d) as sink: sink.port``."""
    return JsonlServer(["smtp", "--port", "0"], directory, label)


def tls_files(directory):
    """(cert, key, ca) written by ``fakes.py tls`` into ``directory``."""
    result = subprocess.run(
        [sys.executable, str(FAKES), "tls", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    cert, key, ca = result.stdout.split()
    return cert, key, ca


def fake_vonage(directory, cert, key, label="vonage"):
    """The HTTPS fake Vonage as a process (api key ``test-key``, secret ``test-secret``)."""
    return JsonlServer(["vonage", "--port", "0", "--cert", cert, "--key", key], directory, label)


def parse_utc(text):
    """Seconds since the epoch of an ISO timestamp written by the fakes."""
    return datetime.fromisoformat(text).timestamp()


@contextlib.contextmanager
def temporary_directory(prefix):
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        yield Path(directory)


# ---- MEASURING


def best_of(runs, measure):
    """Call ``measure()`` (returning seconds) ``runs`` times: (best, all)."""
    times = [measure() for _ in range(runs)]
    return min(times), times


def timed(function, *args, **kwargs):
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def busy_cores(interval=1.0):
    """Cores kept busy by the whole machine during ``interval`` seconds."""
    return psutil.cpu_percent(interval=interval) * psutil.cpu_count() / 100


def wait_for_quiet(args, label=""):
    """Wait (up to ``--quiet-timeout`` s) until the machine is quiet; print what was found.

    Called while this process is idle, so what it sees is the other engineers' work.
    """
    started = time.monotonic()
    busy = busy_cores(0.5)
    while busy > args.quiet_cores and time.monotonic() - started < args.quiet_timeout:
        busy = busy_cores(1.0)
    waited = time.monotonic() - started
    state = machine_state(busy)
    if label:
        print(f"  [{label}: {state}, waited {waited:.0f} s]", flush=True)
    return busy


def machine_state(busy=None):
    busy = busy_cores(0.5) if busy is None else busy
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}, others busy {busy:.2f} of {os.cpu_count()}"


def rss():
    return psutil.Process().memory_info().rss


def reset_peak_rss():
    """Reset the kernel's peak RSS (VmHWM) of this process; False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as stream:
            stream.write("5")
    except OSError:
        return False
    return True


def peak_rss():
    """The peak RSS (VmHWM) in bytes since the start or the last :func:`reset_peak_rss`."""
    with open("/proc/self/status") as stream:
        for line in stream:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


# ---- PRINTING


def print_header(title, args):
    print(f"== {title}")
    print(f"   {datetime.now():%Y-%m-%d %H:%M:%S}, {machine_state()}, best of {args.runs} runs")


def print_table(headers, rows, title=None):
    """Print ``rows`` (lists of already formatted cells) under ``headers``, aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(h)), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}")

    def line(values):
        first = f"{values[0]:<{widths[0]}}"
        rest = [f"{value:>{width}}" for value, width in zip(values[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    print(line([str(h) for h in headers]))
    print("  ".join("-" * width for width in widths))
    for row in cells:
        print(line(row))


def target(label, ok, detail):
    """Print one target's verdict; never an exit code (a missed target is a result)."""
    print(f"{'target met   ' if ok else 'target MISSED'}  {label}: {detail}")
    return ok
