"""A JSON-RPC peer over a child's stdio, one JSON message per line.

Used by adapters whose CLI speaks JSON-RPC on stdin/stdout (``codex
app-server``; ``opencode acp`` speaks the same framing). Both sides may send
requests: ours are matched to responses by id; the child's requests go to an
async handler whose return value (or :class:`RpcError`) becomes the answer;
notifications go to a synchronous callback in arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import BackendFailed
from .process import ChildProcess

log = logging.getLogger("caw.jsonrpc")

METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603

NotificationHandler = Callable[[str, dict[str, Any], dict[str, Any]], None]
"""(method, params, the whole raw message)"""
RequestHandler = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[Any]]
"""(method, params, the whole raw message) -> result; raise RpcError to answer with an error."""


class RpcError(BackendFailed):
    """An error response (from the child to our request, or ours to the child's)."""

    def __init__(self, code: int, message: str, data: Any = None, *, method: str | None = None):
        super().__init__(f"{method}: {message}" if method else message)
        self.code = code
        self.rpc_message = message
        self.data = data


class PeerClosed(BackendFailed):
    """The child's output ended (it exited) while a request waited for its answer."""


class JsonRpcPeer:
    """Our side of the conversation with one child process.

    ``version``: the value of the ``jsonrpc`` field we send (None: omit it, as
    codex app-server does). Incoming messages are accepted with or without it.
    """

    def __init__(
        self,
        process: ChildProcess,
        *,
        on_notification: NotificationHandler | None = None,
        on_request: RequestHandler | None = None,
        on_close: Callable[[], None] | None = None,
        version: str | None = "2.0",
    ):
        self.process = process
        self._on_notification = on_notification
        self._on_request = on_request
        self._on_close = on_close
        self._version = version
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._write_lock = asyncio.Lock()
        self._eof = False
        self._reader = asyncio.ensure_future(self._read())

    @property
    def closed(self) -> bool:
        """True once the child's output ended: no request can be answered any more."""
        return self._eof

    async def wait_closed(self) -> None:
        await asyncio.shield(self._reader)

    async def request(self, method: str, params: Any = None) -> Any:
        """Send a request and return its result; raise RpcError or PeerClosed."""
        if self.closed:
            raise await self._closed_error(method)
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (method, future)
        try:
            await self._write(
                {
                    "id": request_id,
                    "method": method,
                    **({"params": params} if params is not None else {}),
                }
            )
            return await future
        except (BrokenPipeError, ConnectionResetError):
            raise await self._closed_error(method) from None
        finally:
            self._pending.pop(request_id, None)

    async def notify(self, method: str, params: Any = None) -> None:
        try:
            await self._write(
                {"method": method, **({"params": params} if params is not None else {})}
            )
        except (BrokenPipeError, ConnectionResetError):
            raise await self._closed_error(method) from None

    async def _write(self, message: dict[str, Any]) -> None:
        if self._version is not None:
            message = {"jsonrpc": self._version, **message}
        async with self._write_lock:
            await self.process.write_json(message)

    async def _closed_error(self, method: str) -> PeerClosed:
        # The reader has already waited for the exit status.
        error = await self.process.exit_error(
            method, wait_exit=0, wait_stderr=0.5, error=PeerClosed
        )
        assert isinstance(error, PeerClosed)
        return error

    async def _read(self) -> None:
        try:
            async for message in self.process.json_lines():
                self._dispatch(message)
        except Exception as exc:  # e.g. LineTooLong: the peer ends, its conversations fail
            log.warning("%s: reading its output failed: %s", self.process.name, exc)
            log.debug("%s: reading failed", self.process.name, exc_info=True)
        finally:
            self._eof = True  # from here on requests fail at once instead of joining _pending
            # The process may still be writing its exit status; give it a moment for describe_exit().
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self.process.proc.wait()), 2.0)
            for method, future in list(self._pending.values()):
                if not future.done():
                    future.set_exception(await self._closed_error(method))
            if self._on_close is not None:
                self._on_close()

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if isinstance(method, str):
            params = message.get("params")
            params = params if isinstance(params, dict) else {}
            if "id" in message:
                task = asyncio.ensure_future(self._answer(message["id"], method, params, message))
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)
            elif self._on_notification is not None:
                try:
                    self._on_notification(method, params, message)
                except Exception:
                    log.exception("%s: handling %s failed", self.process.name, method)
            return
        pending = self._pending.get(message.get("id"))  # type: ignore[arg-type]
        if pending is None or pending[1].done():
            log.debug(
                "%s: a response to no pending request (id %r)", self.process.name, message.get("id")
            )
            return
        method, future = pending
        error = message.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            future.set_exception(
                RpcError(
                    code if isinstance(code, int) else 0,
                    str(error.get("message") or error),
                    error.get("data"),
                    method=method,
                )
            )
        else:
            future.set_result(message.get("result"))

    async def _answer(
        self, request_id: Any, method: str, params: dict[str, Any], message: dict[str, Any]
    ) -> None:
        reply: dict[str, Any]
        try:
            if self._on_request is None:
                raise RpcError(METHOD_NOT_FOUND, f"unsupported request {method}")
            reply = {"id": request_id, "result": await self._on_request(method, params, message)}
        except RpcError as exc:
            reply = {
                "id": request_id,
                "error": {
                    "code": exc.code,
                    "message": exc.rpc_message,
                    **({"data": exc.data} if exc.data is not None else {}),
                },
            }
        except Exception as exc:
            log.exception("%s: answering %s failed", self.process.name, method)
            reply = {"id": request_id, "error": {"code": INTERNAL_ERROR, "message": str(exc)}}
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self._write(reply)

    async def aclose(self) -> None:
        """Wait for the reader to finish (the caller stops the process) and drop unanswered requests of the child."""
        for task in list(self._handlers):
            task.cancel()
        await self.wait_closed()
