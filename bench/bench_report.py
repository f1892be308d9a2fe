"""Export the outcome report of large send jobs as CSV and XLSX: memory flat in the job's size.

    python3 bench/bench_report.py [--sizes 100000,1000000] [--formats csv,xlsx] [--runs 1]

In a fresh copy of the ``obm_bench`` database, accounts and one send job per size are inserted
with SQL (90 % sent, 5 % failed with a reason, one in twenty skipped; one in fifty failures with
a reason that starts like a formula). Each job's report is then produced by the code the route
``/outbound/job/<id>/report.<csv|xlsx>`` runs: ``outbound.job.report._iter_csv`` consumed chunk by
chunk (as the HTTP response does) and ``outbound.job.report._write_xlsx`` to an anonymous
temporary file (constant_memory). For each size and format: the time, the size of the file, the
Python heap peak (tracemalloc, in a separate pass) and the growth of the peak RSS (VmHWM reset
before the export, minus the RSS before it).

Target: memory flat in the number of messages: the peak at the largest size is at most 1.25
times the peak at the smallest one plus 4 MiB, for the heap and the RSS, in both formats.
"""

import sys
import tempfile
import time
import tracemalloc

import common

FLAT_RATIO, FLAT_SLACK = 1.25, 4 * common.MiB


def main(argv=None):
    parser = common.new_parser(__doc__)
    parser.set_defaults(runs=1)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--formats", default="csv,xlsx")
    args = parser.parse_args(argv)
    sizes = sorted(int(size) for size in args.sizes.split(","))
    formats = args.formats.split(",")
    common.print_header("bench_report: outcome report export, CSV and XLSX", args)
    common.init_odoo(args.log_level)
    results = {}
    with (
        common.bench_database("report", keep=args.keep_db, rebuild=args.rebuild_db) as database,
        common.odoo_env(database) as env,
    ):
        jobs = _create_jobs(env, sizes)
        env.cr.commit()
        for size in sizes:
            for file_format in formats:
                common.wait_for_quiet(args, f"{file_format} {size:,}")
                runs = [export_report(env, jobs[size], file_format) for _run in range(args.runs)]
                timing = min(runs, key=lambda run: run["seconds"])
                timing["rss_growth"] = max(run["rss_growth"] for run in runs)
                traced = export_report(env, jobs[size], file_format, trace=True)
                results[size, file_format] = dict(timing, heap_peak=traced["heap_peak"])
                _print_result(size, file_format, results[size, file_format])
    return _report(sizes, formats, results)


def _create_jobs(env, sizes):
    """A job per size over the first ``size`` accounts; {size: job}."""
    started = time.monotonic()
    campaign, outbound_list, template = common.create_campaign(env, "Report bench")
    common.insert_accounts(env, outbound_list, max(sizes))
    jobs = {size: create_report_job(env, campaign, template, outbound_list, size) for size in sizes}
    common.analyze(env, "outbound_message", "outbound_account")
    print(f"   inserted {sum(sizes):,} messages in {time.monotonic() - started:.0f} s")
    return jobs


def create_report_job(env, campaign, template, outbound_list, size):
    """A done email job of ``size`` messages with outcomes, over the list's first accounts."""
    job = env["outbound.send.job"].create(
        {
            "campaign_id": campaign.id,
            "channel": "email",
            "template_id": template.id,
            "state": "done",
        }
    )
    _insert_messages(env, job, outbound_list, size)
    return job


def _insert_messages(env, job, outbound_list, size):
    env.flush_all()
    env.cr.execute(
        """
        INSERT INTO outbound_message (
            job_id, account_id, account_reference, channel, address, state, failure_reason,
            sent_at, delivery_status, delivered_at)
        SELECT %(job)s, a.id, a.reference, 'email', a.email, s.state,
               CASE s.state
                    WHEN 'failed' THEN CASE WHEN n %% 50 = 0
                         THEN '=HYPERLINK("http://evil.example","refused ' || n || '")'
                         ELSE 'SMTP server refused recipient ' || a.email
                              || ': 550 5.1.1 Recipient address rejected' END
                    WHEN 'skipped' THEN 'no email address' END,
               CASE WHEN s.state = 'sent' THEN now() - n * interval '1 second' END,
               CASE WHEN s.state = 'sent' AND n %% 3 = 0 THEN 'bounced' END,
               CASE WHEN s.state = 'sent' AND n %% 3 = 0 THEN now() END
          FROM (SELECT a.*, row_number() OVER (ORDER BY a.id) AS n
                  FROM outbound_account a WHERE a.list_id = %(list)s
                 ORDER BY a.id LIMIT %(size)s) a
         CROSS JOIN LATERAL (
               SELECT CASE WHEN a.email IS NULL THEN 'skipped'
                           WHEN a.n %% 20 = 1 THEN 'failed' ELSE 'sent' END AS state) s
        """,
        {
            "job": job.id,
            "list": outbound_list.id,
            "size": size,
        },
    )
    assert env.cr.rowcount == size, (env.cr.rowcount, size)


def export_report(env, job, file_format, trace=False):
    """Produce the report of ``job`` once: {seconds, rss_growth, heap_peak, bytes, rows}."""
    env.invalidate_all()
    report = env["outbound.job.report"]
    before = common.rss()
    common.reset_peak_rss()
    if trace:
        tracemalloc.start()
    started = time.monotonic()
    if file_format == "csv":
        size = rows = 0
        for chunk in report._iter_csv(job):
            size += len(chunk)
            rows += chunk.count(b"\n")
        rows -= 1  # the header
    else:
        with tempfile.TemporaryFile() as target:
            rows = report._write_xlsx(job, target)
            size = target.tell()
    seconds = time.monotonic() - started
    heap_peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    env.cr.rollback()  # the export's snapshot is not kept between measurements
    return {
        "seconds": seconds,
        "rss_growth": max(common.peak_rss() - before, 0),
        "heap_peak": heap_peak,
        "bytes": size,
        "rows": rows,
    }


def _print_result(size, file_format, result):
    print(
        f"   {file_format:>4} {size:>9,} messages: {result['seconds']:6.1f} s, "
        f"{result['bytes'] / common.MiB:7.1f} MiB file, {result['rows']:,} rows, "
        f"heap peak {result['heap_peak'] / common.MiB:.1f} MiB, "
        f"RSS growth {result['rss_growth'] / common.MiB:.1f} MiB"
    )


def _report(sizes, formats, results):
    smallest, largest = sizes[0], sizes[-1]
    rows = []
    for file_format in formats:
        for size in sizes:
            result, base = results[size, file_format], results[smallest, file_format]
            rows.append(
                [
                    file_format,
                    f"{size:,}",
                    f"{result['rows']:,}",
                    f"{result['seconds']:.1f}",
                    f"{size / result['seconds']:,.0f}",
                    f"{result['bytes'] / common.MiB:.1f}",
                    f"{result['heap_peak'] / common.MiB:.2f}",
                    f"{result['heap_peak'] / max(base['heap_peak'], 1):.2f}",
                    f"{result['rss_growth'] / common.MiB:.1f}",
                ]
            )
    common.print_table(
        [
            "format",
            "messages",
            "rows",
            "seconds",
            "rows/s",
            "file MiB",
            "heap peak MiB",
            f"heap vs {smallest:,}",
            "RSS growth MiB",
        ],
        rows,
        title="outcome report export (same run); heap = tracemalloc peak (separate pass), "
        "RSS growth = peak RSS during the export minus RSS before it",
    )
    for file_format in formats:
        for label, key in (("heap", "heap_peak"), ("RSS", "rss_growth")):
            small, large = results[smallest, file_format][key], results[largest, file_format][key]
            flat = large <= FLAT_RATIO * small + FLAT_SLACK
            common.target(
                f"{file_format} {label} flat",
                flat,
                f"{small / common.MiB:.1f} MiB at {smallest:,}, {large / common.MiB:.1f} MiB at "
                f"{largest:,} (at most x{FLAT_RATIO} + {FLAT_SLACK // common.MiB} MiB)",
            )
        complete = all(results[size, file_format]["rows"] == size for size in sizes)
        common.target(f"{file_format} one row per message", complete, "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
