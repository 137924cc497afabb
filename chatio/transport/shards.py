"""``ShardMap``: which Redis server owns a shard channel's slot.

With a single Redis (or a primary with replicas) every channel lives on the
configured URL. With a Redis Cluster, ``refresh`` reads ``CLUSTER SLOTS``
from a reachable node and each channel goes to the primary that owns
``keyslot(channel)``. Whether the URL names a cluster is asked of Redis
unless the caller knows.
"""
from __future__ import annotations

from redis.crc import key_slot
from redis.exceptions import ResponseError

from ..redis_client import REDIS_FAILURES, is_cluster_url, new_client

Address = tuple[str, int]
SLOTS = 16384


class ShardMap:
    """The owner of every slot; one owner for all of them without a
    cluster. ``cluster`` None means: ask Redis on the first ``refresh``."""

    def __init__(self, url: str, cluster: bool | None = None) -> None:
        self.url = url
        scheme, _, rest = url.partition("://")
        netloc = rest.split("/", 1)[0].split("?", 1)[0]
        self._auth, _, hosts = netloc.rpartition("@")
        self._scheme = scheme.lower().replace("+cluster", "")
        seeds = [_address(seed) for seed in hosts.split(",") if seed]
        if is_cluster_url(url):
            cluster = True
        self._home: Address = seeds[0] if seeds else ("127.0.0.1", 6379)
        self.cluster = cluster
        self._owners: list[Address] = [self._home] * SLOTS
        self._known: list[Address] = seeds or [self._home]
        # Whether the slot owners were read (always true without a cluster).
        self.loaded = not cluster
        self.version = 0

    def owner_of(self, channel: str) -> Address:
        """The server that owns ``channel``'s slot."""
        if not self.cluster:
            return self._home
        return self._owners[key_slot(channel.encode("utf-8"))]

    def url_for(self, address: Address) -> str:
        """A ``redis://`` URL of the one server at ``address``, with the
        configured credentials and TLS; the database is 0 in a cluster."""
        if not self.cluster and not is_cluster_url(self.url):
            return self.url
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        auth = f"{self._auth}@" if self._auth else ""
        return f"{self._scheme}://{auth}{host}:{address[1]}/0"

    async def refresh(self) -> bool:
        """Read the slot owners again; True if they changed. Raises one of
        ``REDIS_FAILURES`` when no known server answers."""
        if self.cluster is False:
            return False
        error: BaseException | None = None
        for address in list(self._known):
            client = new_client(self.url_for(address))
            try:
                try:
                    reply = await client.execute_command("CLUSTER SLOTS")
                except ResponseError as exc:
                    if self.cluster is None and "disabled" in str(exc):
                        self.cluster = False
                        self.loaded = True
                        return False
                    raise
            except REDIS_FAILURES as exc:
                error = exc
                continue
            finally:
                await client.aclose()
            self.cluster = True
            return self._adopt(reply, address)
        assert error is not None
        raise error

    def _adopt(self, reply: object, asked: Address) -> bool:
        owners = list(self._owners)
        known: list[Address] = []
        for entry in _slot_ranges(reply):
            start, end, primary = entry[0], entry[1], entry[2]
            host = _text(primary[0]) or asked[0]
            address = (host, int(primary[1]))
            for slot in range(int(start), int(end) + 1):
                owners[slot] = address
            for node in entry[2:]:
                node_address = (_text(node[0]) or asked[0], int(node[1]))
                if node_address not in known:
                    known.append(node_address)
        if self._home not in known:
            known.append(self._home)
        self._known = known
        self.loaded = True
        changed = owners != self._owners
        if changed:
            self._owners = owners
            self.version += 1
        return changed


def _address(seed: str) -> Address:
    host, _, port = seed.rpartition(":")
    if not host:
        return (port or "127.0.0.1", 6379)
    return (host.strip("[]") or "127.0.0.1", int(port) if port else 6379)


def _slot_ranges(reply: object) -> list[list[object]]:
    if isinstance(reply, dict):  # some redis-py versions parse it into a dict
        return [[start, end, [primary["primary"][0], primary["primary"][1]],
                 *[[r[0], r[1]] for r in primary.get("replicas", ())]]
                for (start, end), primary in reply.items()]
    return [list(entry) for entry in reply]  # type: ignore[union-attr]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
