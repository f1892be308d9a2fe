"""What the delivery receipts of one message say, all its parts together.

A long SMS leaves as several parts, each with its own provider id, and the provider sends a
receipt per part, in any order, sometimes twice, sometimes a late "buffered" after the final
"delivered". :func:`record_part` keeps the last word of each part without letting an in-transit
state overwrite a final one; :func:`combine` reads the message's state from its parts: delivered
when every part is, undelivered (or expired, rejected) as soon as one part failed, otherwise still
on its way.
"""

# Final states that mean the text did not reach the phone, most telling first: a part that
# expired or was rejected while another was undelivered still makes the message "undelivered".
FAILURES = ("undelivered", "expired", "rejected")
FINAL = ("delivered", *FAILURES)
# Not final, most advanced first.
IN_TRANSIT = ("buffered", "accepted", "unknown")


def record_part(parts, part_id, status):
    """Return a copy of ``parts`` ({part id: state}) with the receipt of ``part_id`` recorded.

    A final state is never replaced by an in-transit one (a late "buffered" after "delivered");
    a final state may be replaced by another final one (a carrier correcting itself).
    """
    parts = dict(parts or {})
    previous = parts.get(part_id)
    if previous in FINAL and status not in FINAL:
        return parts
    parts[part_id] = status
    return parts


def combine(parts, expected=0):
    """The message's state from its parts' states.

    :param parts: {part id: state}, as built by :func:`record_part`
    :param expected: how many parts the provider said it sent (0: not known, e.g. a message whose
        outcome was unknown; then every part heard of counts as all of them)
    :return: one of the states of :data:`FINAL` or :data:`IN_TRANSIT`, ``None`` without parts
    """
    states = list(parts.values())
    if not states:
        return None
    for failure in FAILURES:
        if failure in states:
            return failure
    if all(state == "delivered" for state in states) and len(states) >= (expected or 1):
        return "delivered"
    for state in IN_TRANSIT:
        if state in states:
            return state
    # Every part heard of was delivered, but not every part has been heard of yet.
    return "buffered"


def is_failure(state):
    """Whether ``state`` says the text did not reach the phone."""
    return state in FAILURES
