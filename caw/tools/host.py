"""The in-process tool server: a session's Python tools as MCP servers on 127.0.0.1.

One uvicorn server per session, on an ephemeral port of 127.0.0.1, in the session's event
loop, serves each :class:`~caw.tools.toolkit.ToolServer` at ``/<name>/mcp`` (MCP streamable
HTTP, stateless, JSON responses) with the official ``mcp`` SDK. Every request must carry
``Authorization: Bearer <token>``, a fresh unguessable token per session: another local
process gets 401. Names carry no random part, so a resumed session (new process, new port
and token) offers the agent the same tool names.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer as SDKServer
from starlette.applications import Starlette
from starlette.routing import Mount

from ..redact import hide_key
from .servers import MCPServer
from .toolkit import ToolServer

log = logging.getLogger("caw.tools")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class BearerGate:
    """Refuses (401) every HTTP request without the session's bearer token."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"text/plain"),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b"unauthorized\n"})
                return
        await self.app(scope, receive, send)


def sdk_server(server: ToolServer) -> SDKServer[Any]:
    """The ToolServer as an ``mcp`` SDK server. Results are plain text (no structured
    output), so a returned string reaches the model the same way in every CLI."""
    mcp: SDKServer[Any] = SDKServer(server.name, title=server.display_name, log_level="WARNING")
    for spec, fn in server.callables():
        mcp.add_tool(fn, name=spec.name, description=spec.description, structured_output=False)
    return mcp


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: Ctrl-C belongs to the program that uses caw."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ToolHost:
    """The running tool server of one session; :meth:`stop` frees its port."""

    def __init__(self, servers: list[ToolServer], session_id: str | None = None):
        self.servers = servers
        self.token = secrets.token_urlsafe(32)
        if session_id:
            hide_key(self.token, session_id)  # never in a log line
        self.port = 0
        self._uvicorn: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mcp_servers(self) -> list[MCPServer]:
        """How the CLI reaches each tool server (the token goes in a header, never the URL)."""
        return [
            MCPServer(
                name=server.name,
                url=f"{self.url}/{server.name}/mcp",
                headers={"Authorization": f"Bearer {self.token}"},
            )
            for server in self.servers
        ]

    async def start(self) -> None:
        sdk = [sdk_server(server) for server in self.servers]
        mounts = [
            Mount(
                f"/{server.name}",
                app=s.streamable_http_app(stateless_http=True, json_response=True),
            )
            for server, s in zip(self.servers, sdk, strict=True)
        ]

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            async with contextlib.AsyncExitStack() as stack:
                for s in sdk:
                    await stack.enter_async_context(s.session_manager.run())
                yield

        app = BearerGate(Starlette(routes=mounts, lifespan=lifespan), self.token)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2, access_log=False
        )
        self._uvicorn = _QuietServer(config)
        self._socket = sock  # uvicorn listens on it; closed in stop()
        self._task = asyncio.create_task(self._uvicorn.serve(sockets=[sock]), name="caw-tool-host")
        while not self._uvicorn.started:
            if self._task.done():
                self._task.result()  # its error
                raise RuntimeError("the tool server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._uvicorn is None or self._task is None:
            return
        self._uvicorn.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 5)
        except (TimeoutError, asyncio.TimeoutError):
            self._task.cancel()
        except Exception as exc:  # a tool server that failed is stopped all the same
            log.warning("tool server: %s", exc)
        if self._socket is not None:
            self._socket.close()
        self._uvicorn = None
        self._task = None
        self._socket = None
