"""Python tools and an MCP server for a caw session (see docs/tools.md).

Run: python examples/tools.py [provider]   (claude_code, codex or opencode)
"""

from __future__ import annotations

import sys

from caw import Agent, MCPServer, ToolGroup, ToolKit, tool


@tool(description="Add two numbers")
def add(a: int, b: int) -> int:
    return a + b


class UserDB(ToolKit, server_name="user_db", display_name="User Database"):
    def __init__(self) -> None:
        self.users = ["Alice", "Bob"]

    @tool(description="List all users")
    async def list_users(self) -> str:
        return ", ".join(self.users)

    @tool(description="Add a user")
    async def add_user(self, name: str) -> str:
        self.users.append(name)
        return f"Added {name}"


def main() -> None:
    provider = sys.argv[1] if len(sys.argv) > 1 else None
    agent = Agent(
        provider,
        system_prompt="You have math tools and a user database. Use them.",
        stateless_tools=[add],
        tool_servers=[UserDB()],
        tools=ToolGroup.ALL - ToolGroup.INTERACTION,
    )
    if len(sys.argv) > 2:  # an MCP server of your own: URL of a streamable HTTP server
        agent.add_mcp_server(MCPServer(name="mine", url=sys.argv[2]))
    trajectory = agent.completion("Add Eve to the user database, then list all users.")
    print(trajectory.turns[-1].result)
    print(trajectory.mcp_servers)


if __name__ == "__main__":
    main()
