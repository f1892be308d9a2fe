"""Slow and failing providers, end to end through a real Odoo server and its cron thread.

Each scenario sends a small job through an SMTP sink or a fake Vonage that misbehaves in one
way, waits for the dispatcher to settle, then checks what a user would: the job is paused with
the provider's words or the message failed with a clear reason, nothing is left 'sending', no
address got a message twice, and the cron run that met the fault ended within its time budget
plus the time one send may take (the SMTP or gateway timeout, the throttling waits).
"""

import collections
import dataclasses
import time

import pytest
from harness import (
    Nudger,
    OdooServer,
    fake_vonage,
    record,
    smtp_sink,
    tls_files,
    wait_until,
)

# Seconds one turn of the cron worker may spend sending (outbound.dispatch_time_budget), small
# so that a slow provider shows whether the dispatcher keeps to it. Odoo runs the action up to
# MAX_BATCH_PER_CRON_JOB (10) times in a turn: each run gets a tenth.
BUDGET = 10.0
RUN_SHARE = BUDGET / 10
SMTP_TIMEOUT = 60  # odoo/addons/base/models/ir_mail_server.py
GATEWAY_TIMEOUT = 1  # the fake Vonage gateway's timeout field (seconds)
# Margin for what a cron run does besides sending: recovery, claims, commits, the job's row.
MARGIN = 3.0
UNKNOWN = "outcome unknown"
CHANNELS = {"smtp": "email", "vonage": "sms"}
THROTTLE_WAITS = (1, 2, 4)  # models/outbound_dispatcher.py


@dataclasses.dataclass
class Scenario:
    name: str
    channel: str  # smtp or vonage
    faults: dict  # fault_sink.py options, or {"mode": …, "delay": …} for the fake Vonage
    accounts: int
    job: str  # the job's state once the dispatcher settled
    states: dict  # messages per state once settled
    reason: str = ""  # in the job's state_reason (paused) …
    failure: str = ""  # … and in the failure_reason of every failed message
    one_send: float = 0.5  # longest time a single send may take in this scenario
    throttled: bool = False  # the job keeps retrying: cancel it once a run was throttled
    note: str = ""
    # Sends in a row with an unknown outcome that pause the job (the campaign's email side or
    # the gateway's setting); None: the default, 3.
    max_errors: int | None = None


SCENARIOS = [
    Scenario(
        "smtp stalls past the 60 s timeout",
        "smtp",
        {"stall": 75, "stall_from": 3},
        10,
        "paused",
        {"sent": 2, "failed": 1, "queued": 7},
        reason="SMTP connection lost while sending",
        failure=UNKNOWN,
        one_send=SMTP_TIMEOUT,
        note="blocked one SMTP timeout, then paused (pause after 1)",
        max_errors=1,
    ),
    Scenario(
        "smtp slow (0.5 s per message)",
        "smtp",
        {"stall": 0.5},
        24,
        "done",
        {"sent": 24},
        one_send=0.5,
        note=f"budget {BUDGET:.0f}s per turn, {RUN_SHARE:.0f}s per run",
    ),
    Scenario(
        "smtp drops the connection mid-batch",
        "smtp",
        {"drop_after": 4},
        10,
        "done",
        {"sent": 9, "failed": 1},
        failure=UNKNOWN,
        note="one unknown outcome, reconnected and went on",
    ),
    Scenario(
        "smtp pause after 1, drops the connection",
        "smtp",
        {"drop_after": 4},
        10,
        "paused",
        {"sent": 3, "failed": 1, "queued": 6},
        reason="SMTP connection lost while sending",
        failure=UNKNOWN,
        max_errors=1,
    ),
    Scenario(
        "smtp 451 on DATA",
        "smtp",
        {"data_reply": "451 4.3.0 Temporary local problem, try later", "data_reply_every": 3},
        10,
        "paused",
        {"sent": 2, "queued": 8},
        reason="451 4.3.0 Temporary local problem",
    ),
    Scenario(
        "smtp 554 on DATA",
        "smtp",
        {"data_reply": "554 5.6.0 Message content rejected", "data_reply_every": 3},
        10,
        "done",
        {"sent": 7, "failed": 3},
        failure="SMTP server refused the message: 554 5.6.0",
    ),
    Scenario(
        "smtp 450 on RCPT",
        "smtp",
        {"refuse": r"0000(02|05)@=450 4.2.1 Mailbox busy"},
        10,
        "done",
        {"sent": 8, "failed": 2},
        failure="450 4.2.1 Mailbox busy",
    ),
    Scenario(
        "smtp 550 on RCPT",
        "smtp",
        {"refuse": r"0000(02|05)@=550 5.1.1 No such user"},
        10,
        "done",
        {"sent": 8, "failed": 2},
        failure="550 5.1.1 No such user",
    ),
    Scenario(
        "vonage HTTP 429 (Retry-After 2)",
        "vonage",
        {"mode": "http429"},
        5,
        "cancelled",
        {"skipped": 5},
        one_send=2 + 2 + 4,
        throttled=True,
    ),
    Scenario(
        "vonage throttled (status 1)",
        "vonage",
        {"mode": "throttled"},
        5,
        "cancelled",
        {"skipped": 5},
        one_send=1 + 2 + 4,
        throttled=True,
    ),
    Scenario(
        "vonage HTTP 500",
        "vonage",
        {"mode": "http500"},
        5,
        "paused",
        {"failed": 3, "queued": 2},
        reason="vonage: HTTP 500",
        failure=UNKNOWN,
    ),
    Scenario(
        "vonage HTTP 503",
        "vonage",
        {"mode": "http503"},
        5,
        "paused",
        {"failed": 3, "queued": 2},
        reason="vonage: HTTP 503",
        failure=UNKNOWN,
    ),
    Scenario(
        "vonage times out",
        "vonage",
        {"mode": "timeout", "delay": 3},
        5,
        "paused",
        {"failed": 3, "queued": 2},
        reason=f"no answer within {GATEWAY_TIMEOUT} s",
        failure=UNKNOWN,
        one_send=GATEWAY_TIMEOUT,
    ),
    Scenario(
        "vonage drops the connection",
        "vonage",
        {"mode": "drop"},
        5,
        "paused",
        {"failed": 3, "queued": 2},
        reason="connection lost after the request was sent",
        failure=UNKNOWN,
    ),
]


@pytest.fixture(scope="module")
def server(database, workdir):
    """One Odoo server for every scenario, with a small dispatch time budget."""
    database.set_param("outbound.dispatch_time_budget", str(BUDGET))
    odoo = OdooServer(database.name, workdir, "providers-odoo").start()
    try:
        yield odoo
    finally:
        odoo.stop()
        database.set_param("outbound.dispatch_time_budget", False)


@pytest.fixture(scope="module")
def tls(workdir):
    return tls_files(workdir / "tls")


def _provider(scenario, workdir, tls, slug):
    if scenario.channel == "smtp":
        return smtp_sink(workdir, f"sink-{slug}", **scenario.faults)
    return fake_vonage(workdir, tls, name=f"vonage-{slug}", **scenario.faults)


def _campaign(database, scenario, provider, tls, slug):
    if scenario.channel == "smtp":
        ids = database.create_campaign(
            slug, sink_port=provider.port, email_max_errors=scenario.max_errors or 3
        )
        database.add_email_accounts(ids[2], scenario.accounts, slug)
        return ids
    gateway = {
        "max_errors": scenario.max_errors or 3,
        "name": f"Fake Vonage {slug}",
        "api_key": "test-key",
        "api_secret": "test-secret",
        "rest_host": f"127.0.0.1:{provider.port}",
        "ca_file": tls[2],
        "timeout": GATEWAY_TIMEOUT,
        "default_sender": "ACME",
        "messages_per_second": 0,
    }
    ids = database.create_campaign(slug, gateway=gateway)
    database.add_sms_accounts(ids[2], scenario.accounts, slug)
    return ids


def _duplicates(scenario, provider):
    """Messages that reached the provider more than once (SMTP: accepted; SMS: any request)."""
    if scenario.channel == "smtp":
        received = collections.Counter(line["to"][0] for line in provider.records())
    else:
        # A throttled request was refused, not sent: trying it again is the point.
        received = collections.Counter(
            line["client_ref"] for line in provider.records() if not scenario.throttled
        )
    return sum(count - 1 for count in received.values())


def _settle(database, server, provider, scenario, job, job_name):
    """Wait until the dispatcher is done with the job; return (job state, note)."""
    note = scenario.note
    if scenario.throttled:
        # Cancelled while its batch waits for the provider: the batch comes back to a
        # cancelled job, whose messages must then be skipped, not left queued.
        wait_until(provider.count, 60, "the first request", 0.05, Nudger(database))
        database.cancel(job)
    settled = wait_until(
        lambda: database.job_settled(job), 150, scenario.name, 0.2, Nudger(database)
    )
    wait_until(server.cron_idle, 150, "the dispatch cron to end its run")
    if scenario.throttled:
        batches = [batch for batch in server.batches() if batch[0] == job_name]
        tries = collections.Counter(line["client_ref"] for line in provider.records())
        # Not paused, nothing failed: the throttled message and the rest went back to the
        # queue after one try plus one per wait.
        assert [batch[2:] for batch in batches] == [(0, 0, scenario.accounts)], batches
        assert list(tries.values()) == [1 + len(THROTTLE_WAITS)], tries
        note = f"{sum(tries.values())} tries, batch requeued; cancelled meanwhile"
    return settled, note


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_provider_fault(scenario, database, server, workdir, tls, processes):
    slug = "p" + "".join(c for c in scenario.name if c.isalnum())[:20].lower()
    provider = processes.add(_provider(scenario, workdir, tls, slug))
    wait_until(server.cron_idle, 150, "the dispatch cron to be idle")
    server.mark()
    campaign, template, _list = _campaign(database, scenario, provider, tls, slug)
    started = time.monotonic()
    job = database.send(campaign, template, channel=CHANNELS[scenario.channel])
    ((job_name,),) = database.sql("SELECT name FROM outbound_send_job WHERE id = %s", [job])
    settled, note = _settle(database, server, provider, scenario, job, job_name)
    elapsed = time.monotonic() - started
    responsive = server.health()
    state, reason, states = database.job(job)
    failures = {
        failure
        for _address, message_state, failure, _batch in database.messages(job).values()
        if message_state == "failed"
    }
    runs = server.cron_runs()
    bound = RUN_SHARE + scenario.one_send + MARGIN
    duplicates = _duplicates(scenario, provider)
    record(
        scenario.name,
        sent=states.get("sent", 0),
        failed=states.get("failed", 0),
        dup=duplicates,
        job=state,
        cron_max=f"{max(runs, default=0):.1f}s (<= {bound:.0f}s)",
        time=f"{elapsed:.1f}s",
        note=f"{len(runs)} cron run(s); "
        + (note or (reason or (sorted(failures)[0] if failures else ""))[:60]),
    )
    assert settled == scenario.job, (state, reason, states)
    assert dict(states) == scenario.states, (state, reason, states, failures)
    assert not states.get("sending")
    assert duplicates == 0
    if scenario.reason:
        assert scenario.reason in (reason or ""), reason
    for failure in failures:
        assert scenario.failure in failure, failure
    assert runs, "the dispatch cron never ran"
    assert max(runs) <= bound, f"a cron run took {max(runs):.1f}s, more than {bound:.0f}s"
    assert responsive, "the Odoo server stopped answering HTTP"
    # A batch that failed messages is one warning on purpose (failure scenarios fail some).
    allowed = [r"Send job .* paused", r"Send job .* messages failed in batch", r"vonage"]
    assert not server.problems(allowed=[*allowed, r"interrupted"])
