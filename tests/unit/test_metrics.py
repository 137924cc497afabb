"""The metrics recorder: bounded labels, per-app registries, the store
wrapper, and an exposition that Prometheus' own parser reads."""
from __future__ import annotations

import pytest

from chatio import constants as c
from chatio.errors import Unavailable
from chatio.metrics import CLIENT_EVENTS, ERROR_CODES, STORE_BUCKETS, Metrics
from chatio.store import Draft, MemoryHistoryStore
from chatio.store.instrumented import InstrumentedHistoryStore
from support.metrics import Scrape, labels

OK = {"ok": True}

HOSTILE_NAMES = [
    None, 123, 1.5, True, {"name": "join"}, ["join"], "", "*", "connect",
    "disconnect", "__proto__", "constructor", "JOIN", "join ", " join",
    "join\n", 'join"}', "x" * 10_000, "\ud800", "rm -rf /", "message\x00",
    'a",outcome="ok', "événement", "😀",
]


def failed(code: str) -> dict:
    return {"ok": False, "error": {"code": code, "message": "m",
                                   "retryable": False}}


def read(metrics: Metrics) -> Scrape:
    return Scrape(metrics.render().decode())


def test_known_events_are_counted_per_namespace_and_outcome():
    metrics = Metrics()
    metrics.event_handled(c.CHAT_NAMESPACE, c.EVENT_JOIN, OK)
    metrics.event_handled(c.CHAT_NAMESPACE, c.EVENT_JOIN, OK)
    metrics.event_handled(c.CHAT_NAMESPACE, c.EVENT_MESSAGE,
                          failed(c.NOT_IN_ROOM))
    metrics.event_handled(c.TYPING_NAMESPACE, c.EVENT_TYPING, OK)

    scrape = read(metrics)
    assert scrape.nonzero("chatio_events_total") == {
        labels(namespace="/chat", event="join", outcome="ok"): 2,
        labels(namespace="/chat", event="message", outcome="NOT_IN_ROOM"): 1,
        labels(namespace="/typing", event="typing", outcome="ok"): 1,
    }
    assert scrape.nonzero("chatio_errors_total") == {
        labels(code="NOT_IN_ROOM"): 1}


def test_hostile_event_names_share_one_unknown_series():
    metrics = Metrics()
    for name in HOSTILE_NAMES:
        metrics.event_handled(c.CHAT_NAMESPACE, name, failed(c.UNKNOWN_EVENT))

    scrape = read(metrics)
    assert scrape.nonzero("chatio_events_total") == {
        labels(namespace="/chat", event="unknown",
               outcome="UNKNOWN_EVENT"): len(HOSTILE_NAMES)}
    assert scrape.value("chatio_errors_total",
                        code="UNKNOWN_EVENT") == len(HOSTILE_NAMES)


def test_hostile_namespaces_and_codes_are_unknown():
    metrics = Metrics()
    for name in HOSTILE_NAMES:
        metrics.event_handled(name, c.EVENT_JOIN, failed("EVIL\n{code}"))
        metrics.connection_refused(name)
        metrics.broadcast(name, name)
        metrics.volatile_skipped(name, 2)
        metrics.store_call(name, 0.001)

    scrape = read(metrics)
    n = len(HOSTILE_NAMES)
    assert scrape.nonzero("chatio_events_total") == {
        labels(namespace="unknown", event="join", outcome="unknown"): n}
    assert scrape.nonzero("chatio_errors_total") == {
        labels(code="unknown"): 2 * n}
    assert scrape.nonzero("chatio_broadcasts_total") == {
        labels(namespace="unknown", event="unknown"): n}
    assert scrape.nonzero("chatio_volatile_skips_total") == {
        labels(namespace="unknown"): 2 * n}
    assert scrape.value("chatio_store_latency_seconds_count",
                        operation="unknown") == n


def test_label_values_come_only_from_the_protocol():
    metrics = Metrics()
    for name in [*HOSTILE_NAMES, *CLIENT_EVENTS]:
        for code in [*ERROR_CODES, "WHATEVER", None]:
            result = OK if code is None else failed(code)
            for ns in (c.CHAT_NAMESPACE, "/admin"):
                metrics.event_handled(ns, name, result)

    series = read(metrics).series("chatio_events_total")
    assert {s["namespace"] for s in series} == {"/chat", "unknown"}
    assert {s["event"] for s in series} == set(CLIENT_EVENTS) | {"unknown"}
    assert {s["outcome"] for s in series} == \
        set(ERROR_CODES) | {"ok", "unknown"}


def test_every_error_code_is_exposed_from_the_start():
    scrape = read(Metrics())
    assert {s["code"] for s in scrape.series("chatio_errors_total")} == \
        set(c.ERROR_CODES) | {c.UNAUTHORIZED, c.TOKEN_EXPIRED}
    assert scrape.nonzero("chatio_errors_total") == {}


def test_connection_refusals_count_as_errors():
    metrics = Metrics()
    metrics.connection_refused(c.UNAUTHORIZED)
    metrics.connection_refused(c.TOKEN_EXPIRED)
    metrics.connection_refused(c.TOKEN_EXPIRED)
    assert read(metrics).nonzero("chatio_errors_total") == {
        labels(code="UNAUTHORIZED"): 1, labels(code="TOKEN_EXPIRED"): 2}


def test_connected_sockets_are_read_at_scrape_time():
    metrics = Metrics()
    sessions = {"a": 1}
    metrics.count_sockets(c.CHAT_NAMESPACE, lambda: len(sessions))
    assert read(metrics).value("chatio_connected_sockets",
                               namespace="/chat") == 1
    sessions.update(b=2, c=3)
    assert read(metrics).value("chatio_connected_sockets",
                               namespace="/chat") == 3
    assert read(metrics).types["chatio_connected_sockets"] == "gauge"


def test_broadcasts_and_volatile_skips():
    metrics = Metrics()
    metrics.broadcast(c.CHAT_NAMESPACE, c.EVENT_MESSAGE)
    metrics.broadcast(c.TYPING_NAMESPACE, c.EVENT_TYPING)
    metrics.broadcast(c.TYPING_NAMESPACE, c.EVENT_TYPING)
    metrics.volatile_skipped(c.TYPING_NAMESPACE, 0)
    metrics.volatile_skipped(c.TYPING_NAMESPACE, 3)
    scrape = read(metrics)
    assert scrape.nonzero("chatio_broadcasts_total") == {
        labels(namespace="/chat", event="message"): 1,
        labels(namespace="/typing", event="typing"): 2}
    assert scrape.nonzero("chatio_volatile_skips_total") == {
        labels(namespace="/typing"): 3}


def test_redis_failures_and_reconnects():
    metrics = Metrics()
    scrape = read(metrics)
    assert scrape.value("chatio_redis_publish_failures_total") == 0
    assert scrape.value("chatio_redis_reconnects_total") == 0
    metrics.redis_publish_failed()
    metrics.redis_publish_failed()
    metrics.redis_reconnected()
    scrape = read(metrics)
    assert scrape.value("chatio_redis_publish_failures_total") == 2
    assert scrape.value("chatio_redis_reconnects_total") == 1


def test_store_latency_histogram():
    metrics = Metrics()
    metrics.store_call("append", 0.003)
    metrics.store_call("read", 0.0001)
    metrics.store_call("read", 7.0)
    scrape = read(metrics)
    assert scrape.types["chatio_store_latency_seconds"] == "histogram"
    bucket = "chatio_store_latency_seconds_bucket"
    assert scrape.value(bucket, operation="append", le="0.0025") == 0
    assert scrape.value(bucket, operation="append", le="0.005") == 1
    assert scrape.value(bucket, operation="read", le="0.0005") == 1
    assert scrape.value(bucket, operation="read", le="5.0") == 1
    assert scrape.value(bucket, operation="read", le="+Inf") == 2
    assert scrape.value("chatio_store_latency_seconds_sum",
                        operation="read") == pytest.approx(7.0001)
    assert len(scrape.series(bucket)) == 2 * (len(STORE_BUCKETS) + 1)


def test_node_info():
    scrape = read(Metrics("node-7", version="1.2.3"))
    assert scrape.value("chatio_node_info", node_id="node-7",
                        version="1.2.3") == 1


def test_each_recorder_has_its_own_registry():
    first, second = Metrics("one"), Metrics("two")
    first.message_stored()
    first.event_handled(c.CHAT_NAMESPACE, c.EVENT_JOIN, OK)
    assert read(first).value("chatio_messages_stored_total") == 1
    assert read(second).value("chatio_messages_stored_total") == 0
    assert read(second).nonzero("chatio_events_total") == {}
    assert [s["node_id"] for s in read(second).series("chatio_node_info")] \
        == ["two"]


def draft(room: str = "lobby", client_id: str | None = None) -> Draft:
    return Draft(id="m", room=room, user_id="alice", user_name="Alice",
                 text="hi", ts=0, client_id=client_id)


async def test_instrumented_store_counts_new_messages_and_times_calls():
    metrics = Metrics()
    store = InstrumentedHistoryStore(MemoryHistoryStore(100), metrics)
    await store.open()
    first = await store.append(draft(client_id="c1"))
    retry = await store.append(draft(client_id="c1"))
    assert not first.duplicate and retry.duplicate
    await store.append(draft())
    assert (await store.latest("lobby", 10)).messages[-1]["seq"] == 2
    await store.after("lobby", 0, 10)
    await store.before("lobby", 3, 10)
    assert await store.last_seq("lobby") == 2
    assert await store.find_sent("lobby", "alice", "c1") == first.message
    await store.ping()
    await store.close()

    scrape = read(metrics)
    assert scrape.value("chatio_messages_stored_total") == 2
    assert scrape.value("chatio_store_latency_seconds_count",
                        operation="append") == 3
    assert scrape.value("chatio_store_latency_seconds_count",
                        operation="read") == 5


class FailingStore(MemoryHistoryStore):
    async def append(self, draft: Draft):
        raise Unavailable()

    async def latest(self, room: str, limit: int, viewer=None):
        raise Unavailable()


async def test_failed_store_calls_are_timed_and_store_nothing():
    metrics = Metrics()
    store = InstrumentedHistoryStore(FailingStore(100), metrics)
    with pytest.raises(Unavailable):
        await store.append(draft())
    with pytest.raises(Unavailable):
        await store.latest("lobby", 10)
    scrape = read(metrics)
    assert scrape.value("chatio_messages_stored_total") == 0
    assert scrape.value("chatio_store_latency_seconds_count",
                        operation="append") == 1
    assert scrape.value("chatio_store_latency_seconds_count",
                        operation="read") == 1
