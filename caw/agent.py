"""AsyncAgent: the configuration sessions are started and resumed from."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .changes import ChangeTracker
from .errors import InvalidHandle, UnknownSession
from .handle import ResumeHandle, check_id, decode_handle, looks_like_handle
from .models import Trajectory
from .permissions import PermissionBroker, PermissionCallback, PermissionRule, RuleStore
from .providers import UnknownProvider, canonical_name, provider_class, shared_provider
from .providers.base import ConversationOptions, PermissionMode, check_option_values
from .providers.standby import Standby
from .session import AsyncSession
from .store import SessionDir, Store
from .tools import MCPServer, ToolKit, ToolServer
from .tools.attach import AgentTools
from .tools.groups import ToolGroup
from .tools.groups import check as check_tool_group
from .tools.subagents import AgentSpec
from .trust import check_workspace


class AsyncAgent:
    """Starts and resumes :class:`AsyncSession`s of one provider with one configuration."""

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
        trusted: bool | None = None,
        subagents: Iterable[AgentSpec] = (),
        track_changes: bool = False,
    ):
        """``pinned``: whether a handle of another provider is an error. By default an Agent is
        pinned when a provider was chosen (``provider`` or ``$CAW_PROVIDER``); ``pinned=False``
        makes ``provider`` only the default for new sessions, and a handle names its own.

        ``permission_mode``: ``"bypass"`` (the default, for unattended use: every tool runs
        unasked), ``"deny"`` (tools that need approval are refused) or ``"ask"`` (each question
        goes to ``on_permission``, a sync or async function returning ``"allow_once"``,
        ``"allow_always"``, ``"reject_once"`` or ``"reject_always"``, and appears as a
        :class:`~caw.permissions.PermissionRequest` event that ``stream()`` / ``on_event`` code
        may answer with ``respond()``). ``permission_timeout``: seconds after which an unanswered
        question is rejected. ``workspace_rules``: remembered answers shared by every session.

        Tools (see docs/tools.md): ``mcp_servers`` (:class:`~caw.tools.MCPServer`), ``tool_servers``
        (:class:`~caw.tools.ToolKit` instances) and ``stateless_tools`` (``@tool`` functions)
        are given to every session; Python tools are served by the session itself. ``tools``
        (:class:`~caw.tools.ToolGroup`) limits the CLI's built-in tools; a provider that cannot
        express the group exactly refuses it when a session starts.

        ``track_changes``: snapshot the session's folder before and after each turn
        (:mod:`caw.changes`, a shadow git repository; git must be installed), so each turn
        lists the files it changed and ``session.changes(n)`` / ``session.revert(n)`` work."""
        check_option_values(model=model, reasoning=reasoning)  # before any session exists
        # Workspace trust (caw.trust): None refuses a folder whose agent configuration would
        # run as code; False starts the CLI with the project's configuration switched off.
        self.trusted = trusted
        if pinned is None:
            pinned = provider is not None or bool(os.environ.get("CAW_PROVIDER"))
        self._pinned = pinned
        self.provider = canonical_name(provider)
        self.model = model
        self.system_prompt = system_prompt
        self.reasoning = reasoning
        self.data_dir = data_dir
        self.store = Store(data_dir) if data_dir is not None else None
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.env = dict(env or {})
        self.permission_mode = permission_mode
        self.on_permission = on_permission
        self.permission_timeout = permission_timeout
        self.workspace_rules = list(workspace_rules)
        self.turn_timeout = turn_timeout
        self.tools = AgentTools(mcp_servers, tool_servers, stateless_tools, subagents)
        self.tool_group = tools
        self.track_changes = track_changes

    def add_mcp_server(self, server: MCPServer) -> None:
        """Give sessions started from now on this MCP server."""
        self.tools.add_mcp_server(server)

    def add_tool_server(self, server: ToolKit | ToolServer) -> None:
        """Give sessions started from now on this ToolKit's tools."""
        self.tools.add_tool_server(server)

    def add_subagent(self, spec: AgentSpec) -> None:
        """Give sessions started from now on this subagent (a tool that runs a child session)."""
        self.tools.add_subagent(spec)

    @property
    def pinned(self) -> bool:
        """Whether a handle of another provider than ``provider`` is rejected."""
        return self._pinned

    def _options(
        self, session_id: str, trajectory: Trajectory | None = None
    ) -> ConversationOptions:
        past = trajectory
        return ConversationOptions(
            session_id=session_id,
            cwd=self.cwd or (past.cwd if past and past.cwd else None) or os.getcwd(),
            model=self.model or (past.model if past else None),
            system_prompt=self.system_prompt or (past.system_prompt if past else None),
            reasoning=self.reasoning,
            permission_mode=self.permission_mode,
            env=self.env,
            tools=self.tool_group,
            trusted=self.trusted is not False,
        )

    def _session(
        self,
        provider: str,
        options: ConversationOptions,
        trajectory: Trajectory,
        sdir: SessionDir | None,
        resume_key: str | None,
        key_unconfirmed: bool = False,
    ) -> AsyncSession:
        check_tool_group(provider, self.tool_group)  # before any backend starts
        # The session's rules live beside its trajectory, so an "always" outlasts a resume.
        options.permissions = PermissionBroker(
            self.permission_mode,
            on_permission=self.on_permission,
            store=RuleStore(sdir.path if sdir is not None else None),
            workspace_rules=self.workspace_rules,
            timeout=self.permission_timeout,
            session_id=options.session_id,
        )
        tracker = (
            ChangeTracker.for_session(sdir.path if sdir is not None else None, options.cwd)
            if self.track_changes
            else None
        )
        return AsyncSession(
            changes=tracker,
            provider=shared_provider(provider),
            options=options,
            trajectory=trajectory,
            session_dir=sdir,
            resume_key=resume_key,
            turn_timeout=self.turn_timeout,
            key_unconfirmed=key_unconfirmed,
        )

    async def start_session(
        self, metadata: dict[str, Any] | None = None, *, session_id: str | None = None
    ) -> AsyncSession:
        """A new conversation. Its backend starts now, so a missing CLI fails here.

        ``session_id``: the caller's id instead of a new one (``caw acp`` restarts a session
        that has no turn yet under the same id when its provider or model changes)."""
        session_id = str(uuid.uuid4()) if session_id is None else check_id(session_id, "session_id")
        options = self._options(session_id)
        check_workspace(options.cwd, self.trusted, self.provider)  # before anything starts
        trajectory = Trajectory(
            agent=self.provider, model=self.model, session_id=session_id, system_prompt=self.system_prompt,
            cwd=options.cwd, metadata=dict(metadata or {}), reasoning_effort=self.reasoning,
        )  # fmt: skip
        sdir = None
        if self.store is not None:
            sdir = self.store.create(session_id)
            sdir.lock()  # one writer per session (caw.session_lock)
        session = None
        try:
            await self.tools.attach(options, trajectory, self.provider)
            session = self._session(self.provider, options, trajectory, sdir, None)
            session.save_record()
            await session.open_backend()
        except BaseException:  # a failed start leaves its folder free
            if session is not None:
                await session.stop_change_tracking()  # its baseline snapshot (caw.changes)
            await options.release()
            if sdir is not None:
                sdir.unlock()
                # Nothing happened in it: a start that failed leaves no session to list.
                shutil.rmtree(sdir.path, ignore_errors=True)
            raise
        return session

    async def prestart(self) -> Standby | None:
        """Start ahead the backend a later ``start_session(session_id=standby.session_id)``
        with this agent's settings will use (caw-server's standby pool), or None when the
        provider starts nothing ahead for them (nor for an agent with tools or subagents)."""
        tools = self.tools
        if tools.mcp_servers or tools.tool_servers or tools.subagents:
            return None
        options = self._options(str(uuid.uuid4()))
        check_workspace(options.cwd, self.trusted, self.provider)
        check_tool_group(self.provider, self.tool_group)
        return await shared_provider(self.provider).prestart(options)

    def read_handle(self, handle_or_id: str) -> ResumeHandle:
        """Turn a handle (or, with a data_dir, a bare session id) into a checked ResumeHandle."""
        if not isinstance(handle_or_id, str) or not handle_or_id.strip():
            raise InvalidHandle(
                "resume_session needs a resume handle (a JSON string) or a session id"
            )
        if looks_like_handle(handle_or_id):
            handle = decode_handle(handle_or_id)
        else:
            session_id = check_id(handle_or_id.strip(), "the session id")
            if self.store is None:
                raise FileNotFoundError(
                    f"cannot resume bare session id {session_id!r}: no data_dir is set, so there is no stored resume key "
                    "(pass the full resume handle, or create the Agent with the data_dir the session was recorded in)"
                )
            stored = (
                self.store.session(session_id).load_handle() if self.store.has(session_id) else None
            )
            if stored is None:
                raise UnknownSession(
                    f"no session {session_id!r} with a resume key in data_dir {self.store.root}"
                )
            handle = stored
        try:
            provider = canonical_name(handle.provider)
        except UnknownProvider:
            raise InvalidHandle(
                f"the resume handle names an unknown provider {handle.provider!r}"
            ) from None
        if self.pinned and provider != self.provider:
            raise InvalidHandle(
                f"this handle belongs to provider {provider!r}, but this Agent is pinned to provider {self.provider!r}"
            )
        provider_class(provider).check_resume_key(handle.resume_key)
        return handle.model_copy(update={"provider": provider})

    async def resume_session(
        self, handle_or_id: str, *, start_backend: bool = True
    ) -> AsyncSession:
        """Continue a conversation from its handle; with the original data_dir, its history too.

        SessionBusy if another process has this session open (one writer per session).
        ``start_backend=False``: the backend starts with the first send (or
        ``AsyncSession.start_backend``), so its errors come there."""
        handle = self.read_handle(handle_or_id)
        sdir = None
        if self.store is not None:
            # The writer lock comes before anything of the session is read or written.
            sdir = self.store.create(handle.session_id)
            sdir.lock()
        try:
            return await self._resume(handle, sdir, start_backend)
        except BaseException:
            if sdir is not None:
                sdir.unlock()
            raise

    async def _resume(
        self, handle: ResumeHandle, sdir: SessionDir | None, start_backend: bool = True
    ) -> AsyncSession:
        trajectory = sdir.load_trajectory() if sdir is not None else None
        options = self._options(handle.session_id, trajectory)
        check_workspace(options.cwd, self.trusted, handle.provider)
        if trajectory is None:
            trajectory = Trajectory(
                agent=handle.provider, model=options.model, session_id=handle.session_id,
                system_prompt=options.system_prompt, cwd=options.cwd,
            )  # fmt: skip
        trajectory.completed_at = None
        if self.reasoning:  # the effort this session now runs with
            trajectory.reasoning_effort = self.reasoning
        key_unconfirmed = False
        if sdir is not None:
            try:
                stored = sdir.load_handle()
            except InvalidHandle:  # an unreadable record: nothing worth keeping
                stored = None
            if stored is None:
                sdir.save_handle(handle)
            elif stored != handle:
                # Another key is on record: keep it until this one has proved itself in a turn,
                # so that a wrong or stale handle cannot destroy the session's stored key.
                key_unconfirmed = True
        await self.tools.attach(options, trajectory, handle.provider)
        session = None
        try:
            session = self._session(
                handle.provider, options, trajectory, sdir, handle.resume_key, key_unconfirmed
            )
            session.save_record()
            if start_backend:
                await session.open_backend()
        except BaseException:
            if session is not None:
                await session.stop_change_tracking()  # its baseline snapshot (caw.changes)
            await options.release()
            raise
        return session

    async def completion(self, message: str) -> Trajectory:
        """One message in a fresh session; returns the ended session's trajectory."""
        session = await self.start_session()
        try:
            await session.send(message)
        finally:
            trajectory = await session.end()
        return trajectory
