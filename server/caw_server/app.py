"""The daemon: a pygls server whose methods validate params and call caw's async core.

Everything runs in one event loop: the frames read from stdin, every session's
turns (sends to one session queue in order in the core, different sessions run
concurrently), the data dir watcher and the idle reaper. No conversation logic
lives here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.progress import Progress

import caw
from caw.errors import (
    CawError,
    InvalidAttachment,
    NoHandleYet,
    ProviderNotInstalled,
    SessionBusy,
    TurnCancelled,
    UnknownSession,
)
from caw.events import Event, ToolCall, UsageLimitWait
from caw.handle import ResumeHandle
from caw.models import CawModel, Trajectory
from caw.permissions import PermissionMode, PermissionRequest
from caw.providers import (
    UnknownProvider,
    canonical_name,
    close_shared_providers,
    provider_class,
    provider_names,
    shared_provider,
)
from caw.providers.base import ConversationOptions
from caw.store import CORRUPTED, Store
from caw.tools import MCPServer
from caw.usage_limits import AutoWaitSession, UsageLimitWaiter

from . import logs, startup, tools, wire
from .errors import invalid_field, parse_params, rpc_error, to_rpc_error
from .logs import SECRETS
from .options import Options
from .permissions import ClientPermissions, RuleSpec
from .protocol import CawProtocol, DaemonHooks
from .providers_info import ProviderProbe, provider_health
from .registry import Registry
from .standby import StandbyPool
from .transport import FrameError, Writer, open_reader, read_frames
from .watch import SessionWatcher

if TYPE_CHECKING:  # the session stack is imported after initialize's answer (caw_server.startup)
    from caw.agent import AsyncAgent
    from caw.session import AsyncSession

log = logging.getLogger("caw_server")

_LOG_TYPES = {
    logging.ERROR: types.MessageType.Error,
    logging.WARNING: types.MessageType.Warning,
    logging.INFO: types.MessageType.Info,
}

Handler = Callable[[Any], Awaitable[dict[str, Any]]]


def _wrap(model: type[wire.Params], impl: Callable[[Any], Awaitable[CawModel]]) -> Handler:
    """One of caw's methods as a pygls handler: params validated, exceptions as error answers."""

    async def handler(raw: Any) -> dict[str, Any]:
        params = parse_params(model, raw)
        try:
            result = await impl(params)
        except (asyncio.CancelledError, JsonRpcException):
            raise
        except Exception as exc:
            raise to_rpc_error(exc) from None
        return result.to_wire()

    return handler


def _handle_of(session: AsyncSession) -> str | None:
    try:
        return session.resume_handle
    except NoHandleYet:
        return None


def _resolved(path: str | None) -> Path | None:
    return Path(path).expanduser().resolve() if path else None


def _realpath(path: str | None) -> str | None:
    return os.path.realpath(os.path.expanduser(path)) if path else None


def _check_cwd(cwd: str | None) -> str | None:
    if cwd is None:
        return None
    path = os.path.expanduser(cwd)
    if not os.path.isdir(path):
        raise invalid_field("cwd", "not an existing directory")
    return os.path.abspath(path)


# --- progress ----------------------------------------------------------------------------


_PROGRESS_MESSAGES = {"text": "writing", "thinking": "thinking", "toolResult": "tool finished"}


class TurnProgress:
    """$/progress for one turn: begin, a report when the turn's activity changes, end."""

    def __init__(
        self,
        progress: Progress,
        token: wire.ProgressToken,
        session: AsyncSession | AutoWaitSession,
    ):
        self.progress, self.token, self.session = progress, token, session
        self._last = ""
        self._cancelling: asyncio.Future[Any] | None = None

    def begin(self) -> None:
        self.progress.tokens.pop(self.token, None)  # a reused token starts afresh
        self.progress.begin(
            self.token,
            types.WorkDoneProgressBegin(
                title=f"caw ({self.session.provider_name})",
                message="waiting for the model",
                cancellable=True,
            ),
        )
        cancel = self.progress.tokens.get(self.token)
        if cancel is not None:  # window/workDoneProgress/cancel cancels this future
            cancel.add_done_callback(self._on_cancel)

    def _on_cancel(self, future: Future[Any]) -> None:
        if future.cancelled():
            self._cancelling = asyncio.ensure_future(self.session.cancel())

    def update(self, event: Event) -> None:
        message = _PROGRESS_MESSAGES.get(event.kind)
        if isinstance(event, ToolCall):
            message = f"running {event.name}"
        elif isinstance(event, UsageLimitWait):
            message = f"usage limit: waiting until {event.resets_at:%H:%M} UTC"
        if message and message != self._last:
            self._last = message
            self.progress.report(self.token, types.WorkDoneProgressReport(message=message))

    def end(self, outcome: str) -> None:
        self.progress.end(self.token, types.WorkDoneProgressEnd(message=outcome))
        self.progress.tokens.pop(self.token, None)


# --- the server --------------------------------------------------------------------------


class CawServer(LanguageServer, DaemonHooks):
    protocol: CawProtocol

    def __init__(self, options: Options | None = None):
        super().__init__(
            "caw-server",
            caw.__version__,
            protocol_cls=CawProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.None_,
        )
        self.options = options or Options()
        self.registry = Registry(self.options.idle_timeout)
        self._waiters: dict[str, UsageLimitWaiter] = {}  # auto-wait, per session id
        self.standby = StandbyPool(
            self.options.standby, self.options.standby_idle or self.options.idle_timeout
        )
        self.exit_code = 0
        self._exit: asyncio.Event | None = None
        self._closing = False
        self._probe: ProviderProbe | None = None
        self._warming: asyncio.Future[int] | None = None
        self._watching: asyncio.Future[None] | None = None
        self._started_at = time.time()
        self._watcher: SessionWatcher | None = None
        # In "ask" mode the sessions' questions go to the client (session/requestPermission).
        self.permissions = ClientPermissions(self.protocol)
        self.permissions.timeout = self.options.permission_timeout
        self._register()

    # --- plumbing ----------------------------------------------------------------------

    def _register(self) -> None:
        handlers: dict[str, Callable[[Any], Awaitable[CawModel]]] = {
            "session/start": self.session_start,
            "session/send": self.session_send,
            "session/resume": self.session_resume,
            "session/cancel": self.session_cancel,
            "session/end": self.session_end,
            "session/list": self.session_list,
            "session/rename": self.session_rename,
            "session/delete": self.session_delete,
            "caw/health": self.caw_health,
            "session/changes": self.session_changes,
            "session/revert": self.session_revert,
            "providers/models": self.providers_models,
            "session/configure": self.session_configure,
        }
        assert handlers.keys() == wire.METHODS.keys()
        for name, impl in handlers.items():
            self.feature(name)(_wrap(wire.METHODS[name][0], impl))

        async def on_shutdown(*args: Any) -> None:
            await self.registry.end_all()

        self.feature(types.SHUTDOWN)(on_shutdown)

    def notify(self, method: str, params: CawModel) -> None:
        """Send one of caw's notifications (wire.NOTIFICATIONS)."""
        self.protocol.notify(method, params.to_wire())

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls would show it to the user as a window/showMessage popup.
        log.error("%s", error)

    def _log_to_client(self, level: int, message: str) -> None:
        kind = _LOG_TYPES.get(level, types.MessageType.Log)
        self.protocol.notify(
            types.WINDOW_LOG_MESSAGE, types.LogMessageParams(type=kind, message=message)
        )

    def permission_settings(
        self, mode: PermissionMode | None, rules: list[RuleSpec]
    ) -> dict[str, Any]:
        """The permission part of a session's Agent: its mode, the client as the one who
        answers, and the workspace rules the client sent."""
        return {
            "permission_mode": mode or self.options.permission_mode,
            "on_permission": self.permissions.ask,
            "workspace_rules": [rule.rule() for rule in rules],
        }

    def agent(self, provider: str | None = None, **kwargs: Any) -> AsyncAgent:
        from caw.agent import AsyncAgent  # not before initialize's answer (caw_server.startup)

        return AsyncAgent(
            provider=provider,
            data_dir=self.options.data_dir,
            turn_timeout=self.options.turn_timeout,
            **kwargs,
        )

    @property
    def store(self) -> Store | None:
        return Store(self.options.data_dir) if self.options.data_dir is not None else None

    # --- DaemonHooks: what the protocol calls --------------------------------------------

    def saw_message(self, method: str) -> None:
        # Log lines go to the client from its first message on (LSP allows them during initialize).
        logs.CLIENT_HANDLER.sender = self._log_to_client
        if method != "initialize" and self._watching is None:  # a client that skipped it
            self._after_initialize()

    async def initialize(self, params: types.InitializeParams) -> dict[str, Any]:
        """``initialize``: apply ``initializationOptions``, answer caw's capabilities."""
        if params.initialization_options is not None:
            await self._apply(
                parse_params(
                    wire.InitializationOptions,
                    params.initialization_options,
                    prefix="initializationOptions.",
                )
            )
        # Health here is files and environment only (sub-millisecond): initialize never waits on
        # a probe turn; caw/health with live=true sends one. Versions are the cached ones (null
        # until a CLI has been probed once): the probes start once this answer is on its way,
        # so that they do not compete with it for the CPU.
        health = await provider_health()
        providers = await self._probe.get(timeout=0) if self._probe else []
        asyncio.get_running_loop().call_soon(self._after_initialize)
        return {"caw": wire.CawCapabilities(providers=providers, health=health).to_wire()}

    def _after_initialize(self) -> None:
        """Once initialize's answer is on its way: probe the CLIs, watch the data dir (from the
        daemon's start on: caw_server.watch), import the session stack and build caw's models."""
        if self._probe is not None:
            self._probe.start()
        if self._watching is None and self._watcher is None and not self._closing:
            self._watching = asyncio.ensure_future(self._restart_watcher())
        if self._warming is None:
            self._warming = asyncio.ensure_future(startup.warm_up())

    def request_exit(self, code: int = 0) -> None:
        self.exit_code = code
        if self._exit is not None:
            self._exit.set()

    # --- lifecycle ---------------------------------------------------------------------

    async def _apply(self, given: wire.InitializationOptions) -> None:
        """Each option given overrides the matching command-line flag."""
        fields = given.model_fields_set
        if "provider" in fields:
            try:
                self.options.provider = canonical_name(given.provider) if given.provider else None
            except UnknownProvider as exc:
                raise invalid_field("initializationOptions.provider", str(exc)) from None
        if "idle_timeout" in fields:
            self.options.idle_timeout = given.idle_timeout
            self.registry.set_idle_timeout(given.idle_timeout)
        if "turn_timeout" in fields:
            self.options.turn_timeout = given.turn_timeout
        if given.permission_mode is not None:
            self.options.permission_mode = given.permission_mode
        if given.permission_timeout is not None:
            self.options.permission_timeout = given.permission_timeout
            self.permissions.timeout = given.permission_timeout
        if given.client_capabilities is not None:
            self.permissions.can_answer = given.client_capabilities.permissions
        if given.auto_wait is not None:
            self.options.auto_wait = given.auto_wait
        if given.standby is not None:
            self.options.standby = given.standby
            self.standby.resize(given.standby)
        if "log_level" in fields and given.log_level:
            self.options.log_level = given.log_level
            logs.set_level(given.log_level)
        if "data_dir" in fields:
            data_dir = await asyncio.to_thread(_resolved, given.data_dir)
            if data_dir != self.options.data_dir:
                self.options.data_dir = data_dir
                await self._restart_watcher()

    async def _restart_watcher(self) -> None:
        if self._watcher is not None:
            await self._watcher.stop()
            self._watcher = None
        if self.options.data_dir is not None:
            self._watcher = SessionWatcher(
                self.options.data_dir / "sessions", self._session_changed, self._started_at
            )
            self._watcher.start()

    def _session_changed(self, session_id: str) -> None:
        if (
            self.protocol.client_ready
        ):  # before that, the client has not listed anything it could refresh
            self.notify("session/didChange", wire.SessionDidChange(session_id=session_id))

    async def serve(self, in_fd: int, out_fd: int) -> int:
        """Serve stdio until exit, end of input or a signal; then end every backend."""
        loop = asyncio.get_running_loop()
        self._exit = asyncio.Event()
        writer = await Writer.open(out_fd, self.options.max_backlog)
        self.protocol.open_output(writer)
        reader = await open_reader(in_fd)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_exit, 0)
        self._probe = ProviderProbe()
        log.info(
            "caw-server %s ready (pid %d, data dir: %s)",
            caw.__version__,
            os.getpid(),
            self.options.data_dir or "off",
        )
        reading = asyncio.ensure_future(self._read(reader, writer))
        waits = [
            asyncio.ensure_future(self._exit.wait()),
            asyncio.ensure_future(writer.closed.wait()),
            reading,
        ]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        await self.close()
        logs.CLIENT_HANDLER.sender = None
        await writer.aclose()
        return self.exit_code

    async def _read(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        async for item in read_frames(reader, self.options.max_frame):
            await writer.wait_writable()  # a client that does not read gets no more answers queued
            try:
                if isinstance(item, FrameError):
                    self.protocol.answer_error(
                        None, rpc_error("parseError", f"parse error: {item.message}")
                    )
                else:
                    self.protocol.receive_frame(item)
            except Exception:
                log.exception("failed to handle a message")
            if self._exit is not None and self._exit.is_set():
                return
        log.info("stdin closed")

    async def close(self) -> None:
        """End every session's backend and the shared backend servers. Idempotent."""
        if self._closing:
            return
        self._closing = True
        pending = self.protocol.cancel_requests()
        if pending:
            await asyncio.wait(pending, timeout=15.0)
        await self.registry.end_all()
        await self.standby.aclose()
        try:
            await close_shared_providers()
        except Exception:
            log.exception("closing the shared backend servers failed")
        if self._watcher is not None:
            await self._watcher.stop()
        log.info("all backends ended")

    # --- methods -----------------------------------------------------------------------

    def _check_capacity(self) -> None:
        limit = self.options.max_sessions
        if len(self.registry) >= limit:
            raise rpc_error(
                "tooManySessions",
                f"this caw-server already has {len(self.registry)} live sessions, its limit"
                f" (--max-sessions {limit}): end one (session/end) or raise the limit",
            )

    async def session_start(self, p: wire.StartParams) -> wire.StartResult:
        self._check_capacity()
        provider = canonical_name(p.provider or self.options.provider)
        settings: dict[str, Any] = dict(
            model=p.model,
            system_prompt=p.system_prompt,
            reasoning=p.reasoning,
            cwd=_check_cwd(p.cwd),
            trusted=p.trusted,
            mcp_servers=tools.mcp_servers(p.mcp_servers or []),
            tools=tools.tool_group(p.tools),
            track_changes=p.track_changes,
            **self.permission_settings(p.permission_mode, p.permission_rules),
        )
        agent = self.agent(provider, **settings)
        # A backend started ahead for these settings (caw_server.standby), if one is ready.
        key = _standby_key(provider, settings)
        standby = self.standby.claim(key) if key is not None else None
        try:
            session = await agent.start_session(
                metadata=p.metadata, session_id=standby.session_id if standby else None
            )
        except ProviderNotInstalled as exc:
            raise rpc_error(
                exc.kind,
                str(exc),
                provider=provider,
                install_hint=provider_class(provider).install_hint(),
            ) from None
        finally:
            if standby is not None:
                await standby.discard()  # nothing if the session took it
        self.registry.add(session)
        log.info("session %s started (%s)", session.session_id, provider)
        if key is not None:
            self.standby.refill(key, lambda: self.agent(provider, **settings))
        return wire.StartResult(
            session_id=session.session_id,
            provider=session.provider_name,
            model=session.trajectory.model,
        )

    async def session_send(self, p: wire.SendParams) -> wire.SendResult:
        session = self.registry.get(p.session_id)
        if p.exclusive and (session.busy or self._waiting(p.session_id)):
            raise SessionBusy(f"session {p.session_id} is running a turn")
        sending = self._auto_wait(session)
        progress = (
            TurnProgress(self.work_done_progress, p.work_done_token, sending)
            if p.work_done_token is not None
            else None
        )

        def on_event(event: Event) -> None:
            if isinstance(event, PermissionRequest):
                return  # asked as session/requestPermission (ClientPermissions), not streamed
            self.notify("session/update", wire.SessionUpdate(session_id=p.session_id, update=event))
            if progress is not None:
                progress.update(event)

        self.registry.touch(p.session_id)
        outcome = "failed"
        if progress is not None:
            progress.begin()
        try:
            turn = await sending.send(p.message, on_event, attachments=p.attachments)
            outcome = "done"
        except InvalidAttachment as exc:
            raise invalid_field(f"attachments.{exc.index}", str(exc)) from None
        except (TurnCancelled, asyncio.CancelledError):
            outcome = "cancelled"
            raise
        finally:
            if progress is not None:
                progress.end(outcome)
            SECRETS.add(session.resume_key, session.session_id)
            self.registry.touch(p.session_id)
        return wire.SendResult(turn=turn, resume_handle=_handle_of(session))

    def _auto_wait(self, session: AsyncSession) -> AsyncSession | AutoWaitSession:
        """The session, or with auto-wait on, the session through its usage-limit waiter."""
        if not self.options.auto_wait:
            return session
        waiter = self._waiters.setdefault(session.session_id, UsageLimitWaiter())
        return AutoWaitSession(session, waiter)

    def _waiting(self, session_id: str) -> bool:
        waiter = self._waiters.get(session_id)
        return waiter is not None and waiter.busy

    async def session_resume(self, p: wire.ResumeParams) -> wire.ResumeResult:
        # The daemon's default provider is a default, not a pin: the handle names its provider.
        agent = self.agent(
            cwd=_check_cwd(p.cwd),
            pinned=False,
            trusted=p.trusted,
            tools=tools.tool_group(p.tools),
            track_changes=p.track_changes,
            **self.permission_settings(p.permission_mode, p.permission_rules),
        )
        handle: ResumeHandle | None = None
        if p.handle is not None:
            handle = agent.read_handle(p.handle)
            if p.session_id is not None and p.session_id != handle.session_id:
                raise invalid_field("sessionId", "does not match the handle's session")
            SECRETS.add(handle.resume_key, handle.session_id)
            session_id = handle.session_id
        elif p.session_id is not None:
            session_id = p.session_id
            if self.registry.find(session_id) is None:
                handle = self._stored_handle(agent, session_id)
        else:  # ResumeParams requires one of the two
            raise invalid_field("params", "either 'handle' or 'sessionId' is required")
        async with self.registry.attach_lock(session_id):
            session = self.registry.find(session_id)
            if session is None:
                # A live session found above may have ended while this waited for the lock.
                handle = handle or self._stored_handle(agent, session_id)
                self._check_capacity()
                for server in self._resumed_servers(agent, p, session_id):
                    agent.add_mcp_server(server)
                session = await agent.resume_session(handle.encode(), start_backend=False)
                self.registry.add(session)
                log.info("session %s resumed (%s)", session_id, session.provider_name)
                # Eager: the backend starts now, so that the first send finds it warm.
                starting = asyncio.ensure_future(session.start_backend())
                if p.wait:
                    await starting
                else:
                    starting.add_done_callback(_log_start_failure)
        return wire.ResumeResult(
            session_id=session.session_id,
            provider=session.provider_name,
            resume_handle=_handle_of(session),
            turns=session.trajectory.turns,
        )

    def _resumed_servers(
        self, agent: AsyncAgent, p: wire.ResumeParams, session_id: str
    ) -> list[MCPServer]:
        """The params' MCP servers, else the ones recorded for the session (values aside)."""
        if p.mcp_servers is not None:
            return tools.mcp_servers(p.mcp_servers)
        if agent.store is None or not agent.store.has(session_id):
            return []
        try:
            trajectory = agent.store.session(session_id).load_trajectory()
        except CawError:
            return []
        return tools.recorded_servers(trajectory)

    def _stored_handle(self, agent: AsyncAgent, session_id: str) -> ResumeHandle:
        """The handle the data dir holds for a bare session id."""
        if self.options.data_dir is None:
            raise UnknownSession(
                "this daemon has no data dir, so a bare session id cannot be resumed: pass the handle"
            )
        try:
            handle = agent.read_handle(session_id)
        except UnknownSession:
            if agent.store is not None and agent.store.has(session_id):
                # No key, and a record that cannot be read says so (trajectoryCorrupted).
                agent.store.session(session_id).load_trajectory()
            raise
        SECRETS.add(handle.resume_key, handle.session_id)
        return handle

    async def session_cancel(self, p: wire.SessionRef) -> wire.CancelResult:
        session = self.registry.get(p.session_id)
        waiter = self._waiters.get(p.session_id)
        if waiter is not None and waiter.cancel():  # it was waiting out a usage limit
            return wire.CancelResult(cancelled=True)
        return wire.CancelResult(cancelled=await session.cancel())

    async def session_end(self, p: wire.SessionRef) -> wire.EndResult:
        session = self.registry.pop(p.session_id)
        waiter = self._waiters.pop(p.session_id, None)
        if waiter is not None:
            waiter.cancel()
        trajectory = await session.end()
        log.info("session %s ended", p.session_id)
        self.standby.replenish()
        return wire.EndResult(trajectory=trajectory)

    async def session_list(self, p: wire.ListParams) -> wire.ListResult:
        live = {s.session_id: s for s in self.registry}
        store = self.store
        sessions = (
            await asyncio.to_thread(_stored_sessions, store, live) if store is not None else []
        )
        seen = {s.session_id for s in sessions}
        now = datetime.now(timezone.utc)
        for session in live.values():  # live sessions without a record (no data dir)
            if session.session_id not in seen:
                t = session.trajectory
                sessions.append(_session_info(t, session.provider_name, now, live=True))
        if p.cwd is not None:
            wanted = _realpath(p.cwd)
            sessions = [s for s in sessions if _realpath(s.cwd) == wanted]
        sessions.sort(key=lambda s: s.updated_at, reverse=True)
        return wire.ListResult(sessions=sessions)

    async def session_rename(self, p: wire.RenameParams) -> wire.SessionInfo:
        session = self.registry.find(p.session_id)
        if session is not None:
            session.rename(p.title)
            return _session_info(session.trajectory, session.provider_name, _now(), live=True)
        store = self._store_or_unknown(p.session_id)
        trajectory = await asyncio.to_thread(store.rename, p.session_id, p.title)
        return _session_info(trajectory, trajectory.agent, _now(), live=False)

    async def session_delete(self, p: wire.SessionRef) -> wire.DeleteResult:
        live = self.registry.find(p.session_id) is not None
        if live:
            await self.registry.pop(p.session_id).end()  # frees its folder's writer lock
        store = self.store
        if store is not None and store.has(p.session_id):
            await asyncio.to_thread(store.delete, p.session_id)
        elif not live:
            raise UnknownSession(f"no session {p.session_id} in this daemon's data dir")
        log.info("session %s deleted", p.session_id)
        return wire.DeleteResult()

    def _store_or_unknown(self, session_id: str) -> Store:
        store = self.store
        if store is None or not store.has(session_id):
            raise UnknownSession(f"no session {session_id} in this daemon's data dir")
        return store

    async def caw_health(self, p: wire.HealthParams) -> wire.HealthResult:
        return wire.HealthResult(providers=await provider_health(p.providers, p.live))

    # --- review and revert, models, configure (the core does the work) --------------------

    async def session_changes(self, p: wire.TurnRef) -> wire.ChangesResult:
        files = await self.registry.get(p.session_id).changes(p.turn)
        return wire.ChangesResult(
            changes=[
                wire.ChangedFileInfo(
                    path=f.path, status=f.status, before=f.before, after=f.after, binary=f.binary
                )
                for f in files
            ]
        )

    async def session_revert(self, p: wire.TurnRef) -> wire.RevertResult:
        reverted = await self.registry.get(p.session_id).revert(p.turn)
        log.info("session %s: turn %d reverted (%d files)", p.session_id, p.turn, len(reverted))
        return wire.RevertResult(reverted=reverted)

    async def providers_models(self, p: wire.ModelsParams) -> wire.ModelsResult:
        names = [canonical_name(p.provider)] if p.provider else list(provider_names())
        cwd = _check_cwd(p.cwd) or os.getcwd()
        found = await asyncio.gather(*(_models_of(name, cwd) for name in names))
        return wire.ModelsResult(providers=list(found))

    async def session_configure(self, p: wire.ConfigureParams) -> wire.SessionInfo:
        session = self.registry.get(p.session_id)
        session.configure(model=p.model, reasoning=p.reasoning)
        log.info(
            "session %s configured (model %s, reasoning %s)", p.session_id, p.model, p.reasoning
        )
        return _session_info(session.trajectory, session.provider_name, _now(), live=True)


MODELS_TIMEOUT = 60.0  # seconds a CLI may take to list its models (opencode serve starts first)


async def _models_of(name: str, cwd: str) -> wire.ProviderModels:
    """One provider's models; a CLI that is missing or fails gives an empty list and why."""
    options = ConversationOptions(session_id=str(uuid.uuid4()), cwd=cwd)
    try:
        listed = await asyncio.wait_for(shared_provider(name).list_models(options), MODELS_TIMEOUT)
    except (CawError, OSError, asyncio.TimeoutError) as exc:
        reason = str(exc) or f"no answer within {MODELS_TIMEOUT:g} s"
        return wire.ProviderModels(provider=name, models=[], source="cli", error=reason)
    return wire.ProviderModels(**dict(listed))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _standby_key(provider: str, settings: dict[str, Any]) -> tuple[Any, ...] | None:
    """What decides which standby backend a session may adopt; None for a session whose
    backend has files or servers of its own (a system prompt, MCP servers)."""
    if settings["system_prompt"] or settings["mcp_servers"]:
        return None
    group = settings["tools"]
    return (
        provider,
        settings["cwd"] or os.getcwd(),
        settings["model"],
        settings["reasoning"],
        settings["permission_mode"],
        None if group is None else str(group),
        settings["trusted"],
    )


def _log_start_failure(task: asyncio.Future[None]) -> None:
    """A backend started in the background that failed: the first send retries and reports it."""
    if not task.cancelled() and task.exception() is not None:
        log.info("a resumed session's backend did not start: %s", task.exception())


def _session_info(
    t: Trajectory, provider: str, updated_at: datetime, *, live: bool
) -> wire.SessionInfo:
    last = t.turns[-1] if t.turns else None
    return wire.SessionInfo(
        session_id=t.session_id,
        provider=provider,
        model=t.model,
        reasoning=t.reasoning_effort,
        cwd=t.cwd,
        title=t.title,
        created_at=t.created_at,
        updated_at=updated_at,
        last_activity=(
            last.started_at + timedelta(milliseconds=last.duration_ms) if last else t.created_at
        ),
        num_turns=t.num_turns,
        turn_count=t.num_turns,
        total_cost_usd=t.usage.cost_usd,
        live=live,
        corrupted=t.metadata.get(CORRUPTED),
    )


def _stored_sessions(store: Store, live: dict[str, AsyncSession]) -> list[wire.SessionInfo]:
    found = []
    for sdir, t in store.iter_trajectories():
        try:
            updated = datetime.fromtimestamp(sdir.trajectory_path.stat().st_mtime, timezone.utc)
        except OSError:
            continue
        found.append(_session_info(t, t.agent, updated, live=t.session_id in live))
    return found
