"""Subagents: an :class:`AgentSpec` is a tool of the parent session that runs a child caw session.

The parent's tool server offers each spec as tool ``<name>`` of the server ``subagents``
(``task``: what the child is asked). A call starts the child (its own provider, model,
tools, MCP servers and subagents; the parent's cwd, env and permission mode), sends the
task, ends the child and answers with the child's final text. The child's trajectory is
attached to the parent's tool-use block when the parent's turn is recorded, so
``trajectory.subagent_trajectories`` lists it and ``total_usage`` counts it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..events import Event, SubagentUpdate
from ..models import Trajectory, Turn
from .groups import ToolGroup
from .servers import NAME_RE, MCPServer
from .toolkit import ToolKit, ToolServer, ToolSpec

if TYPE_CHECKING:
    from ..providers.base import ConversationOptions

SUBAGENT_SERVER = "subagents"


@dataclass
class AgentSpec:
    """A child agent the parent may call as a tool. ``provider`` (an extension of caw 0.1.9's
    spec) may name another CLI than the parent's; by default the child uses the parent's."""

    name: str
    description: str
    system_prompt: str | None = None
    model: str | None = None
    reasoning: str | None = None
    tools: ToolGroup | None = None
    tool_servers: list[ToolKit | ToolServer] = field(default_factory=list)
    mcp_servers: list[MCPServer] = field(default_factory=list)
    subagents: list[AgentSpec] = field(default_factory=list)
    provider: str | None = None

    def __post_init__(self) -> None:
        if not NAME_RE.fullmatch(self.name):
            raise ValueError(f"subagent name {self.name!r} must be letters, digits, '_' or '-'")
        # caw 0.1.9's specs used "" for "not set".
        self.system_prompt = self.system_prompt or None
        self.model = self.model or None
        self.reasoning = self.reasoning or None


class SubagentRuns:
    """One parent session's finished child runs, until the parent's turn takes them."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str, Trajectory]] = []  # (spec name, task, trajectory)

    def attach(self, turn: Turn) -> None:
        """Put each finished child trajectory on the tool-use block that asked for it."""
        for block in turn.tool_calls:
            if block.subagent_trajectory is not None:
                continue
            for index, (name, task, trajectory) in enumerate(self.pending):
                named = block.name.endswith(
                    (f"{SUBAGENT_SERVER}__{name}", f"{SUBAGENT_SERVER}_{name}")
                )
                if named and block.input.get("task") == task:
                    block.subagent_trajectory = trajectory
                    del self.pending[index]
                    break


def subagent_server(
    specs: list[AgentSpec], parent_provider: str, options: ConversationOptions, runs: SubagentRuns
) -> ToolServer:
    """The ``subagents`` tool server of one parent session."""
    tools: list[tuple[ToolSpec, Callable[..., Any]]] = []
    for spec in specs:
        tools.append(
            (ToolSpec(spec.name, spec.description), _runner(spec, parent_provider, options, runs))
        )
    return ToolServer(SUBAGENT_SERVER, tools, display_name="Subagents")


def _runner(
    spec: AgentSpec, parent_provider: str, options: ConversationOptions, runs: SubagentRuns
) -> Callable[..., Any]:
    async def run_subagent(task: str) -> str:
        from ..agent import AsyncAgent  # the agent module imports this one

        provider = spec.provider or parent_provider
        broker = options.permissions  # the parent's answers and rules settle the child's questions
        child = AsyncAgent(
            provider,
            model=spec.model,
            system_prompt=spec.system_prompt,
            reasoning=spec.reasoning,
            cwd=options.cwd,
            env=options.env,
            permission_mode=options.permission_mode,
            on_permission=broker.on_permission if broker is not None else None,
            workspace_rules=broker.workspace_rules if broker is not None else (),
            permission_timeout=broker.timeout if broker is not None else None,
            tools=spec.tools,
            tool_servers=spec.tool_servers,
            mcp_servers=spec.mcp_servers,
            subagents=spec.subagents,
        )
        session = await child.start_session(metadata={"subagent": spec.name})

        def forward(event: Event) -> None:  # into the parent's turn, marked with the child's name
            if options.emit is not None:
                options.emit(SubagentUpdate(agent=spec.name, provider=provider, update=event))

        try:
            turn = await session.send(task, forward)
        finally:
            trajectory = await asyncio.shield(session.end())
            runs.pending.append((spec.name, task, trajectory))
        return turn.result

    run_subagent.__name__ = spec.name
    run_subagent.__doc__ = spec.description
    return run_subagent
