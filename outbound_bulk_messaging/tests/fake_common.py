"""What the fake servers of these tests share: the loopback host, ports, TLS files, process helpers.

Only the standard library and trustme. :func:`free_port` and :func:`make_tls_files` serve the tests
too; ``_jsonl_writer`` and ``_run_until_terminated`` serve a fake run as its own process
(``fakes.py`` and ``tests_faults/fault_sink.py``).
"""

import contextlib
import json
import signal
import socket
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import trustme

HOST = "127.0.0.1"


def free_port():
    """A TCP port of 127.0.0.1 that was free a moment ago (also a closed port to connect to)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def make_tls_files(directory):
    """Write a throw-away CA and a certificate for 127.0.0.1 and localhost into ``directory``.

    :return: ``(cert_path, key_path, ca_path)`` as strings
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    issued = authority.issue_cert(HOST, "localhost")
    cert_path, key_path, ca_path = (directory / name for name in ("cert.pem", "key.pem", "ca.pem"))
    for index, blob in enumerate(issued.cert_chain_pems):
        blob.write_to_path(str(cert_path), append=bool(index))
    issued.private_key_pem.write_to_path(str(key_path))
    authority.cert_pem.write_to_path(str(ca_path))
    return str(cert_path), str(key_path), str(ca_path)


def _utc_now():
    return datetime.now(timezone.utc).isoformat()


# ---- PROCESSES


def _jsonl_writer(path, record):
    """A callback appending ``record(item)`` to ``path`` as one flushed JSON line per call."""
    lock = threading.Lock()
    stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process lifetime

    def write(item):
        with lock:
            stream.write(json.dumps(record(item)) + "\n")
            stream.flush()

    return write


def _run_until_terminated(port):
    print(f"listening on {HOST}:{port}", flush=True)  # pylint: disable=print-used
    signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
