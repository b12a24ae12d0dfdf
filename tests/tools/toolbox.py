"""The Python tools of the tool tests (imported by the tests and by the resuming child process)."""

from __future__ import annotations

from caw import ToolKit, tool


@tool(description="Add two numbers")
def add(a: int, b: int) -> int:
    return a + b


@tool(description="Always fails")
async def explode(reason: str) -> str:
    raise RuntimeError(f"exploded because {reason}")


class Counter(ToolKit, server_name="counter", display_name="A counter", thread_safe=True):
    def __init__(self) -> None:
        self.count = 0

    @tool(description="Count one more")
    async def bump(self, by: int = 1) -> str:
        self.count += by
        return f"count is {self.count}"

    @tool(description="The count so far")
    def current(self) -> str:
        return f"count is {self.count}"


def call(server: str, name: str, arguments: str = "{}") -> str:
    """A prompt whose model reply calls MCP server ``server``'s tool ``name``."""
    return f"[[mcp:{server}:{name}:{arguments}]] go"
