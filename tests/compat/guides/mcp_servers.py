"""Guide "MCP servers": Agent.add_mcp_server with a stdio MCPServer; an HTTP one declared."""

from __future__ import annotations

import sys
from pathlib import Path

from caw import Agent, MCPServer

agent = Agent()
agent.add_mcp_server(
    MCPServer(
        name="my_db",
        command=sys.executable,
        args=[str(Path(__file__).with_name("my_db_server.py"))],
    )
)
traj = agent.completion('[[mcp:my_db:count_rows:{"table": "users"}]] Count the rows in users.')
assert traj.result == "Tool said: 3 rows in users", traj.result
[call] = [c for c in traj.turns[0].tool_calls if c.name.endswith("count_rows")]
assert call.arguments == {"table": "users"}, call.arguments
assert [s["name"] for s in traj.mcp_servers] == ["my_db"], traj.mcp_servers

# Both transports are declared the same way (the HTTP one is not started here).
stdio = MCPServer(
    name="fs", command="npx", args=["-y", "@modelcontextprotocol/server-filesystem", "/data"]
)
remote = MCPServer(name="remote", url="http://localhost:9000/mcp")
assert (stdio.name, remote.name) == ("fs", "remote")
print("ok")
