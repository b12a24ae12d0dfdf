"""What an Agent gives each of its sessions: its MCP servers and its Python tools' server."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..models import Trajectory
from ..providers.base import ConversationOptions
from .servers import MCPServer, check_startable
from .subagents import SUBAGENT_SERVER, AgentSpec, SubagentRuns, subagent_server
from .toolkit import ToolKit, ToolServer, as_tool_server, stateless_server


class AgentTools:
    """An Agent's MCP servers and tool servers; :meth:`attach` readies them for one session."""

    def __init__(
        self,
        mcp_servers: Iterable[MCPServer] = (),
        tool_servers: Iterable[ToolKit | ToolServer] = (),
        stateless_tools: Iterable[Callable[..., Any]] = (),
        subagents: Iterable[AgentSpec] = (),
    ):
        self.mcp_servers: list[MCPServer] = []
        self.tool_servers: list[ToolServer] = []
        self.subagents: list[AgentSpec] = []
        for spec in subagents:
            self.add_subagent(spec)
        for server in mcp_servers:
            self.add_mcp_server(server)
        for item in tool_servers:
            self.add_tool_server(item)
        functions = list(stateless_tools)
        if functions:
            self.add_tool_server(stateless_server(functions))

    def add_mcp_server(self, server: MCPServer) -> None:
        if not isinstance(server, MCPServer):
            raise TypeError(f"add_mcp_server takes an MCPServer, not {type(server).__name__}")
        self._check_name(server.name)
        self.mcp_servers.append(server)

    def add_tool_server(self, item: ToolKit | ToolServer) -> None:
        server = as_tool_server(item)
        self._check_name(server.name)
        self.tool_servers.append(server)

    def add_subagent(self, spec: AgentSpec) -> None:
        if not isinstance(spec, AgentSpec):
            raise TypeError(f"add_subagent takes an AgentSpec, not {type(spec).__name__}")
        if any(s.name == spec.name for s in self.subagents):
            raise ValueError(f"two subagents are named {spec.name!r}: names must be unique")
        if not self.subagents:
            self._check_name(SUBAGENT_SERVER)
        self.subagents.append(spec)

    def _check_name(self, name: str) -> None:
        names = {s.name for s in self.mcp_servers} | {s.name for s in self.tool_servers}
        if self.subagents:
            names.add(SUBAGENT_SERVER)
        if name in names:
            raise ValueError(f"two tool servers are named {name!r}: names must be unique")

    def records(self) -> list[dict[str, Any]]:
        """For ``trajectory.mcp_servers``: no header or env values, no tool server token."""
        out = [s.record() for s in self.mcp_servers]
        out += [
            {
                "name": s.name,
                "transport": "python",
                **({"display_name": s.display_name} if s.display_name else {}),
                "tools": [spec.name for spec, _ in s.tools],
            }
            for s in self.tool_servers
        ]
        if self.subagents:
            out.append(
                {
                    "name": SUBAGENT_SERVER,
                    "transport": "python",
                    "tools": [s.name for s in self.subagents],
                    "providers": {s.name: s.provider for s in self.subagents if s.provider},
                }
            )
        return out

    async def attach(
        self, options: ConversationOptions, trajectory: Trajectory, provider: str
    ) -> None:
        """Start the session's tool server (if it has Python tools) and give the CLI every
        server. The tool server stops with the session (``options.release``)."""
        servers = list(self.mcp_servers)
        if servers:
            from .probe import probe_all  # the mcp SDK loads only for sessions with MCP servers

            check_startable(servers, options.process_env(), options.cwd)
            await probe_all(servers, options.process_env(), options.cwd)
        served = list(self.tool_servers)
        if self.subagents:
            runs = SubagentRuns()
            options.on_turn.append(runs.attach)
            served.append(subagent_server(self.subagents, provider, options, runs))
        if served:
            from .host import ToolHost  # the mcp SDK loads only for sessions with Python tools

            host = ToolHost(served, options.session_id)
            await host.start()
            options.closers.append(host.stop)
            servers += host.mcp_servers()
        options.mcp_servers = servers
        if self.mcp_servers or served:
            trajectory.mcp_servers = self.records()
