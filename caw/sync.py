"""The synchronous API (``Agent``, ``Session``), a thin facade over the async core.

All sessions of a process share one event loop in a background thread, so
backend processes and shared backend servers live in one place however many
threads call in. Its thread is the parent of every backend process (the
parent-death signal is per thread), so it lives as long as the interpreter.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .agent import AsyncAgent
from .attachments import EmbeddedResource, ResourceLink
from .changes import ChangedFile
from .events import Event
from .models import Trajectory, Turn
from .permissions import PermissionCallback, PermissionRule
from .providers.base import PermissionMode
from .session import AsyncSession, EventCallback
from .tools import MCPServer, ToolKit, ToolServer
from .tools.groups import ToolGroup
from .tools.subagents import AgentSpec

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="caw-event-loop", daemon=True).start()
            _loop = loop
        return _loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on caw's loop and wait; Ctrl-C cancels it (and so the turn)."""
    future = asyncio.run_coroutine_threadsafe(coro, _background_loop())
    try:
        return future.result()
    except (KeyboardInterrupt, concurrent.futures.CancelledError):
        future.cancel()
        raise


class Session:
    """A conversation with a coding agent. See :class:`caw.session.AsyncSession`."""

    def __init__(self, core: AsyncSession):
        self._core = core

    @property
    def core(self) -> AsyncSession:
        """The async session underneath (for use from caw's event loop)."""
        return self._core

    @property
    def session_id(self) -> str:
        return self._core.session_id

    @property
    def provider(self) -> str:
        return self._core.provider_name

    @property
    def resume_handle(self) -> str:
        return self._core.resume_handle

    @property
    def trajectory(self) -> Trajectory:
        return self._core.trajectory

    @property
    def session_dir(self) -> Path | None:
        return self._core.session_dir

    def send(
        self,
        message: str,
        on_event: EventCallback | None = None,
        *,
        attachments: Sequence[ResourceLink | EmbeddedResource] = (),
    ) -> Turn:
        """Send a message and wait for the whole turn. ``on_event`` runs on caw's loop thread.
        ``attachments``: files, ranges and selections sent with it (:mod:`caw.attachments`)."""
        if attachments:  # (caw 0.1.9's front has no attachments: its retries are for plain sends)
            return run(self._core.send(message, on_event, attachments=attachments))
        return run(self._send(message, on_event))

    async def _send(self, message: str, on_event: EventCallback | None) -> Turn:
        """The turn behind ``send`` and ``stream``, on caw's loop (a subclass may wrap it)."""
        return await self._core.send(message, on_event)

    def stream(self, message: str) -> Iterator[Event]:
        """Send a message and iterate its events as they arrive; ``last_turn`` holds the turn after."""
        events: queue.Queue[Any] = queue.Queue()
        done = object()

        async def drive() -> Turn:
            try:
                return await self._send(message, events.put_nowait)
            finally:
                events.put_nowait(done)

        future = asyncio.run_coroutine_threadsafe(drive(), _background_loop())
        try:
            while (item := events.get()) is not done:
                yield item
            self.last_turn = future.result()
        finally:
            if not future.done():
                future.cancel()

    last_turn: Turn | None = None

    def cancel(self) -> bool:
        """Stop the running turn from another thread; its ``send`` raises TurnCancelled."""
        return run(self._core.cancel())

    def end(self) -> Trajectory:
        return run(self._core.end())

    def changes(self, turn: int) -> list[ChangedFile]:
        """The files turn ``turn`` (from 1) changed, with their text before and after
        (needs ``track_changes``; :mod:`caw.changes`)."""
        return run(self._core.changes(turn))

    def revert(self, turn: int) -> list[str]:
        """Put turn ``turn``'s files back as they were before it (FilesChangedSince, and
        nothing written, if one changed since)."""
        return run(self._core.revert(turn))

    def configure(self, *, model: str | None = None, reasoning: str | None = None) -> None:
        """Use ``model`` / ``reasoning`` from the next turn on."""
        self._core.configure(model=model, reasoning=reasoning)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()

    def __repr__(self) -> str:
        return f"<Session {self.session_id} provider={self.provider} turns={self.trajectory.num_turns}>"


class Agent:
    """Starts and resumes sessions of one coding-agent CLI.

    ``provider`` is ``"claude_code"`` (aliases ``claude``, ``cc``), ``"codex"`` or
    ``"opencode"``; default ``$CAW_PROVIDER`` or ``claude_code``. ``data_dir``
    (optional) records every session on disk and lets bare session ids resume.
    ``pinned`` (default: whether a provider was chosen) rejects another provider's handle.
    """

    def __init__(
        self,
        provider: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        reasoning: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        permission_mode: PermissionMode = "bypass",
        on_permission: PermissionCallback | None = None,
        permission_timeout: float | None = None,
        workspace_rules: Iterable[PermissionRule] = (),
        turn_timeout: float | None = None,
        pinned: bool | None = None,
        mcp_servers: Iterable[MCPServer] = (),
        tool_servers: Iterable[ToolKit | ToolServer] = (),
        stateless_tools: Iterable[Callable[..., Any]] = (),
        tools: ToolGroup | None = None,
        subagents: Iterable[AgentSpec] = (),
        track_changes: bool = False,
    ):
        """Permissions: see :class:`~caw.agent.AsyncAgent` (``on_permission`` runs on caw's
        loop thread; a ``stream()`` consumer may instead answer the request event)."""
        self._core = AsyncAgent(
            provider, model, system_prompt, reasoning, data_dir, cwd, env,
            permission_mode=permission_mode, on_permission=on_permission,
            permission_timeout=permission_timeout, workspace_rules=workspace_rules,
            turn_timeout=turn_timeout, pinned=pinned, mcp_servers=mcp_servers,
            tool_servers=tool_servers, stateless_tools=stateless_tools, tools=tools,
            subagents=subagents, track_changes=track_changes,
        )  # fmt: skip

    def add_mcp_server(self, server: MCPServer) -> None:
        """Give sessions started from now on this MCP server (see docs/tools.md)."""
        self._core.add_mcp_server(server)

    def add_tool_server(self, server: ToolKit | ToolServer) -> None:
        """Give sessions started from now on this ToolKit's tools (see docs/tools.md)."""
        self._core.add_tool_server(server)

    def add_subagent(self, spec: AgentSpec) -> None:
        """Give sessions started from now on this subagent (see docs/tools.md)."""
        self._core.add_subagent(spec)

    @property
    def provider(self) -> str:
        return self._core.provider

    @property
    def core(self) -> AsyncAgent:
        return self._core

    def start_session(self) -> Session:
        return Session(run(self._core.start_session()))

    def resume_session(self, handle: str) -> Session:
        """Continue a conversation from a resume handle (or a bare session id, with data_dir)."""
        return Session(run(self._core.resume_session(handle)))

    def completion(self, message: str) -> Trajectory:
        return run(self._core.completion(message))
