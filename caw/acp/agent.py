"""The ACP methods, each mapped onto caw's session core.

Sessions are :class:`~caw.AsyncSession` s started and resumed by :class:`~caw.AsyncAgent`
with the data dir, the permission broker and the providers that ``caw-server`` uses;
this module keeps only which ACP session is which live caw session and its config.
The ACP session id is the caw session id, so ``session/list`` and ``session/load`` work
from the data dir in any later process.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from acp import PROTOCOL_VERSION, Client, RequestError, schema

from .. import __version__
from ..agent import AsyncAgent
from ..errors import (
    CawError,
    InvalidHandle,
    ProviderNotInstalled,
    TurnCancelled,
    UnknownSession,
)
from ..events import Event
from ..handle import check_id
from ..models import FileDiff
from ..permissions import PermissionDecision, PermissionMode, PermissionRequest
from ..providers import canonical_name, provider_class
from ..redact import SECRETS
from ..session import AsyncSession
from ..store import Store
from ..tools import MCPServer
from .config import SessionConfig
from .history import replay
from .mcp import AcpMcpServers as McpServers
from .mcp import mcp_servers as _mcp_servers
from .prompt import PromptBlock, prompt_text
from .updates import SessionUpdate, to_update

log = logging.getLogger("caw.acp")


@dataclass
class Settings:
    """What ``caw acp`` was started with (flags)."""

    provider: str
    data_dir: Path | None
    permission_mode: PermissionMode = "ask"
    turn_timeout: float | None = None


@dataclass
class Live:
    """One ACP session: its caw session and the config options it was set to."""

    session: AsyncSession
    config: SessionConfig
    mcp: list[MCPServer] = field(default_factory=list)
    prompting: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def not_found(session_id: object, why: str) -> RequestError:
    return RequestError(
        -32002, "Resource not found", {"sessionId": str(session_id)[:200], "details": why}
    )


def _check_cwd(cwd: str) -> str:
    if not os.path.isabs(cwd):
        raise RequestError.invalid_params({"details": "cwd must be an absolute path"})
    if not os.path.isdir(cwd):
        raise RequestError.invalid_params({"details": f"cwd {cwd!r} is not an existing directory"})
    return cwd


def _error(exc: CawError) -> RequestError:
    """A core error as an ACP error answer: the message says what happened and what to do."""
    return RequestError(-32603, str(exc), {"kind": getattr(exc, "kind", type(exc).__name__)})


class CawAcpAgent:
    """``acp.Agent`` over caw's core."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.data_dir) if settings.data_dir is not None else None
        self.sessions: dict[str, Live] = {}
        self._attach = asyncio.Lock()
        self._conn: Client | None = None

    def on_connect(self, conn: Client) -> None:
        self._conn = conn

    @property
    def conn(self) -> Client:
        assert self._conn is not None, "the SDK connects before any method runs"
        return self._conn

    # --- the core's objects ---------------------------------------------------------------

    def _agent(
        self,
        provider: str | None,
        model: str | None,
        mode: PermissionMode,
        cwd: str | None,
        mcp: list[MCPServer],
    ) -> AsyncAgent:
        return AsyncAgent(
            provider=provider,
            model=model,
            data_dir=self.settings.data_dir,
            cwd=cwd,
            permission_mode=mode,
            on_permission=self._ask,
            turn_timeout=self.settings.turn_timeout,
            pinned=provider is not None,
            mcp_servers=mcp,
        )

    def _live(self, session_id: str) -> Live:
        live = self.sessions.get(session_id)
        if live is None:
            raise not_found(
                session_id, "no such session is open here: session/load or session/resume it first"
            )
        return live

    async def _send_update(self, session_id: str, update: SessionUpdate) -> None:
        await self.conn.session_update(session_id=session_id, update=update)

    # --- permission questions -------------------------------------------------------------

    async def _ask(self, request: PermissionRequest) -> PermissionDecision | str:
        """The broker's on_permission: ``session/request_permission`` to the client."""
        tool_call = schema.ToolCallUpdate(
            tool_call_id=request.id,
            title=request.title,
            kind=request.tool_kind,
            status="pending",
            raw_input=request.raw_input,
            locations=[
                schema.ToolCallLocation(path=loc.path, line=loc.line) for loc in request.locations
            ]
            or None,
            content=[
                schema.FileEditToolCallContent(
                    type="diff", path=d.path, old_text=d.old_text, new_text=d.new_text
                )
                for d in request.diff
            ]
            or None,
        )
        options = [
            schema.PermissionOption(option_id=o.option_id, name=o.name, kind=o.kind)
            for o in request.options
        ]
        try:
            answer = await self.conn.request_permission(
                session_id=request.session_id or "", tool_call=tool_call, options=options
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the client answered with an error, or went away: nothing runs
            log.info("session/request_permission failed: %s", exc)
            return PermissionDecision(
                option="reject_once",
                source="no_client",
                message="Rejected: the editor could not answer.",
            )
        outcome = answer.outcome
        if isinstance(outcome, schema.AllowedOutcome):
            return outcome.option_id  # the broker maps it to its kind (and rejects an unknown id)
        return PermissionDecision(
            option="reject_once",
            source="cancelled",
            message="Rejected: the question was cancelled.",
        )

    # --- initialize -----------------------------------------------------------------------

    async def initialize(
        self,
        protocol_version: int,
        client_capabilities: Any = None,
        client_info: Any = None,
        **kwargs: Any,
    ) -> schema.InitializeResponse:
        return schema.InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=schema.AgentCapabilities(
                load_session=self.store is not None,
                prompt_capabilities=schema.PromptCapabilities(
                    image=False, audio=False, embedded_context=True
                ),
                mcp_capabilities=schema.McpCapabilities(http=True, sse=False),
                session_capabilities=schema.SessionCapabilities(
                    list=schema.SessionListCapabilities() if self.store is not None else None,
                    resume=schema.SessionResumeCapabilities() if self.store is not None else None,
                    close=schema.SessionCloseCapabilities(),
                ),
            ),
            agent_info=schema.Implementation(
                name="caw", title="caw (coding-agent wrapper)", version=__version__
            ),
            auth_methods=[],
        )

    async def authenticate(
        self, method_id: str, **kwargs: Any
    ) -> schema.AuthenticateResponse | None:
        return schema.AuthenticateResponse()  # the CLIs carry their own credentials

    # --- sessions -------------------------------------------------------------------------

    async def new_session(
        self,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: McpServers | None = None,
        **kwargs: Any,
    ) -> schema.NewSessionResponse:
        _check_cwd(cwd)
        mcp = _mcp_servers(mcp_servers)
        config = SessionConfig(self.settings.provider, None, self.settings.permission_mode)
        session = await self._start(config, cwd, mcp)
        self.sessions[session.session_id] = Live(session, config, mcp)
        log.info("session %s started (%s)", session.session_id, config.provider)
        return schema.NewSessionResponse(
            session_id=session.session_id, config_options=config.options()
        )

    async def _start(
        self,
        config: SessionConfig,
        cwd: str,
        mcp: list[MCPServer],
        session_id: str | None = None,
    ) -> AsyncSession:
        """A new caw session (``session_id``: keep that id, for a session with no turn yet
        that restarts on another provider or model)."""
        agent = self._agent(config.provider, config.model, config.permission_mode, cwd, mcp)
        try:
            return await agent.start_session(session_id=session_id)
        except ProviderNotInstalled as exc:
            raise RequestError(
                -32603,
                str(exc),
                {"kind": exc.kind, "installHint": provider_class(config.provider).install_hint()},
            ) from None
        except CawError as exc:
            raise _error(exc) from None

    async def _attach_stored(self, session_id: str, cwd: str, mcp: list[MCPServer]) -> Live:
        """The live session for a stored one: already open here, or resumed from the data dir."""
        try:
            check_id(session_id, "sessionId")
        except InvalidHandle:
            raise not_found(session_id, "not a caw session id") from None
        async with self._attach:
            live = self.sessions.get(session_id)
            if live is not None:
                return live
            if self.store is None or not self.store.has(session_id):
                raise not_found(session_id, "no such session in the data dir")
            agent = self._agent(None, None, self.settings.permission_mode, cwd, mcp)
            try:
                session = await agent.resume_session(session_id)
            except UnknownSession as exc:
                # No resume key yet: a session that was listed but never prompted starts afresh.
                session = await self._reopen_unprompted(session_id, cwd, mcp, exc)
            except InvalidHandle as exc:
                raise not_found(session_id, str(exc)) from None
            except CawError as exc:  # busy in another process, CLI missing, backend failed
                raise _error(exc) from None
            SECRETS.add(session.resume_key, session.session_id)
            config = SessionConfig(
                session.provider_name, session.options.model, self.settings.permission_mode
            )
            live = Live(session, config, mcp)
            self.sessions[session_id] = live
            log.info("session %s resumed (%s)", session_id, session.provider_name)
            return live

    async def _reopen_unprompted(
        self, session_id: str, cwd: str, mcp: list[MCPServer], why: Exception
    ) -> AsyncSession:
        assert self.store is not None
        try:
            trajectory = self.store.session(session_id).load_trajectory()
            provider = canonical_name(trajectory.agent) if trajectory is not None else None
        except (CawError, ValueError):
            trajectory, provider = None, None
        if trajectory is None or trajectory.turns or provider is None:
            raise not_found(session_id, str(why))
        config = SessionConfig(provider, trajectory.model, self.settings.permission_mode)
        return await self._start(config, cwd, mcp, session_id=session_id)

    async def load_session(
        self,
        cwd: str,
        session_id: str,
        mcp_servers: McpServers | None = None,
        additional_directories: list[str] | None = None,
        **kwargs: Any,
    ) -> schema.LoadSessionResponse:
        _check_cwd(cwd)
        live = await self._attach_stored(session_id, cwd, _mcp_servers(mcp_servers))
        for update in replay(live.session.trajectory):
            await self._send_update(session_id, update)
        return schema.LoadSessionResponse(config_options=live.config.options())

    async def resume_session(
        self,
        session_id: str,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: McpServers | None = None,
        **kwargs: Any,
    ) -> schema.ResumeSessionResponse:
        _check_cwd(cwd)
        live = await self._attach_stored(session_id, cwd, _mcp_servers(mcp_servers))
        return schema.ResumeSessionResponse(config_options=live.config.options())

    async def list_sessions(
        self, cwd: str | None = None, cursor: str | None = None, **kwargs: Any
    ) -> schema.ListSessionsResponse:
        if self.store is None:
            return schema.ListSessionsResponse(sessions=[])
        found = await asyncio.to_thread(_stored_sessions, self.store, cwd)
        return schema.ListSessionsResponse(sessions=found)

    async def close_session(self, session_id: str, **kwargs: Any) -> schema.CloseSessionResponse:
        live = self._live(session_id)
        self.sessions.pop(session_id, None)
        await live.session.end()
        log.info("session %s closed", session_id)
        return schema.CloseSessionResponse()

    async def set_session_mode(self, session_id: str, mode_id: str, **kwargs: Any) -> None:
        raise RequestError.method_not_found(
            "session/set_mode (caw uses configOptions: permission_mode)"
        )

    async def set_config_option(
        self, config_id: str, session_id: str, value: str | bool, **kwargs: Any
    ) -> schema.SetSessionConfigOptionResponse:
        live = self._live(session_id)
        new = live.config.changed(config_id, value)
        async with live.lock:
            if live.prompting:
                raise RequestError.invalid_params(
                    {
                        "details": "a prompt is running in this session; change options between prompts"
                    }
                )
            session = live.session
            if session.trajectory.turns:
                if new.provider != live.config.provider:
                    raise RequestError.invalid_params(
                        {
                            "details": "the backend of a session that has turns cannot change: start a new session for another provider"
                        }
                    )
                # The next prompt resumes the conversation on a backend started with the new flags.
                session.options.model = new.model
                session.options.permission_mode = new.permission_mode
                session.trajectory.model = new.model
                if session.options.permissions is not None:
                    session.options.permissions.mode = new.permission_mode
                await session.release_backend()
            elif new != live.config:
                cwd = session.options.cwd
                await session.end()
                live.session = await self._start(new, cwd, live.mcp, session_id=session_id)
            live.config = new
        return schema.SetSessionConfigOptionResponse(config_options=new.options())

    # --- prompts --------------------------------------------------------------------------

    async def prompt(
        self, session_id: str, prompt: list[PromptBlock], **kwargs: Any
    ) -> schema.PromptResponse:
        live = self._live(session_id)
        message = prompt_text(prompt)
        diffs: dict[str, FileDiff] = {}

        async def on_event(event: Event) -> None:
            update = to_update(event, diffs)
            if update is not None:
                await self._send_update(session_id, update)

        live.prompting += 1
        try:
            async with live.lock:
                turn = await live.session.send(message, on_event)
        except TurnCancelled:
            return schema.PromptResponse(stop_reason="cancelled")
        except CawError as exc:
            log.warning("session %s: the prompt failed: %s", session_id, exc)
            raise _error(exc) from None
        finally:
            live.prompting -= 1
            SECRETS.add(live.session.resume_key, session_id)
        return schema.PromptResponse(
            stop_reason="cancelled" if turn.stop_reason == "cancelled" else "end_turn"
        )

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        live = self.sessions.get(session_id)
        if live is not None:
            await live.session.cancel()

    async def fork_session(
        self,
        session_id: str,
        cwd: str,
        additional_directories: list[str] | None = None,
        mcp_servers: McpServers | None = None,
        **kwargs: Any,
    ) -> schema.ForkSessionResponse:
        raise RequestError.method_not_found("session/fork")

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None

    # --- shutdown -------------------------------------------------------------------------

    async def end_all(self) -> None:
        sessions, self.sessions = list(self.sessions.values()), {}
        for live in sessions:
            try:
                await live.session.end()
            except Exception:
                log.exception("ending session %s", live.session.session_id)


def _stored_sessions(store: Store, cwd: str | None) -> list[schema.SessionInfo]:
    wanted = os.path.realpath(cwd) if cwd else None
    found: list[tuple[float, schema.SessionInfo]] = []
    for sdir, t in store.iter_trajectories():
        if not t.cwd or (wanted is not None and os.path.realpath(t.cwd) != wanted):
            continue
        try:
            mtime = sdir.trajectory_path.stat().st_mtime
        except OSError:
            continue
        updated = datetime.fromtimestamp(mtime, timezone.utc).isoformat()
        found.append(
            (
                mtime,
                schema.SessionInfo(
                    session_id=t.session_id, cwd=t.cwd, title=t.title or None, updated_at=updated
                ),
            )
        )
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [info for _, info in found]
