"""Real local servers for the tests and bench scripts: an SMTP sink and a fake Vonage SMS API.

One module per server, on what ``fake_common`` shares: ``fake_smtp`` (:class:`SmtpSink`),
``fake_vonage`` (:class:`FakeVonage`) and ``fake_twilio`` (its own command line, which
``fakes.py twilio`` runs). This module re-exports the first two, so ``from .fakes import SmtpSink``
keeps working, and is the command line of them all. pytest, the Odoo tests and the bench scripts
import these files, and each fake runs on its own as a process (until SIGTERM) for crash tests::

    python outbound_bulk_messaging/tests/fakes.py smtp --port 2525 --jsonl smtp.jsonl
    python outbound_bulk_messaging/tests/fakes.py tls DIRECTORY
    python outbound_bulk_messaging/tests/fakes.py vonage --port 8443 --cert DIRECTORY/cert.pem \
        --key DIRECTORY/key.pem --jsonl sms.jsonl [--mode ok] [--api-key K --api-secret S]
    python outbound_bulk_messaging/tests/fakes.py twilio ...   # fake_twilio.py's own arguments

Each process prints ``listening on 127.0.0.1:PORT`` once ready (``--port 0`` picks a free port)
and appends one JSON line per accepted message or received request to the ``--jsonl`` file.
"""

import argparse
import importlib

# Run as a script (or imported from this folder, as tests_faults/fault_sink.py does) there is no
# package: the sibling modules are then top-level modules of this folder.
if __package__:
    from .fake_common import (
        HOST,
        _jsonl_writer,
        _run_until_terminated,
        _utc_now,
        free_port,
        make_tls_files,
    )
    from .fake_smtp import ReceivedMessage, SmtpSink, _smtp_record
    from .fake_vonage import MODES, FakeVonage, _vonage_record
else:
    from fake_common import (
        HOST,
        _jsonl_writer,
        _run_until_terminated,
        _utc_now,
        free_port,
        make_tls_files,
    )
    from fake_smtp import ReceivedMessage, SmtpSink, _smtp_record
    from fake_vonage import MODES, FakeVonage, _vonage_record

__all__ = ["HOST", "FakeVonage", "ReceivedMessage", "SmtpSink", "free_port", "make_tls_files"]
# tests_faults/fault_sink.py runs its sink as a process with these, read from this module.
__all__ += ["_jsonl_writer", "_run_until_terminated", "_utc_now"]


def _serve_smtp(args):
    with SmtpSink(port=args.port, on_message=_jsonl_writer(args.jsonl, _smtp_record)) as sink:
        _run_until_terminated(sink.port)


def _serve_vonage(args):
    fake = FakeVonage(
        api_key=args.api_key,
        api_secret=args.api_secret,
        signature_secret=args.signature_secret,
        mode=args.mode,
        delay=args.delay,
        port=args.port,
        tls_files=(args.cert, args.key, None),
        on_request=_jsonl_writer(args.jsonl, _vonage_record),
    )
    with fake:
        _run_until_terminated(fake.port)


def _write_tls(args):
    for path in make_tls_files(args.directory):
        print(path)


def _serve_twilio(rest):
    # fake_twilio.py parses its own arguments; imported only when asked for, so the other fakes
    # run whatever state that module is in.
    module = importlib.import_module(".fake_twilio" if __package__ else "fake_twilio", __package__)
    return module.main(rest)


def main(argv=None):
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "twilio":
        return _serve_twilio(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.run(args)


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    smtp = commands.add_parser("smtp", help="SMTP sink")
    smtp.add_argument("--port", type=int, default=0)
    smtp.add_argument("--jsonl", required=True)
    smtp.set_defaults(run=_serve_smtp)
    tls = commands.add_parser("tls", help="write cert.pem, key.pem and ca.pem into DIRECTORY")
    tls.add_argument("directory")
    tls.set_defaults(run=_write_tls)
    vonage = commands.add_parser("vonage", help="fake Vonage SMS API")
    vonage.add_argument("--port", type=int, default=0)
    vonage.add_argument("--cert", required=True)
    vonage.add_argument("--key", required=True)
    vonage.add_argument("--jsonl", required=True)
    vonage.add_argument("--mode", default="ok", choices=sorted(MODES))
    vonage.add_argument("--delay", type=float, default=3.0)
    vonage.add_argument("--api-key", default="test-key")
    vonage.add_argument("--api-secret", default="test-secret")
    vonage.add_argument("--signature-secret")
    vonage.set_defaults(run=_serve_vonage)
    # Its arguments are fake_twilio.main's: main() hands it whatever follows "twilio".
    commands.add_parser("twilio", help="fake Twilio SMS API (fake_twilio.py)", add_help=False)
    return parser


if __name__ == "__main__":
    main()
