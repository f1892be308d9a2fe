"""Render throughput of the engine against bare Jinja2, over generated accounts.

    python bench/bench_render.py [--accounts 100000] [--runs 3]

(a) ours: make_context + CompiledTemplate.render per account, as a send job does;
(b) bare: the same text in Jinja syntax, compiled by a plain jinja2.Environment and rendered with
    Template.render from dicts built before timing.
Both run in this process on one core; the best of ``--runs`` runs is kept. Targets: ours at least
50 000 renders/s and at least half the bare rate.
"""

import argparse
import os
import sys
import time
import types
from pathlib import Path

import jinja2

ROOT = Path(__file__).resolve().parent.parent


def _import_engine():
    """Register the addon as a bare namespace (as tests/conftest.py does): no Odoo needed."""
    sys.path.insert(0, str(ROOT))
    if "outbound_bulk_messaging" not in sys.modules:
        package = types.ModuleType("outbound_bulk_messaging")
        package.__path__ = [str(ROOT / "outbound_bulk_messaging")]
        sys.modules["outbound_bulk_messaging"] = package
    from outbound_bulk_messaging.engine import render

    return render


render = _import_engine()

OURS = (
    "Dear $ACCOUNT_NAME,\n\n"
    "our records show that invoice $ACCOUNT_REFERENCE for $ACCOUNT_AMOUNT EUR was due on "
    "$ACCOUNT_DUE_DATE. Please pay it or call us back.\n\n"
    "Kind regards,\n$CAMPAIGN_NAME team\n"
)
BARE = (
    "Dear {{ ACCOUNT_NAME }},\n\n"
    "our records show that invoice {{ ACCOUNT_REFERENCE }} for {{ ACCOUNT_AMOUNT }} EUR was due "
    "on {{ ACCOUNT_DUE_DATE }}. Please pay it or call us back.\n\n"
    "Kind regards,\n{{ CAMPAIGN_NAME }} team\n"
)
COLUMNS = ("Due date", "Amount", "Segment")


def make_accounts(count):
    """Plain dicts shaped like the ORM layer's."""
    return [
        {
            "reference": f"INV-{i:07d}",
            "name": f"Customer {i}",
            "email": f"customer{i}@example.com",
            "sms_number": f"+3247{i:07d}",
            "status": "Overdue",
            "data": {
                "Due date": f"2024-{i % 12 + 1:02d}-15",
                "Amount": f"{i % 997}.50",
                "Segment": "B",
            },
        }
        for i in range(count)
    ]


def time_ours(accounts):
    compiled = render.compile_template(OURS, columns=COLUMNS)
    make_context, render_one = render.make_context, compiled.render
    started = time.perf_counter()
    for account in accounts:
        render_one(make_context(account, list_name="May list", campaign_name="Recovery"))
    return time.perf_counter() - started


def time_bare(contexts):
    template = jinja2.Environment(keep_trailing_newline=True).from_string(BARE)
    render_one = template.render
    started = time.perf_counter()
    for context in contexts:
        render_one(context)
    return time.perf_counter() - started


def time_bare_fast_path(contexts):
    """Bare Jinja with the shortcuts our render takes (no dict copy, direct generator join)."""
    template = jinja2.Environment(keep_trailing_newline=True).from_string(BARE)
    new_context, root, join = template.new_context, template.root_render_func, "".join
    started = time.perf_counter()
    for context in contexts:
        join(root(new_context(context, shared=True)))
    return time.perf_counter() - started


def bare_contexts(accounts):
    return [
        {
            "ACCOUNT_NAME": a["name"],
            "ACCOUNT_REFERENCE": a["reference"],
            "ACCOUNT_AMOUNT": a["data"]["Amount"],
            "ACCOUNT_DUE_DATE": a["data"]["Due date"],
            "CAMPAIGN_NAME": "Recovery",
        }
        for a in accounts
    ]


def check_same_output(accounts):
    """Both sides must render the same text, or the comparison means nothing."""
    compiled = render.compile_template(OURS, columns=COLUMNS)
    bare = jinja2.Environment(keep_trailing_newline=True).from_string(BARE)
    context = render.make_context(accounts[0], list_name="May list", campaign_name="Recovery")
    assert compiled.render(context) == bare.render(bare_contexts(accounts[:1])[0])


def pin_to_one_core():
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    accounts = make_accounts(args.accounts)
    contexts = bare_contexts(accounts)
    check_same_output(accounts)
    pin_to_one_core()
    ours = min(time_ours(accounts) for _ in range(args.runs))
    bare = min(time_bare(contexts) for _ in range(args.runs))
    fast = min(time_bare_fast_path(contexts) for _ in range(args.runs))
    ours_rate, bare_rate, fast_rate = (args.accounts / t for t in (ours, bare, fast))
    ratio = ours_rate / bare_rate
    print(f"accounts: {args.accounts}, best of {args.runs} runs, one core")
    print(f"ours (make_context + render):   {ours_rate:12,.0f} renders/s")
    print(f"bare jinja2 (Template.render):  {bare_rate:12,.0f} renders/s")
    print(f"ratio ours/bare:                {ratio:12.2f}")
    print(
        f"for reference, bare fast path:  {fast_rate:12,.0f} renders/s "
        f"(ours/fast {ours_rate / fast_rate:.2f})"
    )
    ok = ours_rate >= 50_000 and ratio >= 0.5
    print("targets (>= 50 000/s and >= 0.5 x bare):", "met" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
