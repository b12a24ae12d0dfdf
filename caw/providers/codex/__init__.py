"""Codex: one shared ``codex app-server`` (JSON-RPC lines on stdio), ``codex exec`` as fallback.

The package has the shape of every adapter with two modes:

- ``__init__`` (here): the Provider: resume-key shape, which mode a conversation gets;
- ``app_server``: the server mode: one app-server per environment, a thread per conversation;
- ``exec``: the per-turn mode: one ``codex exec --json`` process per turn;
- ``translate``: codex's wire -> caw events (both modes);
- ``options``: what codex is given (binary, params, config values, approval answers).

CLIs without a working app-server (or ``CAW_CODEX_MODE=exec``) get the per-turn mode.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from ...errors import BackendFailed
from ...model_catalog import ModelList, codex_models
from ...redact import hide_key
from ..base import Conversation, ConversationOptions, Provider
from ..jsonrpc_lines import RpcError
from ..pool import ServerPool
from ..standby import ServerStandby, Standby, take_standby
from .app_server import AppServer, AppServerConversation
from .exec import ExecConversation
from .first_write import write_first_thread
from .options import MODE_ENV, approval_answer, native_cli, thread_params

log = logging.getLogger("caw.codex")


class CodexThreadStandby(ServerStandby):
    """A thread started ahead on a shared app-server, for the session to come (codex keeps
    no record of a thread before its first turn: nothing to remove when it goes unused)."""

    def __init__(
        self,
        provider: CodexProvider,
        session_id: str,
        server: AppServer,
        thread_id: str,
        started: tuple[Any, ...],
    ):
        super().__init__(
            session_id, server, started, provider._standby, lambda: provider._pool.release(server)
        )
        self.server: AppServer = server
        self.thread_id = thread_id


class CodexProvider(Provider):
    name = "codex"
    cli = "codex"
    npm_package = "@openai/codex"

    def __init__(self) -> None:
        # A CLI that could not serve is not tried again: the per-turn mode is used for good.
        self._pool: ServerPool[AppServer] = ServerPool(
            (BackendFailed, OSError, asyncio.TimeoutError)
        )
        self._standby: dict[str, CodexThreadStandby] = {}  # session id -> its thread

    @classmethod
    def check_resume_key(cls, key: str) -> str:
        # `codex exec resume <not-a-uuid>` takes a thread *name* and silently starts a new thread.
        return cls._check_uuid_key(key)

    def _backend(self, options: ConversationOptions) -> tuple[str, dict[str, str], str]:
        env = options.process_env()
        cli, extra = native_cli(self.require_cli(env))
        env.update(extra)
        if options.mcp_servers:
            # An app-server of its own: a thread's stdio MCP servers live as long as the
            # app-server, not the thread (they outlived thread/unsubscribe), so the session's
            # servers end when its app-server does.
            env["CAW_MCP_SESSION"] = options.session_id
        return cli, env, env.get(MODE_ENV, "").strip().lower() or "auto"

    @staticmethod
    def _started(cli: str, env: Mapping[str, str], options: ConversationOptions) -> tuple[Any, ...]:
        """What decides a new thread: its app-server and the thread's parameters."""
        return cli, env, thread_params(options)

    async def _app_server(self, cli: str, env: Mapping[str, str], mode: str) -> AppServer | None:
        """This environment's app-server (started if need be), or None to use ``codex exec``."""
        if mode == "exec":
            return None
        # Everything in the environment may change codex's behaviour (CODEX_HOME, keys, PATH).
        key = (cli, tuple(sorted(env.items())))
        try:
            return await self._pool.acquire(
                key, lambda: AppServer.launch(cli, env), fall_back=mode != "app-server"
            )
        except (BackendFailed, OSError, asyncio.TimeoutError) as exc:
            if mode == "app-server":
                raise BackendFailed(f"`codex app-server` did not start: {exc}") from None
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            tail = (getattr(exc, "stderr_tail", "") or "").strip().splitlines()[-1:]
            log.warning(
                "`codex app-server` did not start (%s); using `codex exec` per turn",
                " ".join([detail, *tail]),
            )
            return None

    async def _open(
        self,
        method: str,
        params: dict[str, Any],
        options: ConversationOptions,
        resume_key: str | None,
    ) -> Conversation:
        cli, env, mode = self._backend(options)
        server = await self._app_server(cli, env, mode)
        if server is None:
            return ExecConversation(cli, env, options, resume_key)
        try:
            result = await server.peer.request(method, params)
            thread_id = ((result or {}).get("thread") or {}).get("id")
            if not isinstance(thread_id, str):
                raise BackendFailed(f"codex answered {method} without a thread id")
        except BaseException as exc:
            await self._pool.release(server)
            if not isinstance(exc, RpcError):
                raise
            if resume_key is None:
                raise BackendFailed(f"codex could not start a thread: {exc.rpc_message}") from None
            if "no rollout found" in exc.rpc_message:
                raise BackendFailed(
                    f"codex has no conversation with this resume key ({exc.rpc_message})"
                ) from None
            raise BackendFailed(f"codex could not resume the thread: {exc.rpc_message}") from None
        return AppServerConversation(self._pool, server, thread_id, options)

    async def start(self, options: ConversationOptions) -> Conversation:
        standby = await take_standby(
            self._standby,
            options.session_id,
            lambda: self._started(*self._backend(options)[:2], options),
        )
        if standby is not None:
            return AppServerConversation(self._pool, standby.server, standby.thread_id, options)
        return await self._open("thread/start", thread_params(options), options, None)

    async def prestart(self, options: ConversationOptions) -> Standby | None:
        """A thread started ahead, on the app-server a session with these options will share
        (a use of it held, so that the server outlives the last session)."""
        if options.mcp_servers:  # such a session gets an app-server of its own
            return None
        cli, env, mode = self._backend(options)
        server = await self._app_server(cli, env, mode)
        if server is None:
            return None
        params = thread_params(options)
        try:
            await write_first_thread(server, params)  # once per app-server: see first_write
            result = await server.peer.request("thread/start", params)
            thread_id = ((result or {}).get("thread") or {}).get("id")
            if not isinstance(thread_id, str):
                raise BackendFailed("codex answered thread/start without a thread id")
        except BaseException:
            await self._pool.release(server)
            raise
        standby = CodexThreadStandby(
            self, options.session_id, server, thread_id, self._started(cli, env, options)
        )
        self._standby[options.session_id] = standby
        if server.retired:  # retired while the thread started: it would hold the server
            await standby.discard()
            return None
        server.on_retire.append(standby.discard)
        return standby

    async def resume(self, resume_key: str, options: ConversationOptions) -> Conversation:
        self.check_resume_key(resume_key)
        hide_key(resume_key, options.session_id)  # errors below may quote it
        return await self._open(
            "thread/resume",
            {"threadId": resume_key, **thread_params(options)},
            options,
            resume_key,
        )

    async def list_models(self, options: ConversationOptions) -> ModelList:
        """``model/list`` of the app-server (every page; hidden models left out)."""
        cli, env, _mode = self._backend(options)
        server = await self._app_server(cli, env, "app-server")
        assert server is not None  # mode app-server: a failure raises
        pages: list[dict[str, Any]] = []
        try:
            cursor: str | None = None
            while len(pages) < 20:  # a bound, should a CLI ever hand back the same cursor
                page = await server.peer.request("model/list", {"cursor": cursor})
                pages.append(page if isinstance(page, dict) else {})
                cursor = pages[-1].get("nextCursor")
                if not cursor:
                    break
        except RpcError as exc:
            raise BackendFailed(f"codex could not list its models: {exc.rpc_message}") from None
        finally:
            await self._pool.release(server)
        return codex_models(pages)

    async def aclose(self) -> None:
        for standby in list(self._standby.values()):
            await standby.discard()
        await self._pool.aclose()


__all__ = [
    "AppServerConversation", "CodexProvider", "ExecConversation", "approval_answer", "native_cli",
]  # fmt: skip
