"""The node under fuzz, and the time bounds every session keeps."""
from __future__ import annotations

import dataclasses

# One HTTP request or WebSocket write must be answered within this.
REQUEST_TIMEOUT = 3.0
# The probe: a CONNECT and one acked event, after the session's backlog ran.
PROBE_TIMEOUT = 5.0
# After a client closes, the server must release its pending long-poll
# (or close its WebSocket) within this.
RELEASE_TIMEOUT = 3.0
# No session runs longer than this, whatever happens.
SESSION_DEADLINE = 60.0


@dataclasses.dataclass(frozen=True)
class Target:
    """Where the node listens and what it accepts."""

    host: str
    port: int
    max_payload: int
    tokens: tuple[str, ...]
    bad_tokens: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"{self.url}/socket.io/"
