"""ACP's stdio framing: one JSON-RPC message per line, on a private copy of stdout.

The SDK's own ndjson transport logs and drops a line that is not JSON; JSON-RPC asks
for a ``-32700`` answer (and ``-32600`` for JSON that is not a request), so caw reads
the lines itself and hands the SDK's connection only well-formed messages. Nothing but
protocol messages reaches the real stdout: :func:`protect_stdout` moves fd 1 aside and
points it at stderr, so a stray ``print`` or a child's output cannot corrupt the stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from typing import Any

log = logging.getLogger("caw.acp")

MAX_LINE = 50 * 1024 * 1024  # as the SDK's default stdio buffer


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


class StdioTransport:
    """The SDK's ``Transport`` seam (decoded messages in and out) over newline-framed pipes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        async with self._lock:
            self._writer.write(data)
            await self._writer.drain()

    async def receive(self) -> dict[str, Any] | None:
        while True:
            try:
                line = await self._reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                line = exc.partial
                if not line.strip():
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


async def open_stdio(protocol_fd: int) -> StdioTransport:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    out = os.fdopen(protocol_fd, "wb", buffering=0)
    try:
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader),
            os.fdopen(0, "rb", buffering=0, closefd=False),
        )
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, out)
    except ValueError:  # a regular file: asyncio reads and writes only pipes, sockets, ttys
        raise ValueError(
            "caw acp talks to its client over pipes: run it from an ACP client (an editor), "
            "not with stdin or stdout redirected to a file"
        ) from None
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return StdioTransport(reader, writer)
