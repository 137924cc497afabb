"""How ``redis_client`` reads a Redis URL: one server or a Redis Cluster."""
from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from chatio.redis_client import is_cluster_url, new_client, pubsub_url


def test_cluster_urls_are_told_from_single_server_urls() -> None:
    assert is_cluster_url("redis+cluster://a:7000,b:7001")
    assert is_cluster_url("rediss+cluster://a:7000")
    assert not is_cluster_url("redis://a:6379/0")
    assert not is_cluster_url("unix:///run/redis.sock")


def test_pub_sub_of_a_cluster_goes_to_its_first_seed() -> None:
    assert pubsub_url("redis://a:6379/2") == "redis://a:6379/2"
    assert pubsub_url("redis+cluster://a:7000,b:7001") == "redis://a:7000/0"
    assert pubsub_url("rediss+cluster://u:p@a:7000,b:7001") == \
        "rediss://u:p@a:7000/0"


async def test_a_cluster_url_gives_a_cluster_client_with_every_seed() -> None:
    client = new_client("redis+cluster://u:p%40ss@a:7000,b:7001")
    try:
        assert isinstance(client, RedisCluster)
        seeds = client.nodes_manager.startup_nodes
        assert sorted(seeds) == ["a:7000", "b:7001"]
        assert seeds["a:7000"].connection_kwargs["password"] == "p@ss"
    finally:
        await client.aclose()
    single = new_client("redis://a:6379/0")
    try:
        assert isinstance(single, Redis)
    finally:
        await single.aclose()
