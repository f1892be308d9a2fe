"""A prefork cron worker stays within --limit-time-real-cron while a big job is being sent.

Odoo 18 runs a scheduled action that reports work remaining (``_notify_progress``) again at
once, up to ``MAX_BATCH_PER_CRON_JOB`` times, in the same turn of the cron worker, and its
watchdog kills a worker whose turn outlasts ``--limit-time-real-cron`` (default: the 120 s of
``--limit-time-real``). A worker killed while sending leaves a batch 'interrupted': messages
failed with an unknown outcome although nothing was wrong. The dispatch time budget
(``outbound.dispatch_time_budget``) must therefore bound the whole turn, not each run.
"""

import collections
import re
import time

from harness import (
    INTERRUPTED,
    Nudger,
    OdooServer,
    free_port,
    record,
    smtp_sink,
    wait_until,
)

LIMIT = 12  # --limit-time-real-cron, seconds
BUDGET = 8  # outbound.dispatch_time_budget, seconds: below the limit, as documented
ACCOUNTS = 500
STALL = 0.02  # seconds the relay takes per message: ~40 messages/s, so the job lasts ~15-25 s
KILLED = re.compile(r"WorkerCron \((\d+)\) timeout after \d+s")


def test_prefork_cron_worker_is_never_killed_mid_batch(database, workdir, processes):
    database.set_param("outbound.dispatch_time_budget", str(BUDGET))
    try:
        sink = processes.add(smtp_sink(workdir, "prefork-sink", stall=STALL))
        extra = [
            "--workers",
            "2",
            "--limit-time-real-cron",
            str(LIMIT),
            "--gevent-port",
            str(free_port()),
        ]
        server = processes.add(OdooServer(database.name, workdir, "prefork-odoo", extra)).start()
        campaign, template, outbound_list = database.create_campaign("Prefork", sink.port)
        database.add_email_accounts(outbound_list, ACCOUNTS, "prefork")
        started = time.monotonic()
        job = database.send(campaign, template, batch_size=ACCOUNTS)
        settled = wait_until(
            lambda: database.job_settled(job), 240, "the job to end", 0.5, Nudger(database)
        )
        elapsed = time.monotonic() - started
    finally:
        database.set_param("outbound.dispatch_time_budget", False)
    received = collections.Counter(line["to"][0] for line in sink.records())
    messages = database.messages(job).values()
    states = collections.Counter(state for _address, state, _reason, _batch in messages)
    interrupted = sum(1 for _a, _s, reason, _b in messages if INTERRUPTED in (reason or ""))
    kills = set(KILLED.findall(server.odoo_text()))  # the pids of the killed workers
    duplicates = sum(count - 1 for count in received.values())
    runs = server.cron_runs()
    record(
        f"prefork: cron limit {LIMIT}s, budget {BUDGET}s",
        sent=states.get("sent", 0),
        failed=f"{interrupted} interrupted" if interrupted else states.get("failed", 0),
        dup=duplicates,
        job=settled,
        cron_max=f"{max(runs, default=0):.1f}s",
        time=f"{elapsed:.1f}s",
        note=f"{len(kills)} cron worker(s) killed by the watchdog; {len(runs)} cron runs",
    )
    assert not kills, kills
    assert interrupted == 0
    assert duplicates == 0
    assert settled == "done"
    assert states == {"sent": ACCOUNTS}, states
