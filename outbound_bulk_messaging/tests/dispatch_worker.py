"""Run the dispatch cron once in a process of its own: ``python dispatch_worker.py ARGS``.

Used by the concurrency tests to get dispatchers that really run side by side (threads cannot:
the Odoo test runner holds the registry lock). Odoo options (``-d``, ``--addons-path``,
``--db_host``…) come first; ``--ready FILE`` is created once the registry is loaded and the
worker waits for ``--go FILE`` before dispatching, so that both workers start together.
"""

import argparse
import os
import sys
import time


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready", required=True)
    parser.add_argument("--go", required=True)
    parser.add_argument("--timeout", type=float, default=60)
    own, odoo_args = parser.parse_known_args(argv)

    import odoo
    from odoo import SUPERUSER_ID, api

    odoo.tools.config.parse_config(odoo_args)
    registry = odoo.modules.registry.Registry(odoo.tools.config["db_name"])
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        open(own.ready, "w").close()
        deadline = time.monotonic() + own.timeout
        while not os.path.exists(own.go):
            if time.monotonic() > deadline:
                sys.exit("never told to go")
            time.sleep(0.01)
        jobs = env["outbound.send.job"]
        # As the cron does: run again while messages are ready (each run has a time share).
        processed = jobs._cron_dispatch()
        while jobs._count_ready_messages():
            processed += jobs._cron_dispatch()
        cr.commit()  # pylint: disable=invalid-commit
    print(f"processed {processed}")  # pylint: disable=print-used


if __name__ == "__main__":
    main(sys.argv[1:])
