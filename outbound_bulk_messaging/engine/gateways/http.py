"""What the HTTP-based adapters share: reading a failed request into the error taxonomy.

A request that never reached the provider (refused, connect timeout, untrusted certificate) is
``sent=False``; one that may have (read timeout, connection lost after the request was written,
another TLS failure) is an :class:`~..errors.OutcomeUnknownError`.
"""

import email.utils
import os
import re
import ssl
import time

import requests
from requests.utils import get_environ_proxies
from urllib3.exceptions import NewConnectionError

from ..errors import OutcomeUnknownError, ProviderUnavailableError

HOST_PATTERN = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?")


def connection_problems(config, example_host, default_host=None):
    """The problems of the settings every HTTP adapter has: timeout, REST host, CA bundle.

    ``default_host`` stands for an empty ``rest_host`` (None: an empty one is a problem).
    """
    problems = []
    if not is_positive_int(config.get("timeout", 10)):
        problems.append("the timeout must be whole seconds >= 1")
    if not HOST_PATTERN.fullmatch(config.get("rest_host") or default_host or ""):
        problems.append(
            f"the REST host must be a host name with an optional port, e.g. {example_host}"
        )
    ca_bundle = config.get("ca_bundle")
    if ca_bundle and not os.path.isfile(ca_bundle):
        problems.append(f"the CA bundle {ca_bundle} does not exist")
    return problems


def trust_only(session, host, ca_bundle):
    """Make ``session`` trust the authorities of ``ca_bundle`` only, for requests to ``host``.

    requests lets REQUESTS_CA_BUNDLE override ``Session.verify`` (psf/requests#3829), and the
    SDKs merge the environment into every request: the environment is switched off and its proxy
    settings read here instead.
    """
    session.trust_env = False
    session.proxies = get_environ_proxies(f"https://{host}")
    session.verify = ca_bundle


def transport_error(provider, host, timeout, exc, client_ref):
    """The :class:`~..errors.GatewayError` for a ``requests`` failure sending ``client_ref``."""
    if isinstance(exc, requests.ConnectTimeout):
        return ProviderUnavailableError(
            f"{provider}: cannot connect to {host}: no answer within {timeout} s", sent=False
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return _tls_error(provider, host, exc, client_ref)
    not_connected = find_cause(exc, NewConnectionError)
    if not_connected:
        socket_error = find_cause(exc, OSError, lambda err: err.strerror)
        reason = socket_error.strerror if socket_error else not_connected
        return ProviderUnavailableError(
            f"{provider}: cannot connect to {host}: {reason}", sent=False
        )
    if isinstance(exc, requests.ReadTimeout):
        reason = f"no answer within {timeout} s"
    else:
        reason = f"connection lost after the request was sent ({socket_reason(exc)})"
    return OutcomeUnknownError(
        f"{provider}: {reason} from {host}; the outcome of message {client_ref} is unknown"
    )


def _tls_error(provider, host, exc, client_ref):
    untrusted = find_cause(exc, ssl.SSLCertVerificationError)
    if untrusted:
        # Certificates are checked in the handshake, before any byte of the request.
        return ProviderUnavailableError(
            f"{provider}: TLS certificate of {host} not trusted: {untrusted.verify_message}",
            sent=False,
        )
    # urllib3 raises other TLS failures the same way in the handshake and after the request
    # was written: the second case cannot be excluded.
    return OutcomeUnknownError(
        f"{provider}: TLS error with {host} ({socket_reason(exc)}); the outcome of message "
        f"{client_ref} is unknown"
    )


def retry_after(value):
    """Seconds to wait from a Retry-After header (delay in seconds or HTTP date), or None."""
    if not value:
        return None
    if value.strip().isdigit():
        return int(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, round(moment.timestamp() - time.time()))


def causes(exc):
    """``exc`` and what it wraps: requests and urllib3 keep the cause in ``args`` or ``reason``."""
    seen = []
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or current in seen:
            continue
        seen.append(current)
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(current.args)
    return seen


def find_cause(exc, error_class, condition=None):
    matches = (err for err in causes(exc) if isinstance(err, error_class))
    return next((err for err in matches if condition is None or condition(err)), None)


def socket_reason(exc):
    """The socket-level cause of a requests failure, as ``Class: text``."""
    root = (
        find_cause(exc, OSError, lambda err: not isinstance(err, requests.RequestException)) or exc
    )
    return f"{type(root).__name__}: {root}" if str(root) else type(root).__name__


def is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def to_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
