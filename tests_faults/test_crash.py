"""kill -9 of the Odoo server in the middle of a 10 000-message job, then a restart."""

import collections
import time

from harness import INTERRUPTED, Nudger, OdooServer, record, smtp_sink, wait_until

ACCOUNTS = 10_000
KILL_AT = 3_050  # mid-batch: some of the batch in flight arrived, some not
BATCH = 100  # DISPATCH_BATCH of models/outbound_dispatcher.py


def test_kill_9_mid_job_then_restart(database, workdir, processes):
    sink = processes.add(smtp_sink(workdir, "crash-sink"))
    first = processes.add(OdooServer(database.name, workdir, "crash-odoo-1")).start()
    campaign, template, outbound_list = database.create_campaign("Crash", sink_port=sink.port)
    database.add_email_accounts(outbound_list, ACCOUNTS, "crash")
    job = database.send(campaign, template, batch_size=ACCOUNTS)  # unpaced

    wait_until(lambda: sink.count() >= KILL_AT, 180, f"{KILL_AT} messages", 0.05, Nudger(database))
    first.kill9()
    killed = time.monotonic()
    at_kill = sink.count()
    _state, _reason, states_at_kill = database.job(job)

    second = processes.add(OdooServer(database.name, workdir, "crash-odoo-2")).start()
    restarted = time.monotonic() - killed
    second.mark()
    settled = wait_until(
        lambda: database.job_settled(job), 300, "the job to end", 0.2, Nudger(database)
    )
    recovered = time.monotonic() - killed

    received = collections.Counter(record["to"][0] for record in sink.records())
    messages = database.messages(job).values()
    states = collections.Counter(state for _address, state, _reason, _batch in messages)
    sent = {address for address, state, _reason, _batch in messages if state == "sent"}
    interrupted = {
        address: batch
        for address, state, reason, batch in messages
        if state == "failed" and INTERRUPTED in (reason or "")
    }
    duplicates = sum(count - 1 for count in received.values())
    arrived_not_sent = set(received) - sent
    record(
        "crash: kill -9 at ~3000, restart",
        sent=len(sent),
        failed=f"{len(interrupted)} interrupted",
        dup=duplicates,
        job=settled,
        cron_max=f"{max(second.cron_runs(), default=0):.1f}s",
        time=f"{recovered:.1f}s kill->done",
        note=f"killed at {at_kill} received ({dict(states_at_kill)}); restart {restarted:.1f}s; "
        f"{len(arrived_not_sent)} arrived but marked interrupted",
    )
    assert settled == "done"
    assert duplicates == 0, [address for address, count in received.items() if count > 1][:10]
    assert not states.get("queued") and not states.get("sending"), states
    assert states == {"sent": len(sent), "failed": len(interrupted)}, states
    assert sent <= set(received), f"{len(sent - set(received))} sent messages never arrived"
    assert arrived_not_sent <= set(interrupted), "arrived, not marked sent, not interrupted"
    assert len(set(interrupted.values())) <= 1, "more than one batch interrupted"
    assert len(interrupted) <= BATCH
    assert len(sent) + len(interrupted) == ACCOUNTS
