"""Everything Redis holds under a prefix, as bytes a test can search."""
from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster


async def held_under(client: aioredis.Redis, prefix: str) -> bytes:
    """The values of every key under ``prefix``, read by type (a ``DUMP``
    would compress them)."""
    held = []
    async for key in client.scan_iter(f"{prefix}:*"):
        kind = await client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            held.append(await client.get(key))
        elif kind == "hash":
            for field, value in (await client.hgetall(key)).items():
                held += [field, value]
        elif kind == "set":
            held += await client.smembers(key)
        elif kind == "zset":
            held += await client.zrange(key, 0, -1)
        elif kind == "stream":
            for _, fields in await client.xrange(key):
                held += [v for pair in fields.items() for v in pair]
        else:
            raise AssertionError(f"unexpected {kind} at {key!r}")
    return b"".join(v if isinstance(v, bytes) else str(v).encode()
                    for v in held)


def admin_client(url: str, *, decode_responses: bool = False
                 ) -> aioredis.Redis | RedisCluster:
    """A plain redis-py client for a test to look into ``url`` with: a
    ``redis://`` server or a ``redis+cluster://`` cluster (its first seed);
    ``scan_iter`` covers every master of a cluster."""
    scheme, _, rest = url.partition("://")
    if scheme.endswith("+cluster"):
        seed = rest.split(",", 1)[0]
        plain = scheme.removesuffix("+cluster")
        return RedisCluster.from_url(f"{plain}://{seed}",
                                     decode_responses=decode_responses)
    return aioredis.Redis.from_url(url, decode_responses=decode_responses)
