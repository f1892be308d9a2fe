"""What happens to each message of a batch, whatever the channel.

The ORM layer claims a batch, hands its messages to :func:`send_batch` with a ``send_one``
callable for the channel, and writes the returned outcomes in one statement. The rules of the
error taxonomy (:mod:`.errors`) live here, once:

- a message is ``sent`` only when the provider or server accepted it;
- a message-scoped error fails that message with the reason, and the batch goes on;
- a send whose outcome is unknown (timeout, dropped connection, server error after the request
  left: a job-scoped error with ``sent is None``) fails that message as "outcome unknown" and the
  batch goes on; ``max_errors`` such sends in a row (a *streak*, carried from batch to batch
  through ``streak``) pause the job; a message that is accepted ends the streak;
- any other job-scoped error (credentials, quota, a server that cannot be reached) pauses the job
  at once: the message that hit it goes back to the queue (it certainly did not leave), as do the
  messages not yet tried;
- a throttled message waits and is tried again (it was not accepted); when throttling lasts, it
  and the rest go back to the queue for a later run;
- once the ``deadline`` has passed, the messages not yet tried go back to the queue: a slow
  provider must not keep the cron worker past its time budget (the batch is claimed whole);
- a template that cannot be rendered for an account fails that message only.

Nothing here retries a failed message: failures are final until someone requeues them.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .errors import JOB, MESSAGE, RETRY, AccountError, GatewayError, TemplateError

SENT = "sent"
FAILED = "failed"
QUEUED = "queued"


@dataclass
class Outcome:
    message_id: int
    state: str
    reason: str | None = None
    provider_id: str | None = None
    parts: int | None = None
    price: float | None = None
    sent_at: datetime | None = None
    unknown: bool = False  # failed because the outcome is unknown: a receipt may settle it


@dataclass
class BatchResult:
    outcomes: list = field(default_factory=list)
    pause_reason: str | None = None
    throttled: bool = False
    streak: int = 0  # sends in a row whose outcome is unknown, at the end of the batch

    def count(self, state):
        return sum(1 for outcome in self.outcomes if outcome.state == state)


@dataclass
class Accepted:
    """What ``send_one`` returns for an accepted message."""

    provider_id: str | None = None
    parts: int | None = None
    price: float | None = None


def _utcnow():
    # Odoo stores naive UTC datetimes.
    return datetime.now(timezone.utc).replace(tzinfo=None)


def send_batch(
    items,
    send_one,
    *,
    limiter=None,
    throttle_waits=(1, 2, 4),
    sleep=time.sleep,
    now=_utcnow,
    deadline=None,
    clock=time.monotonic,
    max_errors=1,
    streak=0,
):
    """Send ``items`` (``(message_id, payload)`` pairs) one by one with ``send_one(payload)``.

    ``send_one`` returns an :class:`Accepted` or raises a :class:`~.errors.GatewayError` or a
    :class:`~.errors.TemplateError`. ``limiter`` (a :class:`~.pacing.RateLimiter`) spaces the
    sends. Past ``deadline`` (a ``clock()`` value) no new message is tried: the first one always
    is, so that every batch makes progress. ``streak`` is the number of sends in a row whose
    outcome was unknown before this batch, ``max_errors`` the length of streak that pauses the
    job. Returns a :class:`BatchResult` with one outcome per item, in order.
    """
    result = BatchResult(streak=streak)
    items = list(items)
    for index, (message_id, payload) in enumerate(items):
        if index and deadline is not None and clock() >= deadline:
            result.outcomes += _requeued(items[index:])
            break
        try:
            accepted = _send_throttled(send_one, payload, limiter, throttle_waits, sleep)
        except TemplateError as error:
            result.outcomes.append(Outcome(message_id, FAILED, reason=str(error)))
        except GatewayError as error:
            if not _goes_on(result, message_id, error, max_errors):
                result.outcomes += _requeued(items[index + 1 :])
                break
        else:
            result.streak = 0
            result.outcomes.append(_sent_outcome(message_id, accepted, now()))
    return result


def _goes_on(result, message_id, error, max_errors):
    """Record the outcome of a failed send; whether the batch goes on after it."""
    if error.scope == MESSAGE:
        result.outcomes.append(Outcome(message_id, FAILED, reason=str(error)))
        return True
    result.outcomes.append(_stopped_outcome(message_id, error))
    if error.scope == RETRY:
        result.throttled = True
        return False
    if not is_outcome_unknown(error):
        result.pause_reason = str(error)
        return False
    result.streak += 1
    if result.streak < max_errors:
        return True
    result.pause_reason = (
        str(error)
        if max_errors <= 1
        else f"{result.streak} sends in a row with an unknown outcome, the last: {error}"
    )
    return False


def is_outcome_unknown(error):
    """A job-level failure after which nobody knows whether the message left (timeout, 5xx)."""
    return error.scope == JOB and error.sent is None and not isinstance(error, AccountError)


def _requeued(items):
    return [Outcome(message_id, QUEUED) for message_id, _payload in items]


def _sent_outcome(message_id, accepted, sent_at):
    return Outcome(
        message_id,
        SENT,
        provider_id=accepted.provider_id,
        parts=accepted.parts,
        price=accepted.price,
        sent_at=sent_at,
    )


def _send_throttled(send_one, payload, limiter, throttle_waits, sleep):
    """Send, waiting and trying again while the provider only asks to slow down."""
    waits = iter(throttle_waits)
    while True:
        if limiter:
            limiter.wait()
        try:
            return send_one(payload)
        except GatewayError as error:
            if error.scope != RETRY:
                raise
            wait = next(waits, None)
            if wait is None:
                raise
            sleep(max(wait, error.retry_after or 0))


def _stopped_outcome(message_id, error):
    if error.scope == RETRY or error.sent is False:
        return Outcome(message_id, QUEUED)
    return Outcome(message_id, FAILED, reason=f"outcome unknown: {error}", unknown=True)
