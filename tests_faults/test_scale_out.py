"""Several Odoo servers on one PostgreSQL dispatching the same jobs: no duplicate, throughput.

Odoo runs one scheduled action in one cron worker at a time, across all servers (it locks the
``ir_cron`` row while the action runs). With the one dispatch cron the addon ships, a second
server is a standby that takes over when the first dies, not a second sender; two
*Dispatchers* (Settings > Outbound, which keeps that many copies of the scheduled action) let
two servers send the same job side by side.
"""

import collections
import time

from harness import Nudger, OdooServer, record, smtp_sink, wait_until

ACCOUNTS = 5_000


def _dispatch_job(database, workdir, label, servers):
    """Send one job of ACCOUNTS messages with ``servers`` running; return the numbers."""
    sink = smtp_sink(workdir, f"scale-sink-{label}")
    try:
        campaign, template, outbound_list = database.create_campaign(
            f"Scale {label}", sink_port=sink.port
        )
        database.add_email_accounts(outbound_list, ACCOUNTS, f"scale{label}")
        for server in servers:
            server.mark()
        started = time.monotonic()
        job = database.send(campaign, template, batch_size=ACCOUNTS)  # wakes every dispatcher
        settled = wait_until(
            lambda: database.job_settled(job), 300, f"job {label}", 0.2, Nudger(database)
        )
        elapsed = time.monotonic() - started
        received = collections.Counter(line["to"][0] for line in sink.records())
    finally:
        sink.stop()
    ((job_name,),) = database.sql("SELECT name FROM outbound_send_job WHERE id = %s", [job])
    _state, _reason, states = database.job(job)
    by_server = {
        server.name: sum(sent for name, _b, sent, _f, _r in server.batches() if name == job_name)
        for server in servers
    }
    return {
        "settled": settled,
        "states": states,
        "received": received,
        "elapsed": elapsed,
        "rate": states.get("sent", 0) / elapsed,
        "by_server": by_server,
        "cron_max": max((s for server in servers for s in server.cron_runs()), default=0),
    }


def _check_and_record(scenario, result):
    duplicates = sum(count - 1 for count in result["received"].values())
    record(
        scenario,
        sent=result["states"].get("sent", 0),
        failed=result["states"].get("failed", 0),
        dup=duplicates,
        job=result["settled"],
        cron_max=f"{result['cron_max']:.1f}s",
        time=f"{result['elapsed']:.1f}s",
        note=f"{result['rate']:.0f} msg/s; sent per server {result['by_server']}",
    )
    assert result["settled"] == "done"
    assert duplicates == 0
    assert result["states"] == {"sent": ACCOUNTS}, result["states"]
    assert len(result["received"]) == ACCOUNTS
    return result


def test_one_then_two_servers_share_jobs_without_duplicates(database, workdir, processes):
    first = processes.add(OdooServer(database.name, workdir, "scale-odoo-a")).start()
    one = _check_and_record("scale-out: 1 server", _dispatch_job(database, workdir, "one", [first]))
    second = processes.add(OdooServer(database.name, workdir, "scale-odoo-b")).start()
    shipped = _check_and_record(
        "scale-out: 2 servers, 1 dispatch cron",
        _dispatch_job(database, workdir, "two", [first, second]),
    )
    database.set_dispatchers(2)
    try:
        assert len(database.dispatch_crons()) == 2
        both = _check_and_record(
            "scale-out: 2 servers, 2 dispatchers",
            _dispatch_job(database, workdir, "two-crons", [first, second]),
        )
    finally:
        second.stop()
        first.stop()
        database.set_dispatchers(1)
    assert len(database.dispatch_crons()) == 1
    print(
        f"\nthroughput: 1 server {one['rate']:.0f} msg/s, 2 servers with the shipped cron "
        f"{shipped['rate']:.0f} msg/s, 2 servers with 2 dispatchers {both['rate']:.0f} msg/s"
    )
    # With two dispatchers both servers take batches of the same job.
    assert all(both["by_server"].values()), both["by_server"]


def test_fewer_dispatchers_while_one_is_running(database, workdir, processes):
    """Lowering the setting while a copy runs: the save works (Odoo refuses to write a running
    cron, so the copy is left alone) and the copy archives itself at its next run."""
    server = processes.add(OdooServer(database.name, workdir, "retire-odoo")).start()
    database.set_dispatchers(2)
    shipped, copy = database.dispatch_crons()
    try:
        with database.cron_held(copy):
            database.set_dispatchers(1)
            assert database.dispatch_crons() == [shipped, copy]
        server.mark()
        database.nudge()
        wait_until(lambda: database.dispatch_crons() == [shipped], 90, "the copy to retire")
        assert f"Dispatch cron {copy} retires" in server.new_text()
        assert not server.problems()
        # Raising the setting again brings the same copy back rather than a new one.
        database.set_dispatchers(2)
        assert database.dispatch_crons() == [shipped, copy]
    finally:
        # The copy may be running again (woken when it came back): then it retires at its run.
        database.set_dispatchers(1)
        wait_until(
            lambda: database.dispatch_crons() == [shipped],
            90,
            "one dispatcher again",
            on_wait=Nudger(database, every=1),
        )
    record("dispatchers: 2 -> 1 while one runs", note=f"copy {copy} retired at its next run")
