"""Everything Redis holds under a prefix, as bytes a test can search."""
from __future__ import annotations

import redis.asyncio as aioredis


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
