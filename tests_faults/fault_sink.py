"""The loopback SMTP sink of ``fakes.py`` as a process, with the faults of a real mail server.

    python tests_faults/fault_sink.py --jsonl F [--port P] [--stall S --stall-from N]
        [--drop-after N] [--data-reply "451 4.3.0 try later" --data-reply-every K]
        [--refuse "REGEX=550 5.1.1 no such user"]

``--stall S --stall-from N``: from the N-th DATA on, wait S seconds before answering its final
dot. ``--drop-after N``: close the connection without answering the N-th DATA.
``--data-reply R --data-reply-every K``: answer R instead of 250 to every K-th DATA (1: all).
``--refuse REGEX=REPLY``: answer REPLY to RCPT for the addresses matching REGEX (repeatable).

Like ``fakes.py smtp`` it prints ``listening on 127.0.0.1:PORT`` when ready, appends one JSON
line per accepted message (with the ``X-Outbound-Message`` header, the message's id) and stops
cleanly on SIGTERM.
"""

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(
    0, str(Path(__file__).resolve().parent.parent / "outbound_bulk_messaging" / "tests")
)

import fakes


class FaultSink(fakes.SmtpSink):
    def __init__(self, *, stall_seconds=0, stall_from=1, **options):
        super().__init__(**options)
        self.stall_seconds = stall_seconds
        self.stall_from = stall_from

    @property
    def stall(self):
        # Read by SmtpSink.handle_DATA once data_count counts the DATA being answered.
        return self.stall_seconds if self.data_count >= self.stall_from else 0

    @stall.setter
    def stall(self, value):
        """SmtpSink.__init__ sets it; the fault options decide instead."""


def _record(message):
    return {
        "to": message.rcpt_tos,
        "outbound_id": message["X-Outbound-Message"],
        "subject": message["Subject"],
        "received_at": fakes._utc_now(),
    }


def _refuser(rules):
    compiled = [(re.compile(pattern), reply) for pattern, reply in rules]

    def refuse(address):
        return next((reply for pattern, reply in compiled if pattern.search(address)), None)

    return refuse


def _data_reply(reply, every):
    if not reply:
        return None
    return lambda count: reply if count % every == 0 else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--jsonl", required=True)
    parser.add_argument("--stall", type=float, default=0)
    parser.add_argument("--stall-from", type=int, default=1)
    parser.add_argument("--drop-after", type=int)
    parser.add_argument("--data-reply")
    parser.add_argument("--data-reply-every", type=int, default=1)
    parser.add_argument("--refuse", action="append", default=[], metavar="REGEX=REPLY")
    args = parser.parse_args(argv)
    sink = FaultSink(
        port=args.port,
        stall_seconds=args.stall,
        stall_from=args.stall_from,
        drop_after=args.drop_after,
        data_reply=_data_reply(args.data_reply, args.data_reply_every),
        refuse=_refuser(rule.split("=", 1) for rule in args.refuse),
        on_message=fakes._jsonl_writer(args.jsonl, _record),
    )
    with sink:
        fakes._run_until_terminated(sink.port)


if __name__ == "__main__":
    main()
