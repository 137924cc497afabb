"""``SubscriptionBook``: the bookkeeping behind per-room subscriptions,
driven by hand (the I/O side's part is played by the test)."""
from __future__ import annotations

import asyncio

import pytest

from chatio.transport.subscription_book import Plan, SubscriptionBook

A, B = ("10.0.0.1", 7000), ("10.0.0.2", 7000)


def single() -> SubscriptionBook:
    return SubscriptionBook(lambda channel: A)


def answer(book: SubscriptionBook, address, plan: Plan) -> None:
    """Redis's replies to ``plan``, in the order it was sent."""
    for channel in plan.unsubscribe:
        book.confirmed(address, "sunsubscribe", channel)
    for channel in plan.subscribe:
        book.confirmed(address, "ssubscribe", channel)


def test_first_want_subscribes_and_a_second_plan_sends_nothing():
    book = single()
    book.want("room:lobby")
    plans = book.plan([A])
    assert plans == {A: Plan(subscribe=["room:lobby"])}
    assert not book.is_ready("room:lobby")
    answer(book, A, plans[A])
    assert book.is_ready("room:lobby")
    book.want("room:lobby")
    assert book.plan([A]) == {}


def test_unwant_unsubscribes_once_confirmed():
    book = single()
    book.want("room:lobby")
    answer(book, A, book.plan([A])[A])
    book.unwant("room:lobby")
    plans = book.plan([A])
    assert plans == {A: Plan(unsubscribe=["room:lobby"])}
    answer(book, A, plans[A])
    assert not book.is_ready("room:lobby")
    assert book.plan([A]) == {}
    assert book.confirmed_channels(A) == 0


def test_wants_between_flushes_go_out_in_one_plan():
    book = single()
    for n in range(50):
        book.want(f"room:{n}")
    plans = book.plan([A])
    assert sorted(plans[A].subscribe) == sorted(f"room:{n}" for n in range(50))
    assert plans[A].unsubscribe == []


async def test_every_waiter_is_released_by_the_confirmation():
    book = single()
    channels = [f"room:{n}" for n in range(20)]
    for channel in channels:
        book.want(channel)
    waiters = [asyncio.ensure_future(book.ready(ch, 5)) for ch in channels]
    await asyncio.sleep(0)
    plan = book.plan([A])[A]
    assert not any(w.done() for w in waiters)
    answer(book, A, plan)
    await asyncio.wait_for(asyncio.gather(*waiters), 5)


async def test_a_waiter_times_out_without_a_confirmation():
    book = single()
    book.want("room:lobby")
    book.plan([A])
    with pytest.raises(TimeoutError):
        await book.ready("room:lobby", 0.05)


async def test_unwant_while_waiting_fails_the_waiter():
    book = single()
    book.want("room:lobby")
    waiter = asyncio.ensure_future(book.ready("room:lobby", 5))
    await asyncio.sleep(0)
    book.unwant("room:lobby")
    with pytest.raises(LookupError):
        await asyncio.wait_for(waiter, 5)


def test_leave_then_join_before_a_flush_keeps_the_subscription():
    book = single()
    book.want("room:lobby")
    answer(book, A, book.plan([A])[A])
    book.unwant("room:lobby")
    book.want("room:lobby")
    assert book.plan([A]) == {}
    assert book.is_ready("room:lobby")


async def test_join_while_the_unsubscribe_is_in_flight_waits_for_the_new_one():
    book = single()
    book.want("room:lobby")
    answer(book, A, book.plan([A])[A])
    book.unwant("room:lobby")
    leaving = book.plan([A])[A]
    book.want("room:lobby")
    waiter = asyncio.ensure_future(book.ready("room:lobby", 5))
    joining = book.plan([A])[A]
    assert joining.subscribe == ["room:lobby"]
    # The old subscription's removal is answered first: not ready yet.
    answer(book, A, leaving)
    await asyncio.sleep(0)
    assert not waiter.done() and not book.is_ready("room:lobby")
    answer(book, A, joining)
    await asyncio.wait_for(waiter, 5)
    assert book.is_ready("room:lobby")


def test_many_join_leave_races_end_subscribed_exactly_when_wanted():
    import random
    rng = random.Random(7)
    book = single()
    channels = [f"room:{n}" for n in range(5)]
    in_flight: list[Plan] = []
    for _ in range(2000):
        channel = rng.choice(channels)
        if rng.random() < 0.5:
            book.want(channel)
        else:
            book.unwant(channel)
        if rng.random() < 0.3:
            plan = book.plan([A]).get(A)
            if plan:
                in_flight.append(plan)
        if in_flight and rng.random() < 0.3:
            answer(book, A, in_flight.pop(0))
    while True:
        plan = book.plan([A]).get(A)
        if plan:
            in_flight.append(plan)
        if not in_flight:
            break
        answer(book, A, in_flight.pop(0))
    for channel in channels:
        assert book.is_ready(channel) == (channel in book.wanted)


def test_a_lost_link_sends_everything_again():
    book = single()
    for channel in ("room:a", "room:b"):
        book.want(channel)
    answer(book, A, book.plan([A])[A])
    book.link_reset(A)
    assert not book.is_ready("room:a")
    assert sorted(book.plan([A])[A].subscribe) == ["room:a", "room:b"]


def test_channels_wait_for_their_shard_to_connect():
    owners = {"room:a": A, "room:b": B}
    book = SubscriptionBook(owners.__getitem__)
    book.want("room:a")
    book.want("room:b")
    assert book.plan([A]) == {A: Plan(subscribe=["room:a"])}
    assert book.plan([A, B]) == {B: Plan(subscribe=["room:b"])}


def test_a_moved_slot_is_unsubscribed_at_the_old_owner_and_subscribed_at_the_new():
    owners = {"room:a": A}
    book = SubscriptionBook(owners.__getitem__)
    book.want("room:a")
    answer(book, A, book.plan([A, B])[A])
    owners["room:a"] = B
    book.owners_changed()
    plans = book.plan([A, B])
    assert plans == {A: Plan(unsubscribe=["room:a"]),
                     B: Plan(subscribe=["room:a"])}


def test_an_unasked_sunsubscribe_asks_for_a_new_subscription():
    book = single()
    book.want("room:a")
    answer(book, A, book.plan([A])[A])
    assert book.confirmed(A, "sunsubscribe", "room:a") is True
    assert not book.is_ready("room:a")
    assert book.plan([A]) == {A: Plan(subscribe=["room:a"])}
