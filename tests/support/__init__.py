"""Helpers shared by chatio's test suites: servers, clients and tokens."""
from chatio.settings import Rate

from .client import ChatClient, assert_error, assert_ok
from .net import free_port
from .process import ChatioProcess
from .redis_server import RedisServer
from .server import serve_app
from .tokens import mint_token

# The history stores a functional test module runs against when it matters:
#     pytestmark = pytest.mark.parametrize("backend", BACKENDS)
BACKENDS = ("memory", "sqlite")

# Settings for tests that are not about rate limiting: never trips.
UNLIMITED = Rate(10_000, 10_000)

__all__ = [
    "BACKENDS", "UNLIMITED",
    "ChatClient", "ChatioProcess", "RedisServer", "assert_error", "assert_ok",
    "free_port",
    "mint_token", "serve_app",
]
