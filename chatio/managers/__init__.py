"""Socket.IO client managers: who is connected where, and delivery to them.

``LocalManager`` serves a single node; ``RedisManager`` shares every emit
with the other nodes of a cluster through Redis pub/sub. Both add volatile
emits, which python-socketio lacks.
"""
from .local import LocalManager
from .redis import RedisManager

__all__ = ["LocalManager", "RedisManager"]
