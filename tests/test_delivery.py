"""The receipts of a multi-part SMS, combined into the message's delivery state."""

import itertools

import pytest

from outbound_bulk_messaging.engine.delivery import combine, is_failure, record_part


def replay(receipts, expected):
    parts = {}
    for part_id, status in receipts:
        parts = record_part(parts, part_id, status)
    return combine(parts, expected)


THREE_DELIVERED = [("p1", "delivered"), ("p2", "delivered"), ("p3", "delivered")]


@pytest.mark.parametrize("order", list(itertools.permutations(THREE_DELIVERED)))
def test_delivered_only_when_every_part_is_in_any_order(order):
    assert replay(order[:2], expected=3) != "delivered"
    assert replay(order, expected=3) == "delivered"


ONE_FAILS = [("p1", "delivered"), ("p2", "undelivered"), ("p3", "delivered")]


@pytest.mark.parametrize("order", list(itertools.permutations(ONE_FAILS)))
def test_undelivered_as_soon_as_one_part_fails_in_any_order(order):
    states = [replay(order[: index + 1], expected=3) for index in range(3)]
    failed_at = [part for part, _status in order].index("p2")
    assert states[failed_at:] == ["undelivered"] * (3 - failed_at)
    assert "undelivered" not in states[:failed_at]


WITH_TRANSIT = [
    ("p1", "accepted"),
    ("p1", "delivered"),
    ("p2", "buffered"),
    ("p2", "delivered"),
]


@pytest.mark.parametrize("order", list(itertools.permutations(WITH_TRANSIT)))
def test_a_late_in_transit_receipt_does_not_undo_a_final_one(order):
    assert replay(order, expected=2) == "delivered"


def test_a_duplicate_receipt_counts_once():
    receipts = [("p1", "delivered"), ("p1", "delivered")]
    assert replay(receipts, expected=2) != "delivered"
    assert replay([*receipts, ("p2", "delivered")], expected=2) == "delivered"


def test_a_final_state_may_be_corrected_by_another():
    assert replay([("p1", "delivered"), ("p1", "undelivered")], expected=1) == "undelivered"


def test_the_most_telling_failure_wins():
    receipts = [("p1", "expired"), ("p2", "undelivered"), ("p3", "rejected")]
    assert replay(receipts, expected=3) == "undelivered"
    assert replay([("p1", "expired"), ("p2", "delivered")], expected=2) == "expired"


def test_unknown_part_count_trusts_the_parts_heard_of():
    assert replay([("p1", "delivered")], expected=0) == "delivered"
    assert replay([("p1", "delivered"), ("p2", "accepted")], expected=0) == "accepted"


def test_in_transit_states():
    assert replay([("p1", "accepted")], expected=1) == "accepted"
    assert replay([("p1", "accepted"), ("p2", "buffered")], expected=2) == "buffered"
    assert replay([("p1", "delivered")], expected=2) == "buffered"
    assert combine({}, expected=1) is None


def test_record_part_leaves_its_input_alone():
    parts = {"p1": "accepted"}
    assert record_part(parts, "p1", "delivered") == {"p1": "delivered"}
    assert parts == {"p1": "accepted"}


@pytest.mark.parametrize(
    ("state", "failure"),
    [("undelivered", True), ("expired", True), ("rejected", True), ("delivered", False)]
    + [("accepted", False), ("buffered", False), ("unknown", False), (None, False)],
)
def test_is_failure(state, failure):
    assert is_failure(state) is failure
