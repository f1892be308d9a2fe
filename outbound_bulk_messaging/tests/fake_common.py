"""What the fake servers of these tests share: the loopback host, ports, TLS files, process helpers.

Only the standard library and trustme. :func:`free_port` and :func:`make_tls_files` serve the tests
too; ``_jsonl_writer`` and ``_run_until_terminated`` serve a fake run as its own process
(``fakes.py`` and ``tests_faults/fault_sink.py``).
"""

import contextlib
import itertools
import json
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
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


# ---- HTTPS fakes


class HttpsFake:
    """What the HTTPS fake providers share: a TLS server on 127.0.0.1 in a thread of its own.

    A subclass sets :attr:`handler` (its ``BaseHTTPRequestHandler``) and calls
    :meth:`_init_server` from its ``__init__``; the handler reaches the fake as
    ``self.server.fake``. ``requests`` lists what arrived, ``connections`` counts TLS
    connections, ``errors`` keeps failures of the fake itself (a client hanging up is not one).
    """

    handler = None
    tmp_prefix = "fake-https-"

    def _init_server(self, port, tls_files):
        self.requests = []
        self.connections = 0
        self.errors = []
        self.stopping = threading.Event()
        self.ca_file = None
        self._port = port
        self._tls_files = tls_files
        self._tmp_dir = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._open_sockets = set()
        self._server = None
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def rest_host(self):
        """What to give the gateway as ``rest_host``: ``127.0.0.1:PORT``."""
        return f"{HOST}:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def start(self):
        if self._tls_files is None:
            self._tmp_dir = tempfile.mkdtemp(prefix=self.tmp_prefix)
            self._tls_files = make_tls_files(self._tmp_dir)
        cert_path, key_path, self.ca_file = self._tls_files
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_path, key_path)
        self._server = TlsHttpServer(self, (HOST, self._port), context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self._server.shutdown()
        with self._lock:
            for sock in self._open_sockets:
                # The plain socket's shutdown unblocks a handler waiting on it; SSLSocket's
                # would first drop the TLS state under that handler's feet.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join()
        if self._tmp_dir:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)

    # ---- called by the handler threads

    def _track(self, sock, opened):
        with self._lock:
            if opened:
                self.connections += 1
                self._open_sockets.add(sock)
            else:
                self._open_sockets.discard(sock)


class TlsHttpServer(ThreadingHTTPServer):
    """A threading HTTP server whose TLS handshake runs in each request's thread."""

    daemon_threads = True

    def __init__(self, fake, address, ssl_context):
        self.fake = fake
        self.ssl_context = ssl_context
        super().__init__(address, fake.handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the request's thread, so a client that rejects the
        # certificate or stalls cannot block the accepting thread.
        request.settimeout(5)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError:
            return
        self.fake._track(tls, opened=True)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            self.fake._track(tls, opened=False)
            tls.close()

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        # A client that hangs up (timeout, shutdown) breaks the socket: expected, not a fault.
        if not isinstance(error, OSError):
            self.fake.errors.append(error)
