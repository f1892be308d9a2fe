"""The per-message rules of engine.dispatch.send_batch, with scripted senders."""

import pytest

from outbound_bulk_messaging.engine import dispatch
from outbound_bulk_messaging.engine.errors import (
    AccountError,
    OutcomeUnknownError,
    ProviderUnavailableError,
    RecipientError,
    SmsEncodingError,
    ThrottledError,
)


class Script:
    """A send_one that raises or accepts per payload, and records every call."""

    def __init__(self, **behaviour):
        self.behaviour = behaviour
        self.calls = []

    def __call__(self, payload):
        self.calls.append(payload)
        outcome = self.behaviour.get(payload)
        if isinstance(outcome, list):
            outcome = outcome.pop(0) if outcome else None
        if isinstance(outcome, Exception):
            raise outcome
        return dispatch.Accepted(provider_id=f"id-{payload}", parts=1, price=0.01)


def items(*payloads):
    return [(index + 1, payload) for index, payload in enumerate(payloads)]


def states(result):
    return [(outcome.message_id, outcome.state) for outcome in result.outcomes]


def test_all_sent_with_provider_data():
    result = dispatch.send_batch(items("a", "b"), Script())
    assert states(result) == [(1, "sent"), (2, "sent")]
    assert result.outcomes[0].provider_id == "id-a"
    assert result.outcomes[0].sent_at is not None
    assert result.pause_reason is None and not result.throttled


def test_message_error_fails_only_that_message():
    send = Script(b=RecipientError("550 5.1.1 <b@x>: unknown"))
    result = dispatch.send_batch(items("a", "b", "c"), send)
    assert states(result) == [(1, "sent"), (2, "failed"), (3, "sent")]
    assert not result.outcomes[1].unknown
    assert result.outcomes[1].reason == "550 5.1.1 <b@x>: unknown"
    assert result.pause_reason is None


def test_render_error_fails_only_that_message():
    result = dispatch.send_batch(items("a", "b"), Script(a=SmsEncodingError("4 segments")))
    assert states(result) == [(1, "failed"), (2, "sent")]


def test_job_error_not_sent_requeues_and_pauses():
    send = Script(b=AccountError("vonage: status 4: Bad Credentials", sent=False))
    result = dispatch.send_batch(items("a", "b", "c"), send)
    assert states(result) == [(1, "sent"), (2, "queued"), (3, "queued")]
    assert result.pause_reason == "vonage: status 4: Bad Credentials"
    assert send.calls == ["a", "b"]  # nothing is tried after a job-level error


def test_job_error_with_unknown_outcome_fails_as_unknown():
    send = Script(a=OutcomeUnknownError("timeout after 1 s"))
    result = dispatch.send_batch(items("a", "b"), send)
    assert states(result) == [(1, "failed"), (2, "queued")]
    assert result.outcomes[0].reason == "outcome unknown: timeout after 1 s"
    assert result.outcomes[0].unknown
    assert result.pause_reason == "timeout after 1 s"


def test_server_error_maybe_sent_is_not_retried():
    send = Script(a=ProviderUnavailableError("503", sent=None))
    result = dispatch.send_batch(items("a"), send)
    assert states(result) == [(1, "failed")]
    assert send.calls == ["a"]


def test_throttled_waits_then_sends_the_same_message():
    waits = []
    send = Script(b=[ThrottledError("throttled"), ThrottledError("throttled")])
    result = dispatch.send_batch(
        items("a", "b"), send, throttle_waits=(1, 2, 4), sleep=waits.append
    )
    assert states(result) == [(1, "sent"), (2, "sent")]
    assert waits == [1, 2]
    assert send.calls == ["a", "b", "b", "b"]


def test_throttle_honours_retry_after():
    waits = []
    send = Script(a=[ThrottledError("429", retry_after=5)])
    dispatch.send_batch(items("a"), send, throttle_waits=(1,), sleep=waits.append)
    assert waits == [5]


def test_lasting_throttle_requeues_the_rest_without_pausing():
    send = Script(b=[ThrottledError("throttled")] * 5)
    result = dispatch.send_batch(
        items("a", "b", "c"), send, throttle_waits=(0, 0), sleep=lambda s: None
    )
    assert states(result) == [(1, "sent"), (2, "queued"), (3, "queued")]
    assert result.throttled and result.pause_reason is None


def test_limiter_is_asked_before_every_attempt():
    class Limiter:
        calls = 0

        def wait(self):
            Limiter.calls += 1

    send = Script(a=[ThrottledError("throttled")])
    dispatch.send_batch(items("a", "b"), send, limiter=Limiter(), sleep=lambda s: None)
    assert Limiter.calls == 3


@pytest.mark.parametrize("state", ["sent", "failed", "queued"])
def test_count(state):
    send = Script(b=RecipientError("no"), c=AccountError("stop"))
    result = dispatch.send_batch(items("a", "b", "c", "d"), send)
    assert result.count(state) == {"sent": 1, "failed": 1, "queued": 2}[state]


def test_deadline_requeues_untried_messages_but_always_tries_one():
    ticks = iter([5, 11])  # read before the 2nd and the 3rd message
    send = Script()
    result = dispatch.send_batch(
        items("a", "b", "c", "d"), send, deadline=10, clock=lambda: next(ticks)
    )
    assert states(result) == [(1, "sent"), (2, "sent"), (3, "queued"), (4, "queued")]
    assert result.pause_reason is None and not result.throttled  # time is up, nothing wrong
    assert send.calls == ["a", "b"]
    late = dispatch.send_batch(items("a", "b"), Script(), deadline=0, clock=lambda: 99)
    assert states(late) == [(1, "sent"), (2, "queued")]


def test_unknown_outcome_fails_the_message_and_sending_goes_on():
    send = Script(b=OutcomeUnknownError("connection dropped"))
    result = dispatch.send_batch(items("a", "b", "c"), send, max_errors=3)
    assert states(result) == [(1, "sent"), (2, "failed"), (3, "sent")]
    assert result.outcomes[1].unknown
    assert result.outcomes[1].reason == "outcome unknown: connection dropped"
    assert result.pause_reason is None
    assert result.streak == 0  # the success after it ended the streak


def test_a_streak_of_unknown_outcomes_pauses():
    dropped = OutcomeUnknownError("connection dropped")
    send = Script(b=dropped, c=ProviderUnavailableError("HTTP 503", sent=None), d=dropped)
    result = dispatch.send_batch(items("a", "b", "c", "d", "e"), send, max_errors=3)
    assert states(result) == [
        (1, "sent"),
        (2, "failed"),
        (3, "failed"),
        (4, "failed"),
        (5, "queued"),
    ]
    assert result.pause_reason == (
        "3 sends in a row with an unknown outcome, the last: connection dropped"
    )
    assert send.calls == ["a", "b", "c", "d"]


def test_the_streak_carries_over_from_the_previous_batch():
    send = Script(a=OutcomeUnknownError("timeout"))
    result = dispatch.send_batch(items("a", "b"), send, max_errors=3, streak=2)
    assert states(result) == [(1, "failed"), (2, "queued")]
    assert result.streak == 3 and result.pause_reason.startswith("3 sends in a row")
    kept = dispatch.send_batch(items("a"), Script(a=OutcomeUnknownError("t")), max_errors=3)
    assert kept.streak == 1 and kept.pause_reason is None


def test_account_errors_still_pause_at_once_whatever_the_streak():
    send = Script(a=AccountError("bad credentials", sent=None), b=RecipientError("no"))
    result = dispatch.send_batch(items("a", "b"), send, max_errors=3)
    assert states(result) == [(1, "failed"), (2, "queued")]
    assert result.pause_reason == "bad credentials"
    refused = Script(a=ProviderUnavailableError("connection refused", sent=False))
    result = dispatch.send_batch(items("a", "b"), refused, max_errors=3)
    assert states(result) == [(1, "queued"), (2, "queued")]
    assert result.pause_reason == "connection refused"
