"""``SubscriptionBook``: which shard channels a node wants, which each Redis
connection has confirmed, and who waits for a confirmation. No I/O.

The I/O side (``ShardedPubSub``) calls ``plan`` to learn what to send on
each connected link, reports every ``ssubscribe``/``sunsubscribe`` reply
with ``confirmed``, and calls ``link_reset`` when a link's connection is new
(after a loss nothing it had is subscribed any more). Commands on one
connection are answered in order, so counting the replies still due per
channel tells when the last command sent has taken effect.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Hashable, Iterable

Address = Hashable


@dataclasses.dataclass
class Plan:
    """Commands one link should send: channels to subscribe, to drop."""

    subscribe: list[str] = dataclasses.field(default_factory=list)
    unsubscribe: list[str] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.subscribe or self.unsubscribe)


@dataclasses.dataclass
class _LinkState:
    # The last command sent per channel: True for SSUBSCRIBE.
    sent: dict[str, bool] = dataclasses.field(default_factory=dict)
    # Replies still due per channel.
    due: dict[str, int] = dataclasses.field(default_factory=dict)
    confirmed: set[str] = dataclasses.field(default_factory=set)


class SubscriptionBook:
    """Wanted channels, per-link confirmed ones, and waiters.

    ``owner_of(channel)`` names the link (shard address) that should hold a
    channel; it may change (``owners_changed``) after a topology refresh.
    """

    def __init__(self, owner_of: Callable[[str], Address]) -> None:
        self._owner_of = owner_of
        self.wanted: set[str] = set()
        self._links: dict[Address, _LinkState] = {}
        self._dirty: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    # -- what the node wants ---------------------------------------------

    def want(self, channel: str) -> None:
        """Listen to ``channel`` from now on."""
        if channel not in self.wanted:
            self.wanted.add(channel)
            self._dirty.add(channel)

    def unwant(self, channel: str) -> None:
        """Stop listening to ``channel``; waiters for it are released."""
        if channel in self.wanted:
            self.wanted.discard(channel)
            self._dirty.add(channel)
            self._release(channel, None)

    @property
    def has_changes(self) -> bool:
        """Whether ``plan`` has something to do."""
        return bool(self._dirty)

    def is_ready(self, channel: str) -> bool:
        """Whether ``channel`` is wanted and confirmed on its owner, with
        no command for it still unanswered there."""
        if channel not in self.wanted:
            return False
        state = self._links.get(self._owner_of(channel))
        return (state is not None and channel in state.confirmed
                and not state.due.get(channel))

    async def ready(self, channel: str, timeout: float) -> None:
        """Return once ``channel`` is confirmed; ``TimeoutError`` after
        ``timeout`` seconds, ``LookupError`` if it stops being wanted."""
        if self.is_ready(channel):
            return
        future: asyncio.Future[None] = (
            asyncio.get_running_loop().create_future())
        self._waiters.setdefault(channel, []).append(future)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        finally:
            waiters = self._waiters.get(channel)
            if waiters is not None and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiters[channel]

    def confirmed_channels(self, address: Address) -> int:
        """How many channels the link at ``address`` has confirmed."""
        state = self._links.get(address)
        return len(state.confirmed) if state is not None else 0

    # -- what the links do -----------------------------------------------

    def plan(self, connected: Iterable[Address]) -> dict[Address, Plan]:
        """The commands each connected link should send now, recorded as
        sent. Channels whose owner is not connected wait for it."""
        online = set(connected)
        for address in online:
            self._links.setdefault(address, _LinkState())
        plans: dict[Address, Plan] = {}
        waiting: set[str] = set()
        for channel in self._dirty:
            wanted = channel in self.wanted
            owner = self._owner_of(channel) if wanted else None
            for address, state in self._links.items():
                if state.sent.get(channel) and (not wanted
                                                or address != owner):
                    if address in online:
                        self._mark(state, channel, False)
                        plans.setdefault(address, Plan()).unsubscribe.append(
                            channel)
                    else:
                        waiting.add(channel)
            if wanted:
                state = self._links.get(owner)
                if owner not in online or state is None:
                    waiting.add(channel)
                elif not state.sent.get(channel):
                    self._mark(state, channel, True)
                    plans.setdefault(owner, Plan()).subscribe.append(channel)
        self._dirty = waiting
        return plans

    def confirmed(self, address: Address, kind: str, channel: str) -> bool:
        """Redis answered ``kind`` (``ssubscribe``/``sunsubscribe``) for
        ``channel`` on the link at ``address``. Returns True when it was
        not asked for: Redis dropped the subscription (its slot moved), so
        the caller should refresh the topology and flush again."""
        state = self._links.setdefault(address, _LinkState())
        due = state.due.get(channel, 0)
        subscribed = kind == "ssubscribe"
        if subscribed:
            state.confirmed.add(channel)
        else:
            state.confirmed.discard(channel)
        if due > 1:
            state.due[channel] = due - 1
            return False
        state.due.pop(channel, None)
        if due == 0 and not subscribed:
            # Unasked: Redis dropped it, so it must be sent again.
            state.sent.pop(channel, None)
            if channel in self.wanted:
                self._dirty.add(channel)
            return True
        if not state.sent.get(channel):
            state.sent.pop(channel, None)
            state.confirmed.discard(channel)
        elif self.is_ready(channel):
            self._release(channel, True)
        return False

    def link_reset(self, address: Address) -> None:
        """The link at ``address`` is on a new connection, or gone: it holds
        nothing, and its channels must be sent again."""
        old = self._links.pop(address, None)
        if old is not None:
            self._dirty.update(ch for ch in old.sent if ch in self.wanted)
        self._dirty.update(ch for ch in self.wanted
                           if self._owner_of(ch) == address)

    def owners_changed(self) -> None:
        """The topology changed: every wanted channel is checked again."""
        self._dirty.update(self.wanted)
        for state in self._links.values():
            self._dirty.update(state.sent)

    def owned(self, address: Address) -> list[str]:
        """The wanted channels the link at ``address`` should hold."""
        return [ch for ch in self.wanted if self._owner_of(ch) == address]

    def addresses(self) -> set[Address]:
        """The links that hold or should hold a channel."""
        found = {self._owner_of(ch) for ch in self.wanted}
        found.update(a for a, s in self._links.items() if s.sent)
        return found

    # -- internals -------------------------------------------------------

    @staticmethod
    def _mark(state: _LinkState, channel: str, subscribe: bool) -> None:
        state.sent[channel] = subscribe
        state.due[channel] = state.due.get(channel, 0) + 1

    def _release(self, channel: str, ok: bool | None) -> None:
        for future in self._waiters.pop(channel, ()):
            if future.done():
                continue
            if ok:
                future.set_result(None)
            else:
                future.set_exception(LookupError(
                    f"no longer subscribing to {channel}"))
