"""Before a CLI gets them: each MCP server of a session is started (or reached) once and asked
for its tools, so that one which cannot start is an error naming it, the same for every CLI.

(codex refuses such a server by name itself; claude and opencode would leave it out silently.)
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Mapping
from typing import Any

from .servers import MCPServer, MCPServerFailed

PROBE_TIMEOUT = 60.0


async def probe(server: MCPServer, env: Mapping[str, str], cwd: str) -> None:
    """Connect to ``server``, initialize and list its tools; MCPServerFailed when that fails."""
    from mcp import ClientSession  # mcp loads slowly: only for sessions with MCP servers

    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:
        try:
            async with contextlib.AsyncExitStack() as stack:
                streams = await stack.enter_async_context(_transport(server, env, cwd, errlog))
                session = await stack.enter_async_context(ClientSession(streams[0], streams[1]))
                await asyncio.wait_for(session.initialize(), PROBE_TIMEOUT)
                await asyncio.wait_for(session.list_tools(), PROBE_TIMEOUT)
        except Exception as exc:
            errlog.seek(0)
            tail = errlog.read()[-400:].strip()
            reason = _reason(exc) + (f"; its stderr ends with: {tail}" if tail else "")
            raise MCPServerFailed(f"MCP server {server.name!r} cannot start: {reason}") from None


def _transport(
    server: MCPServer, env: Mapping[str, str], cwd: str, errlog: Any
) -> contextlib.AbstractAsyncContextManager[Any]:
    if server.url is not None:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        @contextlib.asynccontextmanager
        async def http() -> Any:
            async with (
                httpx2.AsyncClient(headers=dict(server.headers), timeout=PROBE_TIMEOUT) as client,
                streamable_http_client(server.url or "", http_client=client) as streams,
            ):
                yield streams

        return http()
    from mcp.client.stdio import StdioServerParameters, stdio_client

    parameters = StdioServerParameters(
        command=server.command or "", args=list(server.args), env={**env, **server.env}, cwd=cwd
    )
    return stdio_client(parameters, errlog=errlog)


def _reason(exc: BaseException) -> str:
    """The innermost useful message of ``exc`` (anyio wraps failures in exception groups)."""
    while getattr(exc, "exceptions", None):  # an ExceptionGroup (no builtin before 3.11)
        exc = exc.exceptions[0]  # type: ignore[attr-defined]  # checked just above
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return f"no answer within {PROBE_TIMEOUT:.0f} s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def probe_all(servers: list[MCPServer], env: Mapping[str, str], cwd: str) -> None:
    """Probe every server at once; the first failure (by server order) is raised."""
    results = await asyncio.gather(
        *(probe(server, env, cwd) for server in servers), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
