"""Cost before sending and the frequency cap, on a 100 000-account campaign.

    OBM_BENCH_DB=obm_bench_cost python3 bench/bench_cost.py [--accounts 100000] [--runs 3]

In a fresh copy of the bench database: one list of ``--accounts`` accounts (UK numbers, one in
ten French, one in 25 American; imported columns amount and due_date), an SMS gateway with
prices for the UK and France (none for the US, which the estimate lists apart) and two SMS
templates with the same text: placeholders only, and the same through a Jinja ``if``.

- **estimate**: ``_get_sms_estimate()`` of the send wizard (the recipient SELECT, each account's
  text, its segments and its number's country), best of ``--runs``; against, in the same run,
  the SQL floor (the wizard's sendable count alone: the same SELECT, counted) and the Jinja
  template (every text rendered by Jinja). Once, it is checked against an independent count:
  every text rendered by Jinja, split by ``sms.analyse`` and its country read by phonenumbers.
- **cap**: ``action_send_email()`` (job + 100 000 messages) with the company's frequency cap
  off and at 3 per week, alternated, best of ``--runs`` each, after a first job whose messages
  were all sent (so the cap's subquery finds one message per address).

Targets: the estimate in under 2 s; job creation with the cap within 10 % of without.
"""

import sys
import time

import common

ESTIMATE_SECONDS = 2.0
CAP_RATIO = 1.10
SMS_TEXT = (
    "Dear $ACCOUNT_NAME, account $ACCOUNT_REFERENCE owes $ACCOUNT_AMOUNT, due $ACCOUNT_DUE_DATE."
    " Call 0800 123 456."
)
JINJA_TEXT = "{% if ACCOUNT_NAME %}" + SMS_TEXT + "{% endif %}"


def main(argv=None):
    parser = common.new_parser(__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args(argv)
    common.print_header("bench_cost: SMS cost estimate and frequency cap", args)
    common.init_odoo(args.log_level)
    with (
        common.bench_database("cost", keep=args.keep_db, rebuild=args.rebuild_db) as database,
        common.odoo_env(database) as env,
    ):
        setup = prepare(env, args)
        estimate = measure_estimate(env, args, setup)
        cap = measure_cap(env, args, setup)
    report(args, estimate, cap)
    return 0


def prepare(env, args):
    started = time.perf_counter()
    server = common.create_mail_server(env, port=2525)  # never connected to here
    campaign, outbound_list, template = common.create_campaign(env, "Bench cost", server)
    common.insert_accounts(env, outbound_list, args.accounts)
    env.cr.execute(
        """
        UPDATE outbound_account
           SET sms_number_e164 = CASE
                 WHEN id %% 10 = 0 THEN '+336' || lpad((id %% 100000000)::text, 8, '0')
                 ELSE '+1415555' || lpad((id %% 10000)::text, 4, '0') END
         WHERE list_id = %s AND (id %% 10 = 0 OR id %% 25 = 0)
        """,
        [outbound_list.id],
    )
    outbound_list._add_data_columns(["amount", "due_date"])
    gateway = env["outbound.sms.gateway"].create(
        {"name": "Bench gateway", "api_key": "k", "api_secret": "s", "default_sender": "ACME"}
    )
    env["outbound.sms.price"].create(
        [
            {"gateway_id": gateway.id, "country_id": env.ref("base.uk").id, "price": 0.0333},
            {"gateway_id": gateway.id, "country_id": env.ref("base.fr").id, "price": 0.0745},
        ]
    )
    campaign.sms_gateway_id = gateway
    templates = {
        name: env["outbound.template"].create(
            {"name": f"Bench {name}", "campaign_id": campaign.id, "body": body}
        )
        for name, body in (("placeholders", SMS_TEXT), ("jinja", JINJA_TEXT))
    }
    common.analyze(env, "outbound_account")
    env.cr.commit()
    print(f"setup: {args.accounts:,} accounts in {time.perf_counter() - started:.1f} s", flush=True)
    return {"campaign": campaign, "template": template, "sms_templates": templates}


def open_wizard(env, setup, sms_template):
    campaign = setup["campaign"]
    return (
        env["outbound.send.wizard"]
        .with_context(active_model="outbound.campaign", active_id=campaign.id)
        .create({"sms_template_id": sms_template.id})
    )


def measure_estimate(env, args, setup):
    results = {}
    for label, work in (
        ("sql", lambda wizard: wizard._new_job("sms")._count_sendable()),
        ("placeholders", lambda wizard: wizard._get_sms_estimate()),
        ("jinja", lambda wizard: wizard._get_sms_estimate()),
    ):
        template = setup["sms_templates"]["jinja" if label == "jinja" else "placeholders"]

        def measure(work=work, template=template, key=f"{label}_value"):
            env.invalidate_all()
            wizard = open_wizard(env, setup, template)
            started = time.perf_counter()
            results.setdefault(key, work(wizard))
            return time.perf_counter() - started

        common.wait_for_quiet(args, f"estimate {label}")
        measure()  # warm-up
        results[label], runs = common.best_of(args.runs, measure)
        print(f"  {label}: best {results[label]:.3f} s of {[f'{t:.3f}' for t in runs]}", flush=True)
    results["check"] = check_exact(env, setup, results["placeholders_value"])
    return results


def check_exact(env, setup, estimate):
    """The estimate against Jinja + sms.analyse + phonenumbers, account by account."""
    import phonenumbers

    from odoo.addons.outbound_bulk_messaging.engine import sms

    template = setup["sms_templates"]["placeholders"]
    compiled = template._compile()["body"]
    wizard = open_wizard(env, setup, template)
    prices = env["outbound.sms.price"]._get_prices(setup["campaign"].sms_gateway_id)
    total, segments = 0.0, 0
    for number, context in wizard._sms_recipients(wizard._new_job("sms"), compiled):
        count = sms.analyse(compiled.render(context)).segments
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number))
        segments += count
        total += count * prices.get(region, 0.0)
    same = (
        abs(total - estimate["sms_cost_estimate"]) < 1e-6 and segments == estimate["sms_segments"]
    )
    print(
        f"  exactness: estimate {estimate['sms_cost_estimate']:.4f} / {estimate['sms_segments']:,}"
        f" segments, independent count {total:.4f} / {segments:,}: {'equal' if same else 'DIFFER'}",
        flush=True,
    )
    return same


def send_job(env, setup, cap):
    env.company.write({"outbound_cap_count": cap, "outbound_cap_period": "week"})
    campaign = setup["campaign"]
    wizard = (
        env["outbound.send.wizard"]
        .with_context(active_model="outbound.campaign", active_id=campaign.id)
        .create({"template_id": setup["template"].id})
    )
    env.cr.commit()
    env.invalidate_all()
    started = time.perf_counter()
    action = wizard.action_send_email()
    env.cr.commit()
    seconds = time.perf_counter() - started
    job = env["outbound.send.job"].browse(action["res_id"])
    return seconds, job


def measure_cap(env, args, setup):
    # History: one job whose messages were all sent, so every address has one this week.
    _seconds, first = send_job(env, setup, 0)
    env.cr.execute(
        "UPDATE outbound_message SET state = 'sent', sent_at = now() AT TIME ZONE 'UTC'"
        " WHERE job_id = %s AND state = 'queued'",
        [first.id],
    )
    common.analyze(env, "outbound_message")
    env.cr.commit()
    selects = {0: [], 3: []}
    common.wait_for_quiet(args, "recipient SELECT, cap off / on")
    for _try in range(5):
        for cap in (0, 3):
            selects[cap].append(time_select(env, setup, cap))
    print(
        "  recipient SELECT (counted): "
        + ", ".join(f"cap {cap}: {min(values):.3f} s" for cap, values in selects.items()),
        flush=True,
    )
    times = {0: [], 3: []}
    for run in range(args.runs):
        for cap in (0, 3) if run % 2 == 0 else (3, 0):
            common.wait_for_quiet(args, f"job, cap {cap}, run {run + 1}")
            seconds, job = send_job(env, setup, cap)
            times[cap].append(seconds)
            print(
                f"  job (cap {cap}): {job.count_total:,} messages, {job.count_queued:,} queued,"
                f" in {seconds:.2f} s",
                flush=True,
            )
            # Out of the cap's way: what the next job sees is the same history every time.
            job.action_cancel()
            env.cr.commit()
    result = {cap: min(values) for cap, values in times.items()} | {"all": times}
    return result | {"select": {cap: min(values) for cap, values in selects.items()}}


def time_select(env, setup, cap):
    """Seconds of the job's recipient SELECT, counted (what the panel runs), with ``cap``."""
    env.company.write({"outbound_cap_count": cap, "outbound_cap_period": "week"})
    env.invalidate_all()
    wizard = (
        env["outbound.send.wizard"]
        .with_context(active_model="outbound.campaign", active_id=setup["campaign"].id)
        .create({"template_id": setup["template"].id})
    )
    job = wizard._new_job("email")
    env.flush_all()
    started = time.perf_counter()
    job._count_sendable()
    return time.perf_counter() - started


def report(args, estimate, cap):
    placeholders, sql, jinja = estimate["placeholders"], estimate["sql"], estimate["jinja"]
    common.print_table(
        ["SMS cost estimate", "seconds", "vs SQL floor"],
        [
            [
                "the wizard's estimate (placeholders only)",
                f"{placeholders:.3f}",
                f"{placeholders / sql:.2f}",
            ],
            ["the same text through Jinja", f"{jinja:.3f}", f"{jinja / sql:.2f}"],
            ["SQL floor: the sendable count alone", f"{sql:.3f}", "1.00"],
        ],
        title=f"{args.accounts:,} accounts, best of {args.runs}",
    )
    ratio = cap[3] / cap[0]
    common.print_table(
        ["job creation", "seconds (best)", "all runs"],
        [
            ["no cap", f"{cap[0]:.2f}", " ".join(f"{t:.2f}" for t in cap["all"][0])],
            ["cap 3 per week", f"{cap[3]:.2f}", " ".join(f"{t:.2f}" for t in cap["all"][3])],
            ["recipient SELECT alone, no cap", f"{cap['select'][0]:.3f}", "best of 5"],
            ["recipient SELECT alone, cap 3", f"{cap['select'][3]:.3f}", "best of 5"],
        ],
        title=f"a job for {args.accounts:,} accounts, alternated, best of {args.runs}",
    )
    print(f"\n{common.machine_state()}")
    common.target(
        f"estimate for {args.accounts:,} accounts in under {ESTIMATE_SECONDS:.0f} s",
        placeholders < ESTIMATE_SECONDS,
        f"{placeholders:.3f} s",
    )
    common.target("estimate equals the independent count", estimate["check"], "")
    common.target(
        f"job creation with the cap within {CAP_RATIO - 1:.0%} of without",
        ratio <= CAP_RATIO,
        f"{ratio:.3f} ({cap[3]:.2f} s vs {cap[0]:.2f} s)",
    )


if __name__ == "__main__":
    sys.exit(main())
