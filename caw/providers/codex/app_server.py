"""codex's server mode: one ``codex app-server`` (JSON-RPC lines on stdio) shared by threads.

All codex conversations of one environment share one app-server: each is a
thread in it, and notifications are routed to conversations by ``threadId``.
The server is refcounted by its conversations (:mod:`caw.providers.pool`) and
stops with the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from ... import __version__
from ...errors import BackendFailed
from ...events import Event
from ...permissions import PermissionBroker
from ...permissions import codex as codex_permissions
from ...redact import hide_key
from ..base import Conversation, ConversationOptions, RawSink, model_error, tolerant
from ..jsonrpc_lines import JsonRpcPeer, PeerClosed, RpcError
from ..pool import ServerPool
from ..process import ChildProcess
from .options import approval_answer
from .translate import TurnTranslator, error_text

log = logging.getLogger("caw.codex")

INITIALIZE_TIMEOUT = 30.0
_END = object()  # the app-server is gone, or the conversation closed, mid-turn


def _thread_of(params: Mapping[str, Any]) -> str | None:
    thread = (
        params.get("threadId")
        or params.get("conversationId")
        or (params.get("thread") or {}).get("id")
    )
    return thread if isinstance(thread, str) else None


class AppServer:
    """One ``codex app-server`` process, shared by the conversations (threads) of one environment."""

    def __init__(self, process: ChildProcess):
        self.process = process
        self.threads: dict[str, set[AppServerConversation]] = {}
        # What else holds a use of this server and lets go of it when it is retired
        # (a standby thread started ahead).
        self.on_retire: list[Callable[[], Awaitable[object]]] = []
        self.retired = False
        self.first_write_done = False  # first_write.write_first_thread ran on it
        self._turn_waiters: dict[str, asyncio.Future[None]] = {}  # thread id -> turn/completed
        self._stopped = False
        self.peer = JsonRpcPeer(
            process,
            on_notification=self._notify,
            on_request=self._request,
            on_close=self._closed,
            version=None,
        )

    @classmethod
    async def launch(cls, cli: str, env: Mapping[str, str]) -> AppServer:
        process = await ChildProcess.spawn([cli, "app-server"], name="codex app-server", env=env)
        server = cls(process)
        try:
            client = {"name": "caw", "title": "caw", "version": __version__}
            await asyncio.wait_for(
                server.peer.request("initialize", {"clientInfo": client}), INITIALIZE_TIMEOUT
            )
            await server.peer.notify("initialized")
        except BaseException:
            await server.stop()
            raise
        return server

    @property
    def alive(self) -> bool:
        return self.process.alive and not self.peer.closed

    @property
    def pid(self) -> int:
        return self.process.pid

    def attach(self, conversation: AppServerConversation) -> None:
        self.threads.setdefault(conversation.thread_id, set()).add(conversation)

    def detach(self, conversation: AppServerConversation) -> None:
        convs = self.threads.get(conversation.thread_id)
        if convs is not None:
            convs.discard(conversation)
            if not convs:
                del self.threads[conversation.thread_id]

    def turn_completed(self, thread: str) -> asyncio.Future[None]:
        """Done at the next ``turn/completed`` of ``thread``, a thread no conversation owns."""
        waiter = self._turn_waiters.get(thread)
        if waiter is None:
            waiter = self._turn_waiters[thread] = asyncio.get_running_loop().create_future()
        return waiter

    def forget_turn(self, thread: str) -> None:
        self._turn_waiters.pop(thread, None)

    def _notify(self, method: str, params: dict[str, Any], raw: dict[str, Any]) -> None:
        thread = _thread_of(params)
        waiter = self._turn_waiters.get(thread) if thread and method == "turn/completed" else None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        for conversation in list(self.threads.get(thread, ())) if thread else ():
            conversation._incoming(method, params, raw)

    async def _request(self, method: str, params: dict[str, Any], raw: dict[str, Any]) -> Any:
        thread = _thread_of(params)
        conversations = list(self.threads.get(thread, ())) if thread else []
        for conversation in conversations:
            conversation._incoming(method, params, raw)
        if conversations and codex_permissions.is_permission_request(method, params):
            asking = conversations[0].permissions
            if asking is not None:  # "ask": the session's broker decides
                return await conversations[0].ask_permission(asking, method, params)
        # A request for a thread nobody here owns is answered as strictly as possible.
        mode = conversations[0].options.permission_mode if conversations else "deny"
        return approval_answer(method, params, mode)

    def _closed(self) -> None:
        for convs in list(self.threads.values()):
            for conversation in list(convs):
                conversation._server_ended()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # stdin EOF lets the server flush its rollout files before we signal it.
        self.process.close_stdin()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.process.proc.wait()), 2.0)
        await self.process.stop()
        await self.peer.aclose()


class AppServerConversation(Conversation):
    """One thread in a shared app-server."""

    def __init__(
        self,
        pool: ServerPool[AppServer],
        server: AppServer,
        thread_id: str,
        options: ConversationOptions,
    ):
        self.pool = pool
        self.server = server
        self.thread_id = self.resume_key = thread_id
        self.options = options
        self._queue: asyncio.Queue[Any] | None = None  # the running turn's inbox
        self._turn_id: str | None = None
        self._interrupt_requested = False
        self._closed = False
        # fileChange items by id: codex's file-change question names only the item.
        self._file_changes: dict[str, dict[str, Any]] = {}
        hide_key(thread_id, options.session_id)  # the server may name it in its stderr
        server.attach(self)

    @property
    def alive(self) -> bool:
        return not self._closed and self.server.alive

    @property
    def permissions(self) -> PermissionBroker | None:
        """The broker that answers codex's questions, in "ask" mode."""
        if self.options.permission_mode != "ask":
            return None
        return self.options.permissions or PermissionBroker("ask")  # nobody to ask: rejects

    async def ask_permission(
        self, broker: PermissionBroker, method: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        item = self._file_changes.pop(str(params.get("itemId")), None)
        request = codex_permissions.permission_request(method, params, item)
        return codex_permissions.permission_response(method, await broker.decide(request))

    def _incoming(self, method: str, params: dict[str, Any], raw: dict[str, Any]) -> None:
        item = params.get("item") if method == "item/started" else None
        if isinstance(item, dict) and item.get("type") == "fileChange":
            self._file_changes[str(item.get("id"))] = item
        if self._queue is not None:
            self._queue.put_nowait((method, params, raw))

    def _server_ended(self) -> None:
        if self._queue is not None:
            self._queue.put_nowait(_END)

    async def send(self, text: str, raw: RawSink) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._queue, self._turn_id, self._interrupt_requested = queue, None, False
        translator = TurnTranslator()
        try:
            try:
                started = await self.server.peer.request(
                    "turn/start",
                    {"threadId": self.thread_id, "input": [{"type": "text", "text": text}]},
                )
            except PeerClosed:
                raise await self._died() from None
            except RpcError as exc:
                raise BackendFailed(f"codex could not start the turn: {exc.rpc_message}") from None
            self._turn_id = ((started or {}).get("turn") or {}).get("id")
            if self._interrupt_requested:
                await self._send_interrupt()
            while True:
                item = await queue.get()
                if item is _END:
                    if self._closed:
                        return
                    raise await self._died()
                method, params, message = item
                turn_id = params.get("turnId") or (params.get("turn") or {}).get("id")
                if turn_id is not None and turn_id != self._turn_id:
                    continue  # a notification about an earlier turn (e.g. usage replayed on resume)
                raw(message)
                for event in tolerant("codex", translator.events, method, params):
                    yield event
                if method == "turn/completed":
                    turn = params.get("turn") or {}
                    status = turn.get("status")
                    if status == "failed":
                        error = (
                            error_text(turn.get("error") or {})
                            or translator.error
                            or "the turn failed"
                        )
                        raise model_error(f"codex reported an error: {error}")
                    if status == "interrupted" and not self._interrupt_requested:
                        raise BackendFailed("codex interrupted the turn")
                    return
        finally:
            self._queue, self._turn_id = None, None

    async def _died(self) -> BackendFailed:
        # The peer's reader has already waited for the exit status.
        return await self.server.process.exit_error(
            "the codex app-server ended during the turn", wait_exit=0
        )

    async def interrupt(self) -> None:
        if self._queue is None or not self.server.alive:
            return
        self._interrupt_requested = True
        if self._turn_id is not None:  # else send() interrupts once turn/start has answered
            await self._send_interrupt()

    async def _send_interrupt(self) -> None:
        try:
            await self.server.peer.request(
                "turn/interrupt", {"threadId": self.thread_id, "turnId": self._turn_id}
            )
        except BackendFailed as exc:  # "no active turn": it ended meanwhile (or the server did)
            log.debug("turn/interrupt: %s", exc)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if (
            self._queue is not None
        ):  # a turn still running: end its iterator (the core gave up on it)
            await self.interrupt()
            self._queue.put_nowait(_END)
        self.server.detach(self)
        last = await self.pool.release(self.server)
        if not last and self.server.alive and self.thread_id not in self.server.threads:
            try:  # no more of the thread's events; others still use the server
                await self.server.peer.request("thread/unsubscribe", {"threadId": self.thread_id})
            except BackendFailed as exc:
                log.debug("thread/unsubscribe: %s", exc)
            # codex 0.169 keeps an unsubscribed thread loaded, and with it the thread's
            # writer, for as long as the app-server runs: another daemon resuming this
            # session is refused ("already has an active writer") until then. So this
            # server takes no new session and stops with the last one it has; a standby
            # held on it lets go now.
            self.pool.retire(self.server)
            self.server.retired = True
            hooks, self.server.on_retire = self.server.on_retire, []
            for let_go in hooks:
                await let_go()
