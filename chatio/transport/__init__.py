"""Everything that touches python-socketio's and python-engineio's internals.

The rest of chatio sees the ``Fanout`` protocol (``chatio.fanout``), the
server it registers namespaces on, and the two client managers:

- ``ChatioServer`` (``server``): the AsyncServer subclass, its strict
  decoder (``wire``) and per-socket ordering (``lanes``);
- ``ChatioEngine`` and ``ChatioSocket`` (``engine``, ``socket``): engine.io
  sessions answering every request in bounded time, WebSocket sessions on a
  connection of their own (``websocket``);
- ``FrameDelivery`` (``delivery``): broadcasts built once, written to every
  recipient in order, and its managers ``LocalManager`` and ``RedisManager``;
- ``NamespaceFanout`` (``fanout``): ``Fanout`` over all of that.

setup.cfg pins python-socketio, python-engineio and aiohttp to the minor
versions ``tests/unit/test_transport_internals.py`` checks.
"""
from .delivery import FrameDelivery
from .fanout import NamespaceFanout
from .local_manager import LocalManager
from .redis_manager import RedisManager
from .server import ChatioServer

__all__ = ["ChatioServer", "FrameDelivery", "LocalManager", "NamespaceFanout",
           "RedisManager"]
