"""ACP's ``mcpServers`` -> caw's :class:`~caw.tools.MCPServer` (attached by caw.tools).

stdio and streamable HTTP are what caw attaches to all three CLIs; ``initialize``
advertises ``mcpCapabilities.http``. SSE and MCP-over-ACP are refused with invalid params
naming the server, never silently dropped.
"""

from __future__ import annotations

from acp import RequestError, schema
from pydantic import ValidationError

from ..tools import MCPServer

AcpMcpServers = list[
    schema.HttpMcpServer | schema.SseMcpServer | schema.AcpMcpServer | schema.McpServerStdio
]


def mcp_servers(given: AcpMcpServers | None) -> list[MCPServer]:
    servers: list[MCPServer] = []
    names: set[str] = set()
    for server in given or []:
        try:
            if isinstance(server, schema.McpServerStdio):
                mapped = MCPServer(
                    name=server.name,
                    command=server.command,
                    args=list(server.args),
                    env={v.name: v.value for v in server.env},
                )
            elif isinstance(server, schema.HttpMcpServer):
                mapped = MCPServer(
                    name=server.name,
                    url=server.url,
                    headers={h.name: h.value for h in server.headers},
                )
            else:
                raise RequestError.invalid_params(
                    {
                        "details": f"MCP server {server.name!r}: the {server.type} transport is not "
                        "supported (caw acp attaches stdio and http servers)"
                    }
                )
        except ValidationError as exc:
            problems = "; ".join(str(e["msg"]) for e in exc.errors())
            raise RequestError.invalid_params(
                {"details": f"MCP server {server.name!r}: {problems}"}
            ) from None
        if mapped.name in names:
            raise RequestError.invalid_params(
                {"details": f"two MCP servers are named {mapped.name!r}"}
            )
        names.add(mapped.name)
        servers.append(mapped)
    return servers
