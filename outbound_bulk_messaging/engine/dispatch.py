"""What happens to each message of a batch, whatever the channel.

The ORM layer claims a batch, hands its messages to :func:`send_batch` with a ``send_one``
callable for the channel, and writes the returned outcomes in one statement. The rules of the
error taxonomy (:mod:`.errors`) live here, once:

- a message is ``sent`` only when the provider or server accepted it;
- a message-scoped error fails that message with the reason, and the batch goes on;
- a job-scoped error pauses the job: the message that hit it goes back to the queue when it
  certainly did not leave (``sent is False``), else fails as "outcome unknown"; the messages not
  yet tried go back to the queue;
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

from .errors import JOB, MESSAGE, RETRY, GatewayError, TemplateError

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
    out_of_time: bool = False

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
):
    """Send ``items`` (``(message_id, payload)`` pairs) one by one with ``send_one(payload)``.

    ``send_one`` returns an :class:`Accepted` or raises a :class:`~.errors.GatewayError` or a
    :class:`~.errors.TemplateError`. ``limiter`` (a :class:`~.pacing.RateLimiter`) spaces the
    sends. Past ``deadline`` (a ``clock()`` value) no new message is tried: the first one always
    is, so that every batch makes progress. Returns a :class:`BatchResult` with one outcome per
    item, in order.
    """
    result = BatchResult()
    items = list(items)
    for index, (message_id, payload) in enumerate(items):
        if index and deadline is not None and clock() >= deadline:
            result.outcomes += [Outcome(later_id, QUEUED) for later_id, _payload in items[index:]]
            result.out_of_time = True
            break
        try:
            accepted = _send_throttled(send_one, payload, limiter, throttle_waits, sleep)
        except TemplateError as error:
            result.outcomes.append(Outcome(message_id, FAILED, reason=str(error)))
        except GatewayError as error:
            if error.scope == MESSAGE:
                result.outcomes.append(Outcome(message_id, FAILED, reason=str(error)))
                continue
            result.outcomes.append(_stopped_outcome(message_id, error))
            result.outcomes += [
                Outcome(later_id, QUEUED) for later_id, _payload in items[index + 1 :]
            ]
            if error.scope == JOB:
                result.pause_reason = str(error)
            else:
                result.throttled = True
            break
        else:
            result.outcomes.append(
                Outcome(
                    message_id,
                    SENT,
                    provider_id=accepted.provider_id,
                    parts=accepted.parts,
                    price=accepted.price,
                    sent_at=now(),
                )
            )
    return result


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
