"""A small async client for ``caw-server`` (tests, benchmarks, scripts).

::

    async with await CawClient.spawn("--no-data-dir") as client:
        await client.initialize()
        session = await client.start_session(provider="claude_code")
        answer = await client.send(session["sessionId"], "Hello", on_update=print)
        print(answer["turn"]["result"])

It speaks the LSP base protocol (``Content-Length`` framing) over the daemon's
stdio. Requests return their ``result`` or raise :class:`RpcError`;
notifications go to listeners and are kept in :attr:`CawClient.notifications`.
The daemon runs in its own process group and dies with the process that
spawned it (see :mod:`caw.providers.process`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import sys
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from .providers.process import ChildProcess

log = logging.getLogger("caw.client")

Notification = tuple[str, Any]
Listener = Callable[[str, Any], None]


def _call(callback: Callable[..., Any], *args: Any) -> None:
    """Run a user callback; its failure must not stop the client from reading."""
    try:
        callback(*args)
    except Exception:
        log.exception("a caw client callback failed")


class RpcError(Exception):
    """An error answer from the daemon."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(f"{message} (code {code})")
        self.code, self.message, self.data = code, message, data

    @property
    def kind(self) -> str | None:
        return self.data.get("kind") if isinstance(self.data, dict) else None


class DaemonGone(ConnectionError):
    """The daemon's stdout ended while requests were pending."""


class _DaemonProcess(ChildProcess):
    """Keeps every stderr line (not only a tail), for tests that inspect the logs."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str):
        self.stderr_lines: list[str] = []
        self.echo_stderr = False
        super().__init__(proc, name)

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            text = line.decode("utf-8", "replace").rstrip()
            self._stderr.append(text)
            self.stderr_lines.append(text)
            if self.echo_stderr:
                print(text, file=sys.stderr)


class PendingRequest:
    def __init__(self, request_id: int, future: asyncio.Future[Any]):
        self.id, self.future = request_id, future

    def __await__(self) -> Generator[Any, None, Any]:
        return self.future.__await__()


class CawClient:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter | Any,
        process: _DaemonProcess | None = None,
    ):
        self._reader, self._writer, self.process = reader, writer, process
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self.notifications: list[Notification] = []
        #: request id -> how many notifications had arrived before its answer (ordering checks).
        self.answered_after: dict[Any, int] = {}
        #: Set to a list to keep every answer message (tests scan them).
        self.answers: list[dict[str, Any]] | None = None
        #: Answers the client cannot match to a request: id null (parse errors) and batch arrays.
        self.unmatched: asyncio.Queue[Any] = asyncio.Queue()
        self._listeners: list[Listener] = []
        self._update_listeners: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        self._waiters: list[asyncio.Future[None]] = []
        #: method -> handler (sync or async, params -> result) for the daemon's own requests
        #: (session/requestPermission); one without a handler is answered -32601.
        self.request_handlers: dict[str, Callable[[Any], Any]] = {}
        #: Every request the daemon sent: (method, params).
        self.server_requests: list[tuple[str, Any]] = []
        self._answering: set[asyncio.Future[None]] = set()
        self.closed = asyncio.Event()
        self._reading = asyncio.ensure_future(self._read_loop())

    # --- construction ------------------------------------------------------------------

    @classmethod
    async def spawn(
        cls,
        *args: str,
        command: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        echo_stderr: bool = False,
    ) -> CawClient:
        """Start a daemon (``python -m caw_server`` of this interpreter, unless ``command``) with ``args``."""
        argv = [*(command or [sys.executable, "-m", "caw_server"]), *args]
        process = await _DaemonProcess.spawn(argv, name="caw-server", env=env, cwd=cwd)
        assert isinstance(process, _DaemonProcess)
        process.echo_stderr = echo_stderr
        assert process.proc.stdout is not None and process.proc.stdin is not None
        return cls(process.proc.stdout, process.proc.stdin, process)

    async def __aenter__(self) -> CawClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def stderr_lines(self) -> list[str]:
        return self.process.stderr_lines if self.process else []

    # --- wire --------------------------------------------------------------------------

    def write_raw(self, data: bytes) -> None:
        """Write bytes as they are (for tests of bad input)."""
        self._writer.write(data)

    def write_message(self, message: Any) -> None:
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        self.write_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read_frame(self) -> bytes | None:
        length = None
        while True:
            line = await self._reader.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                if length is not None:
                    break
                continue
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return await self._reader.readexactly(length)

    async def _read_loop(self) -> None:
        try:
            while (body := await self._read_frame()) is not None:
                try:
                    message = json.loads(body)
                except ValueError:
                    log.warning("caw-server sent a frame that is not JSON: %.200r", body)
                    continue
                self._dispatch(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(DaemonGone("caw-server closed its output"))
            self._pending.clear()
            for answering in list(self._answering):  # nobody is left to read the answers
                answering.cancel()
            self._wake()

    def _dispatch(self, message: Any) -> None:
        if isinstance(message, list) or not isinstance(message, dict):
            self.unmatched.put_nowait(message)
            return
        if "method" in message:
            method, params = message["method"], message.get("params")
            if "id" in message:  # a request from the server
                self.server_requests.append((method, params))
                task = asyncio.ensure_future(self._answer_server(message["id"], method, params))
                self._answering.add(task)
                task.add_done_callback(self._answering.discard)
                self._wake()
                return
            self.notifications.append((method, params))
            if method == "session/update" and isinstance(params, dict):
                session_id = params.get("sessionId")
                listening = self._update_listeners.get(session_id, ()) if session_id else ()
                for callback in list(listening):
                    _call(callback, params["update"])
            for listener in list(self._listeners):
                _call(listener, method, params)
            self._wake()
            return
        self.answered_after[message.get("id")] = len(self.notifications)
        if self.answers is not None:
            self.answers.append(message)
        future = self._pending.pop(message.get("id"), None)
        if future is None:
            self.unmatched.put_nowait(message)
        elif not future.done():
            if "error" in message:
                error = message["error"] or {}
                future.set_exception(
                    RpcError(error.get("code", 0), error.get("message", ""), error.get("data"))
                )
            else:
                future.set_result(message.get("result"))

    async def _answer_server(self, request_id: Any, method: str, params: Any) -> None:
        handler = self.request_handlers.get(method)
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if handler is None:
            answer["error"] = {"code": -32601, "message": "not supported"}
        else:
            try:
                result = handler(params)
                answer["result"] = await result if inspect.isawaitable(result) else result
            except Exception as exc:
                answer["error"] = {"code": -32603, "message": str(exc)}
        with contextlib.suppress(Exception):  # the daemon may be gone
            self.write_message(answer)

    async def wait_for_server_request(
        self, method: str, start: int = 0, timeout: float | None = None
    ) -> Any:
        """The params of the first request ``method`` the daemon sent (from index ``start``)."""

        async def wait() -> Any:
            while True:
                for name, params in self.server_requests[start:]:
                    if name == method:
                        return params
                if self.closed.is_set():
                    raise DaemonGone(f"caw-server closed before a {method} request")
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter

        return await asyncio.wait_for(wait(), timeout)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # --- requests and notifications ----------------------------------------------------

    def start_request(self, method: str, params: Any = None) -> PendingRequest:
        """Send a request now; await the returned object for its result."""
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.closed.is_set():
            future.set_exception(DaemonGone("caw-server is gone"))
            return PendingRequest(request_id, future)
        self._pending[request_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.write_message(message)
        return PendingRequest(request_id, future)

    async def request(self, method: str, params: Any = None, timeout: float | None = None) -> Any:
        pending = self.start_request(method, params)
        return await asyncio.wait_for(pending.future, timeout)

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.write_message(message)

    def cancel_request(self, request_id: int) -> None:
        self.notify("$/cancelRequest", {"id": request_id})

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def wait_for_notification(
        self,
        method: str,
        predicate: Callable[[Any], bool] | None = None,
        timeout: float = 60.0,
        start: int = 0,
    ) -> Any:
        """The params of the first notification ``method`` (from index ``start``) that matches ``predicate``."""

        def find() -> Any:
            for name, params in self.notifications[start:]:
                if name == method and (predicate is None or predicate(params)):
                    return (params,)
            return None

        async def wait() -> Any:
            while (found := find()) is None:
                if self.closed.is_set():
                    raise DaemonGone(f"caw-server closed before a {method} notification")
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter
            return found[0]

        return await asyncio.wait_for(wait(), timeout)

    # --- the caw protocol --------------------------------------------------------------

    async def initialize(
        self, initialization_options: dict[str, Any] | None = None, **params: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": None,
                "capabilities": {},
                "initializationOptions": initialization_options,
                **params,
            },
        )
        self.notify("initialized", {})
        return result

    async def start_session(self, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("session/start", params)
        return result

    def start_send(
        self,
        session_id: str,
        message: str,
        on_update: Callable[[dict[str, Any]], None] | None = None,
        **params: Any,
    ) -> PendingRequest:
        """session/send without waiting; ``on_update`` sees this session's updates until it answers."""
        pending = self.start_request(
            "session/send", {"sessionId": session_id, "message": message, **params}
        )
        if on_update is not None:
            listeners = self._update_listeners.setdefault(session_id, [])
            listeners.append(on_update)
            pending.future.add_done_callback(lambda _: listeners.remove(on_update))
        return pending

    async def send(
        self,
        session_id: str,
        message: str,
        on_update: Callable[[dict[str, Any]], None] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.start_send(session_id, message, on_update, **params)
        return result

    async def resume(
        self, handle: str | None = None, session_id: str | None = None, cwd: str | None = None
    ) -> dict[str, Any]:
        params = {
            k: v
            for k, v in {"handle": handle, "sessionId": session_id, "cwd": cwd}.items()
            if v is not None
        }
        result: dict[str, Any] = await self.request("session/resume", params)
        return result

    async def cancel(self, session_id: str) -> bool:
        cancelled: bool = (await self.request("session/cancel", {"sessionId": session_id}))[
            "cancelled"
        ]
        return cancelled

    async def end(self, session_id: str) -> dict[str, Any]:
        trajectory: dict[str, Any] = (await self.request("session/end", {"sessionId": session_id}))[
            "trajectory"
        ]
        return trajectory

    async def list_sessions(self, cwd: str | None = None) -> list[dict[str, Any]]:
        sessions: list[dict[str, Any]] = (
            await self.request("session/list", {"cwd": cwd} if cwd else {})
        )["sessions"]
        return sessions

    # --- ending ------------------------------------------------------------------------

    async def shutdown(self, timeout: float = 60.0) -> None:
        await self.request("shutdown", timeout=timeout)

    def exit(self) -> None:
        self.notify("exit")

    async def wait_closed(self, timeout: float = 60.0) -> int | None:
        """Wait for the daemon to exit; its exit code."""
        await asyncio.wait_for(self.closed.wait(), timeout)
        if self.process is None:
            return None
        await asyncio.wait_for(self.process.proc.wait(), timeout)
        await self.process.wait_stderr()
        return self.process.returncode

    async def aclose(self, timeout: float = 60.0) -> int | None:
        """Politely stop the daemon (shutdown, exit); kill it if it does not go."""
        if self.process is None or self.process.returncode is not None:
            self._reading.cancel()
            return self.process.returncode if self.process else None
        with contextlib.suppress(Exception):
            if not self.closed.is_set():
                await self.shutdown(timeout)
                self.exit()
        try:
            return await self.wait_closed(timeout)
        except asyncio.TimeoutError:
            await self.process.stop()
            return self.process.returncode
        finally:
            self._reading.cancel()
