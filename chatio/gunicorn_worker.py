"""The gunicorn worker the Procfile runs: aiohttp's uvloop worker, listening
with gunicorn's ``--backlog``.

aiohttp's worker starts serving each of gunicorn's sockets with aiohttp's
default backlog of 128, which replaces the backlog gunicorn listened with.
Calling ``listen`` again on a listening socket only changes its backlog, so
this worker does that once its sites have started, then logs
``node started`` with the address gunicorn listens on, and leaves the
listening descriptors to the event loop's servers alone.
"""
from __future__ import annotations

from aiohttp.worker import GunicornUVLoopWebWorker

from .runtime import tune_garbage_collector


class BacklogWorker(GunicornUVLoopWebWorker):  # type: ignore[misc]
    """``GunicornUVLoopWebWorker`` whose sockets keep ``--backlog``, with
    the node's garbage collector tuning."""

    def init_process(self) -> None:
        tune_garbage_collector()
        super().init_process()

    _backlog_applied = False

    def notify(self) -> None:
        # aiohttp's worker first notifies right after its sites started.
        super().notify()
        if self.booted and not self._backlog_applied:
            self._backlog_applied = True
            for sock in self.sockets:
                sock.listen(self.cfg.backlog)
            self._log_started()
            self._hand_over_sockets()

    def _hand_over_sockets(self) -> None:
        # The event loop's server now owns each listening descriptor and
        # closes it at shutdown, then calls close() on gunicorn's socket
        # object, which closed the same number again: "Bad file
        # descriptor", or an unrelated descriptor that reused the number.
        # Detached, gunicorn's objects no longer hold the number.
        for sock in self.sockets:
            inner = getattr(sock, "sock", None)
            if inner is not None and inner.fileno() != -1:
                inner.detach()

    def _log_started(self) -> None:
        from .app import log_started
        from .appkeys import SETTINGS

        app = self.wsgi
        if self.sockets and hasattr(app, "get") and SETTINGS in app:
            address = self.sockets[0].getsockname()
            log_started(app[SETTINGS], str(address[0]), int(address[1])
                        if len(address) > 1 else None)
