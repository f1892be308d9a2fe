"""A scaling curve: time and peak memory of six stages at 10 000, 100 000 and 1 000 000 accounts.

    OBM_BENCH_DB=obm_bench_scale python3 bench/bench_scale.py [--sizes 10000,100000,1000000]
        [--stages import,job,panel,figures,report,batch] [--plot docs/scaling.png]
        [--heap-up-to 100000]

For each size, in fresh copies of the bench database (one for the import, one for the rest), each
stage is measured in a child process of its own after a warm-up, so that memory freed by the
setup or by an earlier stage cannot be reused and hide the stage's own growth:

1. import: a generated CSV file of that many rows through the import wizard, driven exactly as
   ``bench_import.py`` does (upload in one child, ``action_import()`` + commit timed in another);
2. job: ``action_send_email()`` of the send wizard on a campaign of that many accounts (inserted
   in SQL as in ``bench_wizard.py``): the job and its ``INSERT … SELECT`` of messages;
3. panel: opening the send wizard on that campaign and reading its panel figures, with the job's
   messages queued (``bench_wizard.time_panel``: best of ``--panel-tries`` after a warm-up);
4. figures: what the panel counts once the wizard is open on a scope above
   ``outbound.panel_sync_limit`` accounts (``get_sendable_figures``: the messages Send would
   queue, who each rule leaves out, the SMS cost), best of ``--panel-tries``;
5. report: the outcome report of that job (one row per message: queued, skipped with a
   reason), exported by the code of ``bench_report.py``: CSV consumed chunk by chunk, XLSX to
   a temporary file; the warm-up exports a small done job;
6. batch: one ``_cron_dispatch()`` sending one dispatch batch of that job to the loopback SMTP
   sink: the job is paced at one batch per hour, the warm-up sends the first window's batch and
   each measured call follows a pace raised by one batch.

The accounts and the job's messages are vacuumed and analysed once inserted, as autovacuum soon
would after such inserts.

Memory: the growth of the process's peak RSS (VmHWM reset before the stage, minus the RSS before
it), and the Python heap peak (tracemalloc, in a separate pass that is not timed) where that
pass is cheap: always for the panel and the batch, up to ``--heap-up-to`` accounts for the
stages whose pass costs as much as the stage (import, job, report). ``--runs`` repeats the
import, the batch and the report (best time, worst memory); the job is created once per size.
The smallest size's row is the same-run baseline of every ratio.

Targets: time linear or better in the size (at the largest size at most 1.25 times the
smallest's time times the size ratio), memory flat (at most 1.25 times the smallest's plus
4 MiB, as in bench_import and bench_report), the panel in at most 0.1 s at 1 000 000 accounts.
"""

import argparse
import contextlib
import json
import logging
import sys
import time
from pathlib import Path

import bench_import
import bench_report
import bench_wizard
import common
import psycopg2

STAGES = ("import", "job", "panel", "figures", "report", "batch")
REPORT_FORMATS = ("csv", "xlsx")
CAMPAIGN = "Bench scale"
WARMUP_CAMPAIGN = "Bench scale warm-up"
WARMUP_ACCOUNTS = 2_000
LINEAR_SLACK = 1.25
FLAT_RATIO, FLAT_SLACK = bench_report.FLAT_RATIO, bench_report.FLAT_SLACK
PANEL_SECONDS, PANEL_SIZE = 0.1, 1_000_000


def main(argv=None):
    parser = common.new_parser(__doc__)
    parser.set_defaults(runs=1, quiet_timeout=5)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--plot", default=str(common.ROOT / "docs" / "scaling.png"))
    parser.add_argument(
        "--heap-up-to",
        type=int,
        default=100_000,
        help="trace the heap of the import, the job and the report up to this size",
    )
    parser.add_argument("--panel-tries", type=int, default=3)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--markdown", action="store_true", help="print the table in Markdown too")
    # The import's file, as bench_import.py makes it.
    parser.add_argument("--bad-ratio", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv-dir", default="/tmp/obm_bench_csv")
    parser.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--format", choices=REPORT_FORMATS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
    stages = args.stages.split(",")
    if unknown := set(stages) - set(STAGES):
        parser.error(f"unknown stage(s) {', '.join(sorted(unknown))}: use {', '.join(STAGES)}")
    args.stages = [stage for stage in STAGES if stage in stages]
    return parent(args)


# ---- PARENT


def parent(args):
    common.print_header("bench_scale: the scaling curve of import, job, panel, batch, report", args)
    print(f"   sizes {', '.join(f'{size:,}' for size in args.sizes)}, stages {args.stages}")
    started = time.monotonic()
    results = {}
    for size in args.sizes:
        if "import" in args.stages:
            results.update(measure_import(args, size))
        if set(args.stages) - {"import"}:
            results.update(measure_sending(args, size))
    print(f"\nmeasured in {time.monotonic() - started:.0f} s; {common.machine_state()}")
    rows = [row for row in row_labels(args.stages) if (row, args.sizes[0]) in results]
    report(args, rows, results)
    if args.plot:
        plot(args, rows, results)
    if args.json:
        write_json(args, rows, results)
    return 0


def row_labels(stages):
    labels = {"report": [f"report {file_format}" for file_format in REPORT_FORMATS]}
    return [label for stage in stages for label in labels.get(stage, [stage])]


def traced_at(args, size):
    """Whether the heap of the stages whose traced pass costs as much as the stage is traced."""
    return size <= args.heap_up_to


def measure_import(args, size):
    warmup = bench_import.csv_file(args, bench_import.WARMUP_ROWS)
    path = bench_import.csv_file(args, size)
    with common.bench_database(
        "scale_import", keep=args.keep_db, rebuild=args.rebuild_db
    ) as database:
        runs = []
        for run in range(1, args.runs + 1):
            common.wait_for_quiet(args, f"import {size:,}, run {run}")
            runs.append(bench_import.upload_and_import(args, database, path, warmup, trace=False))
        traced = None
        if traced_at(args, size):
            traced = bench_import.upload_and_import(args, database, path, warmup, trace=True)
    best = min(runs, key=lambda result: result["seconds"])
    imported = best["created"] + best["updated"] + best["rejected"]
    if imported != size:
        raise RuntimeError(f"import of {path}: {imported:,} rows counted of {size:,}")
    result = {
        "seconds": best["seconds"],
        "rss_growth": max(result["rss_growth"] for result in runs),
        "heap_peak": traced["heap_peak"] if traced else None,
        "detail": f"{best['created']:,} created, {best['rejected']:,} rejected; upload "
        f"{best['upload_seconds']:.1f} s, {best['upload_rss_growth'] / common.MiB:.0f} MiB",
    }
    print_stage("import", size, result)
    return {("import", size): result}


def measure_sending(args, size):
    """Job, panel, batch and report on one campaign of ``size`` accounts: {(row, size): result}."""
    results = {}
    common.init_odoo(args.log_level)
    with (
        common.temporary_directory("obm-bench-scale-") as directory,
        common.smtp_sink(directory) as sink,
        common.bench_database("scale", keep=args.keep_db, rebuild=args.rebuild_db) as database,
    ):
        set_up(database, size, sink.port)
        if "job" in args.stages:
            results["job", size] = run_stage(args, database, "job", size, traced_at(args, size))
        else:
            create_job(database)
        vacuum_analyze(database, "outbound_message", "outbound_send_job")
        if "panel" in args.stages:
            results["panel", size] = run_stage(args, database, "panel", size, trace=True)
        if "figures" in args.stages:
            results["figures", size] = run_stage(args, database, "figures", size, trace=True)
        if "report" in args.stages:
            for file_format in REPORT_FORMATS:
                results[f"report {file_format}", size] = run_stage(
                    args, database, "report", size, traced_at(args, size), "--format", file_format
                )
        if "batch" in args.stages:
            results["batch", size] = run_stage(args, database, "batch", size, trace=True)
            expected = results["batch", size]["sent"]
            if (received := sink.wait_for_count(expected)) != expected:
                raise RuntimeError(f"the SMTP sink received {received} of {expected} messages")
    return results


def run_stage(args, database, stage, size, trace, *extra):
    label = f"report {extra[-1]}" if stage == "report" else stage
    common.wait_for_quiet(args, f"{label} {size:,}")
    result = common.run_child(
        Path(__file__).resolve(),
        stage,
        database,
        "--size",
        str(size),
        "--runs",
        str(args.runs),
        "--panel-tries",
        str(args.panel_tries),
        "--quiet-timeout",
        "0",
        *(["--trace"] if trace else []),
        *extra,
        log_level=args.log_level,
        echo=stage == "panel",
    )
    print_stage(label, size, result)
    return result


def print_stage(label, size, result):
    heap = result["heap_peak"]
    print(
        f"  {label:<11} {size:>9,}: {result['seconds']:8.3f} s, RSS growth "
        f"{result['rss_growth'] / common.MiB:6.1f} MiB, heap peak "
        f"{'-' if heap is None else f'{heap / common.MiB:.1f} MiB'} ({result['detail']})",
        flush=True,
    )


def set_up(database, size, port):
    """The campaign of ``size`` accounts, sending to the sink, and a small warm-up campaign
    with a done job to warm the report up on."""
    started = time.perf_counter()
    with common.odoo_env(database) as env:
        server = common.create_mail_server(env, port)
        _campaign, outbound_list, _template = common.create_campaign(env, CAMPAIGN, server)
        common.insert_accounts(env, outbound_list, size)
        warmup, warmup_list, template = common.create_campaign(env, WARMUP_CAMPAIGN, server)
        common.insert_accounts(env, warmup_list, WARMUP_ACCOUNTS, start=size + 1)
        bench_report.create_report_job(env, warmup, template, warmup_list, WARMUP_ACCOUNTS)
    vacuum_analyze(database, "outbound_account")
    print(f"  setup {size:,} accounts in {time.perf_counter() - started:.1f} s", flush=True)


def create_job(database):
    """The job of the campaign, not measured (when the job stage is not chosen)."""
    with common.odoo_env(database) as env:
        campaign, template = find_campaign(env, CAMPAIGN)
        bench_wizard.open_wizard(env, campaign, template, **job_pace()).action_send_email()


def vacuum_analyze(database, *tables):
    with contextlib.closing(psycopg2.connect(dbname=database)) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")


# ---- CHILDREN (one stage of one size each, after a warm-up)


def child(args):
    common.init_odoo(args.log_level)
    with common.odoo_env(args.database) as env:
        result = CHILDREN[args.child](env, args)
    common.print_result(result)
    return 0


def find_campaign(env, name):
    campaign = env["outbound.campaign"].search([("name", "=", name)], limit=1)
    template = env["outbound.template"].search([("campaign_id", "=", campaign.id)], limit=1)
    return campaign, template


def find_job(env, campaign_name):
    """The campaign's job: the one Send created, or the warm-up campaign's done job."""
    campaign, _template = find_campaign(env, campaign_name)
    return env["outbound.send.job"].search([("campaign_id", "=", campaign.id)], limit=1)


def job_pace():
    """One dispatch batch per hour: a call of the dispatcher sends exactly one batch."""
    from odoo.addons.outbound_bulk_messaging.models.outbound_dispatcher import DISPATCH_BATCH

    return {"batch_size": DISPATCH_BATCH, "batch_interval": 1, "batch_interval_unit": "hours"}


def child_job(env, args):
    campaign, template = find_campaign(env, CAMPAIGN)
    warmup, warmup_template = find_campaign(env, WARMUP_CAMPAIGN)
    bench_wizard.open_wizard(env, warmup, warmup_template, **job_pace()).action_send_email()
    env.cr.rollback()
    bench_import.release_free_memory()

    def send(trace, commit):
        wizard = bench_wizard.open_wizard(env, campaign, template, **job_pace())
        env.cr.commit()
        env.invalidate_all()
        return bench_import.measure(env, trace, wizard.action_send_email, commit=commit)

    action, result = send(trace=False, commit=True)
    job = env["outbound.send.job"].browse(action["res_id"])
    result["detail"] = f"{job.count_total:,} messages, {job.count_queued:,} queued"
    # The traced job is rolled back: the other stages see one job.
    result["heap_peak"] = send(trace=True, commit=False)[1]["heap_peak"] if args.trace else None
    return result


def read_panel(env, campaign, template):
    env.invalidate_all()
    wizard = bench_wizard.open_wizard(env, campaign, template)
    return {name: wizard[name] for name in bench_wizard.COUNT_FIELDS}


def child_panel(env, args):
    campaign, template = find_campaign(env, CAMPAIGN)
    read_panel(env, campaign, template)
    env.cr.rollback()
    bench_import.release_free_memory()
    panel, result = bench_import.measure(
        env,
        False,
        # The deferred figures are their own stage (child_figures).
        lambda: bench_wizard.time_panel(env, args, campaign, template, "queued job", False),
        commit=False,
    )
    counts = panel["counts"]
    if counts["count_accounts"] != args.size:
        raise RuntimeError(f"the panel counts {counts['count_accounts']} of {args.size} accounts")
    result.update(
        seconds=panel["open"],
        queries=panel["queries"],
        detail=f"best of {args.panel_tries}; queries {panel['queries'] * 1000:.0f} ms; "
        f"{counts['count_email_awaiting']:,} awaiting",
    )
    result["heap_peak"] = bench_import.measure(
        env, True, lambda: read_panel(env, campaign, template), commit=False
    )[1]["heap_peak"]
    return result


def read_figures(env, campaign, template):
    wizard = bench_wizard.open_wizard(env, campaign, template)
    return bench_wizard.time_figures(env, wizard)


def child_figures(env, args):
    campaign, template = find_campaign(env, CAMPAIGN)
    read_figures(env, campaign, template)  # warm-up
    env.cr.rollback()
    bench_import.release_free_memory()
    figures = {}

    def best():
        seconds, values = common.best_of(
            args.panel_tries, lambda: read_figures(env, campaign, template)[0]
        )
        figures.update(read_figures(env, campaign, template)[1])
        return seconds

    seconds, result = bench_import.measure(env, False, best, commit=False)
    result.update(
        seconds=seconds,
        detail=f"best of {args.panel_tries}; {figures['count_sendable_email']:,} to send",
    )
    result["heap_peak"] = bench_import.measure(
        env, True, lambda: read_figures(env, campaign, template), commit=False
    )[1]["heap_peak"]
    return result


def child_batch(env, args):
    job = find_job(env, CAMPAIGN)
    batch = job.batch_size
    dispatch = env["outbound.send.job"]._cron_dispatch

    def one_batch(trace):
        job.batch_size += batch  # the pace allows one more batch in this window
        env.cr.commit()
        env.invalidate_all()
        sent, result = bench_import.measure(env, trace, dispatch)
        if sent != batch:
            raise RuntimeError(f"one dispatch sent {sent} messages, not one batch of {batch}")
        return result

    sent = dispatch()  # warm-up: the first window's batch
    env.cr.commit()
    bench_import.release_free_memory()
    runs = [one_batch(trace=False) for _run in range(args.runs)]
    result = min(runs, key=lambda run: run["seconds"])
    result["rss_growth"] = max(run["rss_growth"] for run in runs)
    result["heap_peak"] = one_batch(trace=True)["heap_peak"]
    result["sent"] = sent + batch * (args.runs + 1)
    result["detail"] = f"{batch} messages, {batch / result['seconds']:,.0f} msg/s"
    return result


def child_report(env, args):
    bench_report.export_report(env, find_job(env, WARMUP_CAMPAIGN), args.format)
    bench_import.release_free_memory()
    job = find_job(env, CAMPAIGN)
    runs = [bench_report.export_report(env, job, args.format) for _run in range(args.runs)]
    result = min(runs, key=lambda run: run["seconds"])
    result["rss_growth"] = max(run["rss_growth"] for run in runs)
    if result["rows"] != args.size:
        raise RuntimeError(f"the {args.format} report has {result['rows']} rows of {args.size}")
    traced = args.trace and bench_report.export_report(env, job, args.format, trace=True)
    result["heap_peak"] = traced["heap_peak"] if traced else None
    result["detail"] = f"{result['bytes'] / common.MiB:.1f} MiB file"
    return result


CHILDREN = {
    "job": child_job,
    "panel": child_panel,
    "figures": child_figures,
    "batch": child_batch,
    "report": child_report,
}


# ---- REPORT


def ratio(value, base):
    return f"{value / base:.2f}" if value is not None and base else "-"


def mib(value):
    return "-" if value is None else f"{value / common.MiB:.1f}"


def per_account(value, size, scale, digits):
    return "-" if value is None else f"{value * scale / size:.{digits}f}"


def table_rows(args, rows, results):
    base_size = args.sizes[0]
    cells = []
    for label in rows:
        base = results[label, base_size]
        for size in args.sizes:
            result = results[label, size]
            cells.append(
                [
                    label,
                    f"{size:,}",
                    f"{result['seconds']:.3f}",
                    per_account(result["seconds"], size, 1e6, 2),
                    ratio(result["seconds"], base["seconds"]),
                    mib(result["rss_growth"]),
                    per_account(max(result["rss_growth"], 0), size, 1, 1),
                    ratio(result["rss_growth"], base["rss_growth"]),
                    mib(result["heap_peak"]),
                    per_account(result["heap_peak"], size, 1, 1),
                    ratio(result["heap_peak"], base["heap_peak"]),
                ]
            )
    return cells


HEADERS = (
    "stage",
    "accounts",
    "seconds",
    "us/account",
    "x first",
    "RSS MiB",
    "B/account",
    "x first",
    "heap MiB",
    "B/account",
    "x first",
)


def report(args, rows, results):
    cells = table_rows(args, rows, results)
    common.print_table(
        HEADERS,
        cells,
        title=f"scaling curve (x first: ratio to the {args.sizes[0]:,} row of the same run); "
        "RSS = growth of the peak RSS during the stage; heap = tracemalloc peak (separate pass, "
        f"'-' where not traced); batch = one dispatch batch, whatever the size",
    )
    if args.markdown:
        print()
        print("| " + " | ".join(HEADERS) + " |")
        print("|" + " --- |" * len(HEADERS))
        for row in cells:
            print("| " + " | ".join(row) + " |")
    print()
    for label in rows:
        details = (f"{size:,}: {results[label, size]['detail']}" for size in args.sizes)
        print(f"  {label:<11} " + " | ".join(details))
    print()
    check_targets(args, rows, results)


def check_targets(args, rows, results):
    smallest, largest = args.sizes[0], args.sizes[-1]
    if largest > smallest:
        growth = largest / smallest
        for label in rows:
            small, large = results[label, smallest], results[label, largest]
            times = large["seconds"] / small["seconds"]
            common.target(
                f"{label}: time linear or better",
                times <= LINEAR_SLACK * growth,
                f"{small['seconds']:.3f} s at {smallest:,}, {large['seconds']:.3f} s at "
                f"{largest:,}: x{times:.1f} for x{growth:.0f} the accounts "
                f"(allowed x{LINEAR_SLACK * growth:.0f})",
            )
            for name, key in (("RSS", "rss_growth"), ("heap", "heap_peak")):
                if small[key] is None or large[key] is None:
                    continue
                common.target(
                    f"{label}: {name} flat",
                    large[key] <= FLAT_RATIO * small[key] + FLAT_SLACK,
                    f"{mib(small[key])} MiB at {smallest:,}, {mib(large[key])} MiB at "
                    f"{largest:,} (at most x{FLAT_RATIO} + {FLAT_SLACK // common.MiB} MiB)",
                )
    if "panel" in rows:
        size = PANEL_SIZE if PANEL_SIZE in args.sizes else largest
        seconds = results["panel", size]["seconds"]
        common.target(
            f"panel in at most {PANEL_SECONDS} s at {size:,} accounts"
            + ("" if size == PANEL_SIZE else f" (the target is at {PANEL_SIZE:,})"),
            seconds <= PANEL_SECONDS,
            f"{seconds * 1000:.0f} ms",
        )


def plot(args, rows, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # Odoo's logging set it to INFO

    sizes = args.sizes
    figure, (times, memory) = plt.subplots(1, 2, figsize=(13, 5))
    for index, label in enumerate(rows):
        color = f"C{index}"
        seconds = [results[label, size]["seconds"] for size in sizes]
        times.loglog(sizes, seconds, marker="o", color=color, label=label)
        linear = [seconds[0] * size / sizes[0] for size in sizes]
        times.loglog(sizes, linear, linestyle=":", color=color, alpha=0.5)
        rss = [max(results[label, size]["rss_growth"], 0) / common.MiB for size in sizes]
        memory.semilogx(sizes, rss, marker="o", color=color, label=label)
        heap = [(size, results[label, size]["heap_peak"]) for size in sizes]
        heap = [(size, value / common.MiB) for size, value in heap if value is not None]
        if heap:
            memory.semilogx(*zip(*heap, strict=True), marker="x", linestyle="--", color=color)
    times.axhline(PANEL_SECONDS, color="grey", linewidth=0.8)
    times.annotate(
        f"panel target {PANEL_SECONDS} s at {PANEL_SIZE:,}",
        (sizes[0], PANEL_SECONDS * 1.1),
        color="grey",
        fontsize="small",
    )
    times.set(
        xlabel="accounts",
        ylabel="seconds",
        title="time (dotted: linear from the first size)",
    )
    memory.set(
        xlabel="accounts",
        ylabel="MiB",
        title="peak memory growth (solid: RSS, dashed: heap peak)",
    )
    for axes in (times, memory):
        axes.set_xticks(sizes)
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:,.0f}"))
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize="small")
    figure.suptitle(
        f"bench_scale.py, {time.strftime('%Y-%m-%d')}: the batch is one dispatch batch "
        "whatever the size, the other stages handle every account",
        fontsize="medium",
    )
    figure.tight_layout()
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.plot, dpi=100)
    print(f"\nplot written to {args.plot}")


def write_json(args, rows, results):
    figures = [
        dict(results[label, size], stage=label, accounts=size)
        for label in rows
        for size in args.sizes
    ]
    with open(args.json, "w", encoding="utf-8") as stream:
        json.dump({"machine": common.machine_state(), "figures": figures}, stream, indent=1)
    print(f"figures written to {args.json}")


if __name__ == "__main__":
    sys.exit(main())
