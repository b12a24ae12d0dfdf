"""A small MCP server for the tool tests, written with the ``mcp`` SDK: ``lookup(key)``.

``python lookup_server.py`` serves it on stdio; ``python lookup_server.py http PORT`` over
streamable HTTP at ``http://127.0.0.1:PORT/mcp``. Its answers name the transport, so a test
knows which server the model heard from. The variable LOOKUP_PREFIX (when set) prefixes them,
to show that a stdio server's env reaches it.
"""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer

transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
server: MCPServer = MCPServer("lookup", log_level="WARNING")


@server.tool(description="Look a key up", structured_output=False)
def lookup(key: str) -> str:
    return f"{os.environ.get('LOOKUP_PREFIX', '')}{transport}-value-of-{key}"


if __name__ == "__main__":
    if transport == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]), stateless_http=True)
    else:
        server.run("stdio")
