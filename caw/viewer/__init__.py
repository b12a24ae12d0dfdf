"""The local web viewer over a data dir: ``start_viewer_server()`` returns a ``ViewerServer``.

from caw.viewer import start_viewer_server

server = start_viewer_server()      # 127.0.0.1, a free port, a random token
print(server.url)                   # http://127.0.0.1:<port>/<token>/
server.check_status()               # True
server.stop()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import ViewerServer, start_viewer_server

__all__ = ["ViewerServer", "start_viewer_server"]


def __getattr__(name: str) -> Any:  # the web stack loads only when the server is wanted
    if name in __all__:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
