"""``start_viewer_server()`` and its ``ViewerServer`` handle (the names of caw 0.1.9's viewer).

The server listens on 127.0.0.1 only, in a background thread, and every URL carries a random
token; ``server.url`` is the link to open.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import threading
import time
from pathlib import Path

import uvicorn

from .app import Viewer, create_app

LOOPBACK = "127.0.0.1"


def _check_host(host: str | None) -> str:
    """Only a loopback address: the viewer shows conversations and has no other login."""
    if host in (None, "", "localhost"):
        return LOOPBACK
    try:
        if ipaddress.ip_address(host).is_loopback and ipaddress.ip_address(host).version == 4:
            return host
    except ValueError:
        pass
    raise ValueError(f"the viewer listens on loopback (127.0.0.1) only, not on {host!r}")


class ViewerServer:
    """A running viewer: ``url`` (with its token), ``check_status()``, ``stop()``."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, viewer: Viewer,
                 host: str, port: int, token: str, data_dir: Path):  # fmt: skip
        self._server, self._thread, self._viewer = server, thread, viewer
        self.host, self.port, self.token, self.data_dir = host, port, token, data_dir

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/{self.token}/"

    def url_for(self, path: str) -> str:
        return self.url + path.lstrip("/")

    def check_status(self) -> bool:
        """True while the server runs."""
        return self._thread.is_alive() and self._server.started

    def stop(self) -> None:
        self._viewer.stop_streams()
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def __enter__(self) -> ViewerServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:  # the token stays out of logs
        state = "running" if self.check_status() else "stopped"
        return f"ViewerServer(http://{self.host}:{self.port}/, {state})"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def start_viewer_server(
    host: str | None = None,
    port: int | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    token: str | None = None,
    startup_timeout: float = 15.0,
) -> ViewerServer:
    """Start the viewer over ``data_dir`` (default: the terminal's data dir) and return its handle."""
    from ..cli.common import default_data_dir

    host = _check_host(host)
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    token = token or secrets.token_urlsafe(24)
    app = create_app(root, token, host)
    chosen = port or _free_port(host)
    config = uvicorn.Config(
        app, host=host, port=chosen, log_level="warning", access_log=False, lifespan="on",
        timeout_graceful_shutdown=2,
    )  # fmt: skip
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only in the main thread; in ours it must not.
    thread = threading.Thread(target=server.run, name="caw-viewer", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"the viewer could not listen on {host}:{chosen}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError("the viewer did not start in time")
        time.sleep(0.02)
    return ViewerServer(server, thread, app.state.viewer, host, chosen, token, root)
