"""Tools for a session: MCP servers (:class:`MCPServer`) and Python tools (``@tool``, :class:`ToolKit`).

The ``mcp`` SDK is imported only when a session serves Python tools (:mod:`caw.tools.host`).
"""

from .groups import ToolGroup, ToolGroupUnsupported
from .servers import MCPServer, MCPServerFailed
from .subagents import AgentSpec
from .toolkit import ToolKit, ToolServer, tool

__all__ = [
    "AgentSpec",
    "MCPServer",
    "MCPServerFailed",
    "ToolGroup",
    "ToolGroupUnsupported",
    "ToolKit",
    "ToolServer",
    "tool",
]
