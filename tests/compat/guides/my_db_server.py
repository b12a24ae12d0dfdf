"""A tiny stdio MCP server for mcp_servers.py: ``count_rows(table)``."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server: MCPServer = MCPServer("my_db", log_level="WARNING")
ROWS = {"users": 3, "orders": 7}


@server.tool(description="Count the rows of a table", structured_output=False)
def count_rows(table: str) -> str:
    return f"{ROWS.get(table, 0)} rows in {table}"


if __name__ == "__main__":
    server.run("stdio")
