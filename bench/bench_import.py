"""Import generated CSV files through the real import wizard: rows per second and peak memory.

    python3 bench/bench_import.py [--sizes 25000,50000,100000] [--runs 3] [--bad-ratio 0.01]

Files come from ``gen_accounts_csv.py`` (kept in ``--csv-dir`` for the next run). In a fresh
copy of the ``obm_bench`` database, with an import profile (reference, name, status, email and
mobile columns, default country GB) and a new list per import, each file goes through:

1. upload, in a child process: the file is read and base64-encoded into the wizard's ``file``
   field, as the web client does. This holds the whole file in memory several times over
   (bytes, base64, the attachment write): it is the upload's cost, measured apart, not the
   import's;
2. import, in another child process, so that memory freed by the upload cannot be reused and
   hide the import's own growth: a 2 000-row warm-up import (phone metadata, ORM caches, SQL
   plans), garbage collection and ``malloc_trim``, then ``action_import()`` on the uploaded
   wizard and the commit are timed, with the growth of the process RSS over its value before the
   call (the kernel's peak, VmHWM, reset just before). A separate pass measures the Python heap
   peak with tracemalloc started just before ``action_import()``; it slows the import down and
   is not timed.

Targets: 100 000 rows imported in under 30 s; memory flat in the file size (the peak growth at
the largest size at most 1.25 x the one at the smallest, plus 4 MiB of slack for allocator noise).
"""

import argparse
import base64
import contextlib
import ctypes
import gc
import sys
import time
import tracemalloc
from pathlib import Path

import common
from gen_accounts_csv import generate

WARMUP_ROWS = 2_000
TARGET_SECONDS = 30.0
FLAT_RATIO, FLAT_SLACK = 1.25, 4 * common.MiB


def main(argv=None):
    parser = common.new_parser(__doc__)
    parser.add_argument("--sizes", default="25000,50000,100000")
    parser.add_argument("--bad-ratio", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv-dir", default="/tmp/obm_bench_csv")
    children = ["upload-time", "upload-trace", "import-time", "import-trace"]
    parser.add_argument("--child", choices=children, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--wizard-id", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    return parent(args)


# ---- PARENT


def csv_file(args, rows):
    """The generated file of ``rows`` rows, made once per seed and bad ratio."""
    directory = Path(args.csv_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"accounts_{rows}_s{args.seed}_b{args.bad_ratio}.csv"
    if not path.exists():
        seconds, _ = common.timed(generate, rows, str(path), args.seed, args.bad_ratio)
        print(f"generated {path} ({path.stat().st_size / common.MiB:.1f} MiB) in {seconds:.1f} s")
    return path


def run_child(args, database, mode, path, *extra):
    return common.run_child(
        Path(__file__).resolve(),
        mode,
        database,
        "--file",
        str(path),
        *extra,
        log_level=args.log_level,
    )


def upload_and_import(args, database, path, warmup, trace):
    """Upload ``path`` in one child process, import it in another: the two measurements."""
    mode = "trace" if trace else "time"
    upload = run_child(args, database, f"upload-{mode}", path)
    imported = run_child(
        args,
        database,
        f"import-{mode}",
        warmup,
        "--wizard-id",
        str(upload["wizard_id"]),
    )
    return dict(imported, **{f"upload_{key}": value for key, value in upload.items()})


def parent(args):
    sizes = [int(size) for size in args.sizes.split(",")]
    common.print_header("bench_import: CSV import through outbound.account.import", args)
    warmup = csv_file(args, WARMUP_ROWS)
    paths = {size: csv_file(args, size) for size in sizes}
    timings = {size: [] for size in sizes}
    with common.bench_database("import", keep=args.keep_db, rebuild=args.rebuild_db) as database:
        for run in range(1, args.runs + 1):
            for size in sizes:
                common.wait_for_quiet(args, f"run {run}, {size} rows")
                result = upload_and_import(args, database, paths[size], warmup, trace=False)
                timings[size].append(result)
                print(
                    f"  run {run}: {size:>7} rows: import {result['seconds']:.2f} s, RSS growth "
                    f"{result['rss_growth'] / common.MiB:.1f} MiB, upload "
                    f"{result['upload_seconds']:.2f} s",
                    flush=True,
                )
        traces = {}
        for size in sizes:
            traces[size] = upload_and_import(args, database, paths[size], warmup, trace=True)
            print(
                f"  traced: {size:>7} rows: heap peak {traces[size]['heap_peak'] / common.MiB:.1f}"
                f" MiB (upload {traces[size]['upload_heap_peak'] / common.MiB:.1f} MiB)",
                flush=True,
            )
    report(args, sizes, paths, timings, traces)
    return 0


def report(args, sizes, paths, timings, traces):
    best = {size: min(timings[size], key=lambda result: result["seconds"]) for size in sizes}
    rss_peak = {size: max(result["rss_growth"] for result in timings[size]) for size in sizes}
    smallest = sizes[0]
    rows = []
    for size in sizes:
        result, trace = best[size], traces[size]
        rows.append(
            [
                f"{size:,}",
                f"{paths[size].stat().st_size / common.MiB:.1f}",
                f"{result['seconds']:.2f}",
                f"{size / result['seconds']:,.0f}",
                f"{result['created']:,}/{result['rejected']:,}/{result['warnings']:,}",
                f"{trace['heap_peak'] / common.MiB:.1f}",
                f"{trace['heap_peak'] / traces[smallest]['heap_peak']:.2f}",
                f"{rss_peak[size] / common.MiB:.1f}",
                f"{rss_peak[size] / max(rss_peak[smallest], 1):.2f}",
                f"{result['upload_seconds']:.2f}",
                f"{result['upload_rss_growth'] / common.MiB:.1f}",
                f"{trace['upload_heap_peak'] / common.MiB:.1f}",
            ]
        )
    common.print_table(
        [
            "rows",
            "MiB",
            "import s",
            "rows/s",
            "created/rejected/warned",
            "heap peak MiB",
            "x smallest",
            "RSS growth MiB",
            "x smallest",
            "upload s",
            "upload RSS MiB",
            "upload heap MiB",
        ],
        rows,
        title=(
            f"import = action_import() + commit, best of {args.runs} (rows/s over all rows, "
            "rejected ones included); heap = tracemalloc peak during the import (separate run); "
            "RSS growth = peak RSS during the import minus RSS before it (worst of the runs); "
            "upload = base64 + wizard create, not part of the import"
        ),
    )
    print(f"\n{common.machine_state()}")
    largest = sizes[-1]
    if 100_000 in best:
        seconds = best[100_000]["seconds"]
        common.target(
            "100 000 rows imported in under 30 s",
            seconds < TARGET_SECONDS,
            f"{seconds:.1f} s ({100_000 / seconds:,.0f} rows/s)",
        )
    for label, peaks in (
        ("Python heap", {size: traces[size]["heap_peak"] for size in sizes}),
        ("process RSS", rss_peak),
    ):
        flat = peaks[largest] <= FLAT_RATIO * peaks[smallest] + FLAT_SLACK
        common.target(
            f"{label} flat in the file size",
            flat,
            f"peak growth {peaks[smallest] / common.MiB:.1f} MiB at {smallest:,} rows, "
            f"{peaks[largest] / common.MiB:.1f} MiB at {largest:,} rows "
            f"({largest / smallest:.0f}x the rows; allowed {FLAT_RATIO}x + 4 MiB)",
        )


# ---- CHILDREN (an upload, or an import, each in a process of its own)


def child(args):
    common.init_odoo(args.log_level)
    trace = args.child.endswith("-trace")
    with common.odoo_env(args.database) as env:
        profile, campaign = setup(env)
        env.cr.commit()
        if args.child.startswith("upload"):
            wizard, result = upload(env, profile, campaign, Path(args.file), trace)
            result["wizard_id"] = wizard.id
        else:
            # The warm-up (phone metadata, ORM caches, SQL plans): a small file, uploaded and
            # imported here; what it freed is given back to the system before measuring.
            warmup, _result = upload(env, profile, campaign, Path(args.file), trace=False)
            warmup.action_import()
            env.cr.commit()
            env.invalidate_all()
            release_free_memory()
            wizard = env["outbound.account.import"].browse(args.wizard_id)
            _action, result = measure(env, trace, wizard.action_import)
            result.update(
                created=wizard.count_created,
                updated=wizard.count_updated,
                rejected=wizard.count_rejected,
                warnings=wizard.count_warnings,
            )
    common.print_result(result)
    return 0


def setup(env):
    profile = env["outbound.import.profile"].search([("name", "=", "Bench CSV")], limit=1)
    profile = profile or env["outbound.import.profile"].create(
        {
            "name": "Bench CSV",
            "reference_column": "reference",
            "name_column": "name",
            "status_column": "status",
            "email_column": "email",
            "sms_column": "mobile",
            "default_country_id": env.ref("base.uk").id,
        }
    )
    campaign = env["outbound.campaign"].search([("name", "=", "Bench import")], limit=1)
    campaign = campaign or env["outbound.campaign"].create({"name": "Bench import"})
    return profile, campaign


def upload(env, profile, campaign, path, trace):
    """Create a list and the wizard with ``path`` as its base64 file, as the web client does."""
    outbound_list = env["outbound.list"].create(
        {"name": f"{path.name} {time.time()}", "campaign_id": campaign.id}
    )
    env.cr.commit()
    release_free_memory()

    def create_wizard():
        return env["outbound.account.import"].create(
            {
                "list_id": outbound_list.id,
                "profile_id": profile.id,
                "file": base64.b64encode(path.read_bytes()),
                "filename": path.name,
            }
        )

    return measure(env, trace, create_wizard)


def release_free_memory():
    """Collect garbage and give free heap pages back to the system, for a clean RSS baseline."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def measure(env, trace, function, commit=True):
    """Run ``function`` and commit (or roll back): (result, {seconds, rss_growth, heap_peak})."""
    before = common.rss()
    common.reset_peak_rss()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    result = function()
    if commit:
        env.cr.commit()
    else:
        env.cr.rollback()
    seconds = time.perf_counter() - started
    heap_peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    growth = common.peak_rss() - before
    return result, {"seconds": seconds, "rss_growth": growth, "heap_peak": heap_peak}


if __name__ == "__main__":
    sys.exit(main())
