"""session/start's and session/resume's tools: ACP-shaped MCP servers and tool group names,
as the library's MCPServer and ToolGroup."""

from __future__ import annotations

import functools
import operator
from typing import Any

from caw.models import Trajectory
from caw.tools import MCPServer, ToolGroup

from . import wire


def mcp_servers(specs: list[wire.McpServerSpec]) -> list[MCPServer]:
    out = []
    for spec in specs:
        if isinstance(spec, wire.McpServerHttp):
            out.append(
                MCPServer(
                    name=spec.name, url=spec.url, headers={h.name: h.value for h in spec.headers}
                )
            )
        else:
            out.append(
                MCPServer(
                    name=spec.name,
                    command=spec.command,
                    args=list(spec.args),
                    env={e.name: e.value for e in spec.env},
                )
            )
    return out


def recorded_servers(trajectory: Trajectory | None) -> list[MCPServer]:
    """The MCP servers a session was started with, from its trajectory (secrets are not there:
    env variables and headers come back without values, so a client resends those)."""
    out = []
    for record in trajectory.mcp_servers if trajectory is not None else []:
        kind: Any = record.get("transport")
        if kind == "http":
            out.append(MCPServer(name=record["name"], url=record["url"]))
        elif kind == "stdio":
            out.append(
                MCPServer(
                    name=record["name"], command=record["command"], args=record.get("args", [])
                )
            )
    return out


def tool_group(names: list[wire.ToolGroupName] | None) -> ToolGroup | None:
    if names is None:
        return None
    if not names:
        raise ValueError("tools: name at least one tool group (or leave the field out)")
    return functools.reduce(operator.or_, (ToolGroup[name] for name in names))
