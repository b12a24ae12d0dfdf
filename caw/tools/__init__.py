"""Tools for a session: MCP servers (:class:`MCPServer`) and Python tools (``@tool``, :class:`ToolKit`).

The ``mcp`` SDK is imported only when a session serves Python tools (:mod:`caw.tools.host`).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .groups import ToolGroup, ToolGroupUnsupported
    from .servers import MCPServer, MCPServerFailed
    from .subagents import AgentSpec
    from .toolkit import ToolKit, ToolServer, tool

# Imported on first use (PEP 562): caw.providers.base needs only groups and servers, and
# the Python tools (toolkit, subagents: anyio) are not needed before caw-server's first
# answer (issue 20).
_LAZY = {
    "ToolGroup": ".groups", "ToolGroupUnsupported": ".groups",
    "MCPServer": ".servers", "MCPServerFailed": ".servers",
    "AgentSpec": ".subagents",
    "ToolKit": ".toolkit", "ToolServer": ".toolkit", "tool": ".toolkit",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'caw.tools' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # found without this function from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
