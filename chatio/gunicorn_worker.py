"""The gunicorn worker the Procfile runs: aiohttp's uvloop worker, listening
with gunicorn's ``--backlog``.

aiohttp's worker starts serving each of gunicorn's sockets with aiohttp's
default backlog of 128, which replaces the backlog gunicorn listened with.
Calling ``listen`` again on a listening socket only changes its backlog, so
this worker does that once its sites have started.
"""
from __future__ import annotations

from aiohttp.worker import GunicornUVLoopWebWorker


class BacklogWorker(GunicornUVLoopWebWorker):  # type: ignore[misc]
    """``GunicornUVLoopWebWorker`` whose sockets keep ``--backlog``."""

    _backlog_applied = False

    def notify(self) -> None:
        # aiohttp's worker first notifies right after its sites started.
        super().notify()
        if self.booted and not self._backlog_applied:
            self._backlog_applied = True
            for sock in self.sockets:
                sock.listen(self.cfg.backlog)
