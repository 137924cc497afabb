"""A real nginx in front of chatio nodes, configured by ``nginx/render.py``.

The configuration is rendered from the repository's own templates, so the
tests exercise exactly what an operator deploys::

    proxy = NginxProcess(tmp_path / "nginx", ["127.0.0.1:8001", ...]).start()
    ...  # proxy.url, proxy.access_log()
    proxy.stop()

or as a context manager (``with NginxProcess(...) as proxy:``). Without nginx
(or openssl, for the TLS variant) a test fails when ``CI=true`` and is
skipped otherwise.
"""
from __future__ import annotations

import asyncio
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .net import free_port

REPO = Path(__file__).resolve().parents[2]
RENDER_SCRIPT = REPO / "nginx" / "render.py"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# Debian installs nginx to /usr/sbin, which is not on every user's PATH.
_NGINX_CANDIDATES = ("/usr/sbin/nginx",)


def _load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chatio_nginx_render",
                                                  RENDER_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class is made.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


#: ``nginx/render.py`` as a module: ``render.Site``, ``render.render_site``…
render = _load_render()


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + "; CI=true, so this is a failure", pytrace=False)
    pytest.skip(reason)


def require_nginx() -> str:
    """The path of the nginx binary; fails under ``CI=true``, else skips."""
    path = shutil.which("nginx") or next(
        (p for p in _NGINX_CANDIDATES if os.access(p, os.X_OK)), None)
    if path is None:
        _missing("nginx is not installed (run `bash .ci/system-deps nginx`, "
                 "or install the Debian package nginx)")
    assert path is not None
    return path


def require_openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        _missing("openssl is not installed (run `bash .ci/system-deps nginx`)")
    assert path is not None
    return path


def self_signed_certificate(directory: Path,
                            name: str = "localhost") -> tuple[Path, Path]:
    """``(cert.pem, key.pem)``: a P-256 certificate for ``name`` and
    127.0.0.1, valid for two days."""
    openssl = require_openssl()
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30)
    return cert, key


class NginxProcess:
    """nginx in the foreground, with its configuration, pid, logs and
    temporary files in ``workdir``.

    ``nodes`` are ``HOST:PORT`` of the chatio nodes. ``balance`` is
    ``"hash"`` (what is deployed) or ``"round-robin"`` (tests only: not
    sticky). With ``tls=(cert, key)`` it renders the TLS variant: ``port``
    speaks HTTPS and ``redirect_port`` answers plain HTTP with a redirect.
    ``site_options`` go to ``render.Site`` as they are (``timeout``,
    ``server_name``).
    """

    def __init__(self, workdir: Path, nodes: Sequence[str], *,
                 balance: str = "hash",
                 tls: tuple[Path, Path] | None = None,
                 host: str = "127.0.0.1",
                 executable: str | None = None,
                 **site_options: Any) -> None:
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.nodes = tuple(nodes)
        self.balance = balance
        self.tls = tls
        self.host = host
        self.executable = executable or require_nginx()
        self.site_options = site_options
        self.port = 0
        self.redirect_port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.workdir / "nginx.conf"

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def redirect_url(self) -> str:
        return f"http://{self.host}:{self.redirect_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def site(self) -> Any:
        """The ``render.Site`` for the current ports."""
        cert, key = self.tls or (None, None)
        return render.Site(
            nodes=self.nodes, listen=render.Listen(self.port, self.host),
            tls_cert=cert, tls_key=key,
            redirect_listen=(render.Listen(self.redirect_port, self.host)
                             if self.tls else None),
            balance=self.balance, **self.site_options)

    def write_config(self) -> Path:
        """Render ``nginx.conf`` into ``workdir`` (choosing ports first)."""
        if not self.port:
            self._choose_ports()
        # Started as root, nginx would run its workers as nobody, who cannot
        # reach a private temporary directory.
        user = (pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0
                else None)
        self.config_path.write_text(render.render_standalone(
            self.site(), self.workdir, user=user, error_log_level="info"))
        return self.config_path

    def _argv(self, *extra: str) -> list[str]:
        return [self.executable, "-p", str(self.workdir),
                "-e", str(self.workdir / "error.log"),
                "-c", str(self.config_path), *extra]

    def test_config(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t`` on the rendered configuration (not raising)."""
        self.write_config()
        return subprocess.run(self._argv("-t"), capture_output=True,
                              text=True, timeout=START_TIMEOUT)

    def start(self, timeout: float = START_TIMEOUT) -> NginxProcess:
        """Render, start, and wait until the listening ports accept
        connections. Retries on other ports if one was taken meanwhile."""
        assert not self.running, "nginx is already running"
        attempts = 3
        for attempt in range(attempts):
            self._choose_ports()
            self.write_config()
            try:
                self._spawn(timeout)
                return self
            except _PortTaken:
                if attempt == attempts - 1:
                    raise
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Fast shutdown (SIGTERM), SIGKILL if it outlives ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout)

    def __enter__(self) -> NginxProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def access_log(self) -> str:
        return _read(self.workdir / "access.log")

    async def wait_for_access_log(self, predicate: Callable[[str], bool],
                                  timeout: float = 5.0) -> str:
        """The access log once ``predicate(log)`` holds. nginx writes a line
        when a request ends, which for a WebSocket is when it closes."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.access_log()
            if predicate(log):
                return log
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the access log did not match within "
                                   f"{timeout}s:\n{log}")
            # Polling interval: nginx gives no notice of a log write.
            await asyncio.sleep(0.02)

    def error_log(self) -> str:
        return _read(self.workdir / "error.log")

    def logs(self) -> str:
        return (f"--- nginx.conf ---\n{_read(self.config_path)}\n"
                f"--- error.log ---\n{self.error_log()}\n"
                f"--- stderr ---\n{_read(self.workdir / 'stderr.log')}")

    def _choose_ports(self) -> None:
        self.port = free_port(self.host)
        if self.tls:
            self.redirect_port = free_port(self.host)
            while self.redirect_port == self.port:
                self.redirect_port = free_port(self.host)

    def _spawn(self, timeout: float) -> None:
        with open(self.workdir / "stderr.log", "wb") as err:
            self.proc = subprocess.Popen(
                self._argv(), cwd=self.workdir, stdout=subprocess.DEVNULL,
                stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        ports = [self.port] + ([self.redirect_port] if self.tls else [])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                logs = self.logs()
                if "Address already in use" in logs:
                    raise _PortTaken(logs)
                raise RuntimeError(
                    f"nginx exited with {self.proc.returncode} while "
                    f"starting\n{logs}")
            if all(_accepts(self.host, port) for port in ports):
                return
            # Polling interval while nginx binds its ports.
            time.sleep(0.01)
        self.stop()
        raise TimeoutError(f"nginx did not listen on {ports} within "
                           f"{timeout}s\n{self.logs()}")


class _PortTaken(RuntimeError):
    pass


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
