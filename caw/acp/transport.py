"""ACP's stdio framing: one JSON-RPC message per line, on a private copy of stdout.

The SDK's own ndjson transport logs and drops a line that is not JSON; JSON-RPC asks
for a ``-32700`` answer (and ``-32600`` for JSON that is not a request), so caw reads
the lines itself and hands the SDK's connection only well-formed messages. Nothing but
protocol messages reaches the real stdout: :func:`protect_stdout` moves fd 1 aside and
points it at stderr, so a stray ``print`` or a child's output cannot corrupt the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
import sys
import threading
from typing import Any, Protocol

log = logging.getLogger("caw.acp")

MAX_LINE = 50 * 1024 * 1024  # as the SDK's default stdio buffer
END_GRACE = 2.0  # seconds the requests read before end of input have to be answered


def _error(code: int, message: str, msg_id: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def _invalid(message: Any) -> str | None:
    """Why ``message`` is not a JSON-RPC 2.0 request, notification or response (None: it is)."""
    if not isinstance(message, dict):
        return "a message must be a JSON object (batches are not used by ACP)"
    if message.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "method" in message:
        if not isinstance(message["method"], str):
            return "method must be a string"
        params = message.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            return "params must be an object"
        return None
    if "id" in message and ("result" in message or "error" in message):
        return None
    return "neither a request (method) nor a response (result or error)"


class Writer(Protocol):
    """What the transport writes to: an asyncio StreamWriter, or :class:`FileWriter`."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class FileWriter:
    """Blocking writes, for a stdout that is a regular file (asyncio writes only to pipes,
    sockets and terminals; a file never makes a write wait on a reader)."""

    def __init__(self, fd: int):
        self.fd = fd

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        os.close(self.fd)


class StdioTransport:
    """The SDK's ``Transport`` seam (decoded messages in and out) over newline-framed stdio."""

    def __init__(self, reader: asyncio.StreamReader, writer: Writer):
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()
        self._unanswered: set[Any] = set()  # ids of the client's requests not yet answered
        self._answered = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        async with self._lock:
            self._writer.write(data)
            await self._writer.drain()
        if "method" not in message:
            self._unanswered.discard(message.get("id"))
            self._answered.set()

    async def _drain_answers(self) -> None:
        """At end of input, let the requests already read be answered (briefly: a prompt in
        flight is not waited for) before the connection is closed."""
        deadline = asyncio.get_running_loop().time() + END_GRACE
        while self._unanswered:
            self._answered.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._answered.wait(), remaining)

    async def receive(self) -> dict[str, Any] | None:
        while True:
            try:
                line = await self._reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                line = exc.partial
                if not line.strip():
                    await self._drain_answers()
                    return None
            except asyncio.LimitOverrunError as exc:
                await self._skip(exc.consumed)
                await self.send(_error(-32600, f"message longer than {MAX_LINE} bytes"))
                continue
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError:
                log.info("a line that is not JSON was answered with -32700")
                await self.send(_error(-32700, "Parse error: the line is not valid JSON"))
                continue
            problem = _invalid(message)
            if problem is not None:
                msg_id = message.get("id") if isinstance(message, dict) else None
                if not isinstance(msg_id, (str, int)) or isinstance(msg_id, bool):
                    msg_id = None
                await self.send(_error(-32600, f"Invalid request: {problem}", msg_id))
                continue
            if "method" in message and "id" in message:
                self._unanswered.add(message["id"])
            return dict(message)

    async def _skip(self, consumed: int) -> None:
        """Drop the rest of an over-long line."""
        await self._reader.readexactly(consumed)
        while True:
            try:
                await self._reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as exc:
                await self._reader.readexactly(exc.consumed)

    async def close(self) -> None:
        self._writer.close()


def protect_stdout() -> int:
    """A private duplicate of stdout for the protocol; fd 1 then writes to stderr."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    return protocol_fd


def _read_stdin(loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader) -> None:
    """Feed stdin to ``reader`` from a thread: works for a pipe, a file or /dev/null alike
    (asyncio's pipe reader refuses files and cannot poll /dev/null)."""
    try:
        while chunk := os.read(0, 65536):
            loop.call_soon_threadsafe(reader.feed_data, chunk)
    except OSError as exc:
        log.info("stdin: %s", exc)
    finally:
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(reader.feed_eof)


async def open_stdio(protocol_fd: int) -> StdioTransport:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    threading.Thread(
        target=_read_stdin, args=(loop, reader), name="caw-acp-stdin", daemon=True
    ).start()
    writer: Writer
    if stat.S_ISREG(os.fstat(protocol_fd).st_mode):
        writer = FileWriter(protocol_fd)
    else:
        out = os.fdopen(protocol_fd, "wb", buffering=0)
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, out)
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return StdioTransport(reader, writer)
