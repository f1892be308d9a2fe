"""Sending hours on a 100 000-account campaign: job creation with a calendar against without.

    OBM_BENCH_DB=obm_bench_tz python3 bench/bench_calendar.py [--accounts 100000] [--runs 3]

In a fresh copy of the ``obm_bench`` database: a campaign with one list of ``--accounts``
accounts (inserted in SQL as in bench_wizard), a third of them with an imported time zone
(New York, Sydney) and the others without (they get the calendar's), and a calendar of Monday to
Friday 08:00-20:00 in Europe/London.

- job creation: ``action_send_email()`` and the commit, the job and one message row per account,
  with the campaign's calendar and without it, alternately in the same run (so the machine's load
  hits both alike); each job is deleted before the next. Best of ``--runs``.
- dispatch: on the job with the calendar, the zone aggregate and the engine's decision
  (``_get_zone_states``, once per dispatch run and opening), and claiming one batch of 100 with
  the sending-hours condition against without it (claimed, then put back).
- engine: the zones of 100 000 numbers (``phone_zones`` after ``normalise_phone``, as the import
  and the account compute do) against ``normalise_phone`` alone.

Target: job creation with a calendar within 10 % of without.
"""

import sys
import time
from datetime import datetime

import common

CALENDAR_FACTOR = 1.10
ZONES = ("America/New_York", "Australia/Sydney")


def main(argv=None):
    parser = common.new_parser(__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--claim-tries", type=int, default=10)
    args = parser.parse_args(argv)
    common.print_header("bench_calendar: sending hours, job creation with vs without", args)
    common.init_odoo(args.log_level)
    results = {"engine": time_engine(args)}
    with (
        common.bench_database("calendar", keep=args.keep_db, rebuild=args.rebuild_db) as database,
        common.odoo_env(database) as env,
    ):
        campaign, template, calendar = setup(env, args)
        results.update(measure(env, args, campaign, template, calendar))
    report(args, results)
    return 0


def setup(env, args):
    started = time.perf_counter()
    server = common.create_mail_server(env, port=2525)  # never connected to here
    campaign, outbound_list, template = common.create_campaign(env, "Bench calendar", server)
    common.insert_accounts(env, outbound_list, args.accounts)
    env.cr.execute(
        "UPDATE outbound_account SET time_zone = (%s::varchar[])[id %% 6 + 1] "
        "WHERE list_id = %s AND id %% 6 < 2",
        [list(ZONES), outbound_list.id],
    )
    from odoo import Command

    calendar = env["resource.calendar"].create(
        {
            "name": "Bench sending hours",
            "tz": "Europe/London",
            "attendance_ids": [
                Command.create(
                    {"name": f"Day {day}", "dayofweek": str(day), "hour_from": 8, "hour_to": 20}
                )
                for day in range(5)
            ],
        }
    )
    common.analyze(env, "outbound_account")
    env.cr.commit()
    print(f"setup: {args.accounts:,} accounts in {time.perf_counter() - started:.1f} s", flush=True)
    return campaign, template, calendar


def create_job(env, args, campaign, template, calendar, label):
    campaign.send_calendar_id = calendar
    wizard = (
        env["outbound.send.wizard"]
        .with_context(active_model="outbound.campaign", active_id=campaign.id)
        .create({"template_id": template.id})
    )
    env.cr.commit()
    common.wait_for_quiet(args, label)
    env.invalidate_all()
    started = time.perf_counter()
    action = wizard.action_send_email()
    env.cr.commit()
    seconds = time.perf_counter() - started
    job = env["outbound.send.job"].browse(action["res_id"])
    print(f"  {label}: {job.count_total:,} messages in {seconds:.2f} s", flush=True)
    return seconds, job


def drop_job(env, job):
    env.cr.execute("DELETE FROM outbound_send_job WHERE id = %s", [job.id])
    env.cr.commit()
    env.invalidate_all()


def measure(env, args, campaign, template, calendar):
    without, with_calendar = [], []
    for run in range(1, args.runs + 1):
        # Alternate which goes first, so neither always meets a colder or busier machine.
        order = [(False, without), (calendar, with_calendar)]
        for hours, times in order if run % 2 else reversed(order):
            label = f"run {run} {'with' if hours else 'without'} calendar"
            seconds, job = create_job(env, args, campaign, template, hours, label)
            times.append(seconds)
            if hours and run == args.runs:
                dispatch = time_dispatch(env, args, job)
            drop_job(env, job)
    return {"without": without, "with": with_calendar, **dispatch}


def time_dispatch(env, args, job):
    dispatcher = env["outbound.dispatcher"]
    now = datetime(2026, 12, 1, 14, 0)  # Tuesday: London and New York open, Sydney closed

    def states():
        env.invalidate_all()
        started = time.perf_counter()
        job._get_zone_states(now)
        return time.perf_counter() - started

    def claim(gate):
        def once():
            started = time.perf_counter()
            batch_id, ids = dispatcher._claim_locked_batch(job, gate)
            seconds = time.perf_counter() - started
            dispatcher._release_batch(batch_id, ids)
            return seconds

        return once

    common.wait_for_quiet(args, "dispatch")
    gate = job._get_send_gate(now)
    zone_states = job._get_zone_states(now)
    states_best, _ = common.best_of(args.claim_tries, states)
    gated_best, _ = common.best_of(args.claim_tries, claim(gate))
    plain_best, _ = common.best_of(args.claim_tries, claim(None))
    return {
        "states": states_best,
        "zones": {state.value: (state.is_open, count) for state, count in zone_states},
        "claim_gated": gated_best,
        "claim_plain": plain_best,
    }


def time_engine(args):
    from odoo.addons.outbound_bulk_messaging.engine.addresses import (
        _normalise_phone,
        normalise_phone,
    )
    from odoo.addons.outbound_bulk_messaging.engine.send_hours import phone_zones

    numbers = [f"+1 {201 + i % 700} 555 {i % 10000:04d}" for i in range(args.accounts)]

    def alone():
        _normalise_phone.cache_clear()
        started = time.perf_counter()
        for number in numbers:
            normalise_phone(number)
        return time.perf_counter() - started

    def with_zones():
        _normalise_phone.cache_clear()
        started = time.perf_counter()
        for number in numbers:
            result = normalise_phone(number)
            phone_zones(result.e164, result.region, result.number_type)
        return time.perf_counter() - started

    common.wait_for_quiet(args, "engine")
    return {
        "alone": common.best_of(args.runs, alone)[0],
        "zones": common.best_of(args.runs, with_zones)[0],
    }


def report(args, results):
    without, with_calendar = min(results["without"]), min(results["with"])
    ratio = with_calendar / without
    common.print_table(
        ["job creation (action_send_email + commit)", "best s", "all runs (s)"],
        [
            [
                "without calendar",
                f"{without:.2f}",
                " ".join(f"{s:.2f}" for s in results["without"]),
            ],
            [
                "with calendar",
                f"{with_calendar:.2f}",
                " ".join(f"{s:.2f}" for s in results["with"]),
            ],
        ],
        title=f"{args.accounts:,} accounts, best of {args.runs}, same run",
    )
    common.print_table(
        ["dispatch, job with calendar", "best ms"],
        [
            ["zone aggregate + engine decision", f"{results['states'] * 1000:.1f}"],
            ["claim 100 with the sending-hours condition", f"{results['claim_gated'] * 1000:.1f}"],
            ["claim 100 without condition", f"{results['claim_plain'] * 1000:.1f}"],
        ],
        title=f"zones queued (open now, count): {results['zones']}",
    )
    engine = results["engine"]
    common.print_table(
        ["engine, 100 000-style numbers", "s", "us/number"],
        [
            [
                "normalise_phone",
                f"{engine['alone']:.2f}",
                f"{engine['alone'] / args.accounts * 1e6:.1f}",
            ],
            [
                "normalise_phone + phone_zones",
                f"{engine['zones']:.2f}",
                f"{engine['zones'] / args.accounts * 1e6:.1f}",
            ],
        ],
    )
    print(f"\n{common.machine_state()}")
    common.target(
        f"job creation with a calendar within {CALENDAR_FACTOR - 1:.0%} of without",
        ratio <= CALENDAR_FACTOR,
        f"{with_calendar:.2f} s vs {without:.2f} s ({ratio:.3f}x)",
    )


if __name__ == "__main__":
    sys.exit(main())
