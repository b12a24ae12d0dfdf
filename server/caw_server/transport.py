"""stdio with LSP base-protocol framing (``Content-Length: N\\r\\n\\r\\n<N bytes>``), hardened.

Memory stays bounded whatever arrives: header lines are capped, a body larger
than ``max_frame`` is skipped without being kept, and every framing problem is
reported (the caller answers -32700 with id null) instead of ending the daemon.
A too-large frame is still consumed in full, so the stream stays in sync.

Output is bounded too: when more than ``max_backlog`` bytes wait for a client that does
not read, the writer drops what may be dropped (streamed updates, log lines: a turn's
answer still carries the whole turn) and the daemon reads no new requests until the
client has caught up to half of that.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

log = logging.getLogger("caw_server.transport")

DEFAULT_MAX_FRAME = 16 * 1024 * 1024
DEFAULT_MAX_BACKLOG = 16 * 1024 * 1024
HEADER_LINE_LIMIT = 8 * 1024
_CHUNK = 64 * 1024


@dataclass
class FrameError:
    """A framing problem; the frame (if any) was skipped."""

    message: str


async def _skip_line(reader: asyncio.StreamReader) -> bool:
    """Drop input up to and including the next newline. False at end of input."""
    while True:
        try:
            await reader.readuntil(b"\n")
            return True
        except asyncio.LimitOverrunError as exc:
            await reader.readexactly(exc.consumed)
        except asyncio.IncompleteReadError:
            return False


async def _skip_bytes(reader: asyncio.StreamReader, count: int) -> bool:
    while count > 0:
        chunk = await reader.read(min(count, _CHUNK))
        if not chunk:
            return False
        count -= len(chunk)
    return True


async def read_frames(
    reader: asyncio.StreamReader, max_frame: int = DEFAULT_MAX_FRAME
) -> AsyncIterator[bytes | FrameError]:
    """Yield each frame's body, or a FrameError for a frame that cannot be used. Ends at end of input."""
    while True:
        length: int | None = None
        problem: str | None = None
        seen_header = False
        while True:  # one header block
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                return
            except asyncio.LimitOverrunError:
                if not await _skip_line(reader):
                    return
                problem, seen_header = problem or "a header line is too long", True
                continue
            line = raw.rstrip(b"\r\n")
            if not line:
                if not seen_header:  # stray blank lines between messages are harmless
                    continue
                break
            seen_header = True
            if line.lstrip()[:1] in (b"{", b"["):
                # A bare JSON message: say at once how to frame it rather than wait for a header end.
                problem = "expected a 'Content-Length: N' header, got JSON: frame each message as 'Content-Length: N\\r\\n\\r\\n' + N bytes of JSON"
                length = None
                break
            name, colon, value = line.partition(b":")
            if not colon:
                problem = problem or f"malformed header line {line[:80]!r}"
                continue
            if name.strip().lower() == b"content-length":
                value = value.strip()
                if not value.isdigit() or len(value) > 18:
                    problem = problem or f"invalid Content-Length {value[:40]!r}"
                elif length is not None and int(value) != length:
                    problem = problem or "conflicting Content-Length headers"
                else:
                    length = int(value)
        if length is not None and length > max_frame:
            yield FrameError(
                f"frame of {length} bytes exceeds the limit of {max_frame} bytes; it was skipped"
            )
            if not await _skip_bytes(reader, length):
                return
            continue
        if length is None:
            yield FrameError(problem or "missing Content-Length header")
            continue
        try:
            body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return
        yield FrameError(problem) if problem else body


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


# --- stdio ---------------------------------------------------------------------------


def claim_stdio() -> tuple[int, int]:
    """Take fds 0 and 1 for the protocol; stray writes to stdout go to stderr instead.

    Children we start (``--version`` probes) then inherit /dev/null as stdin and
    stderr as stdout, so nothing can read our input or corrupt our output.
    """
    in_fd, out_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return in_fd, out_fd


async def open_reader(fd: int) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=HEADER_LINE_LIMIT, loop=loop)
    pipe = os.fdopen(fd, "rb", buffering=0)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
    except ValueError:  # a regular file: read it in a thread
        threading.Thread(
            target=_pump_file, args=(pipe, reader, loop), name="caw-stdin", daemon=True
        ).start()
    return reader


def _pump_file(
    pipe: io.FileIO, reader: asyncio.StreamReader, loop: asyncio.AbstractEventLoop
) -> None:
    try:
        while chunk := pipe.read(_CHUNK):
            loop.call_soon_threadsafe(reader.feed_data, chunk)
    except (OSError, ValueError):
        pass
    with contextlib.suppress(RuntimeError):  # the loop may be closed already
        loop.call_soon_threadsafe(reader.feed_eof)


class Writer:
    """pygls' writer interface over stdout: non-blocking on a pipe, blocking on a file."""

    def __init__(self, max_backlog: int = DEFAULT_MAX_BACKLOG) -> None:
        self._transport: asyncio.WriteTransport | None = None
        self._file: io.FileIO | None = None
        self.max_backlog = max_backlog
        self.closed = asyncio.Event()
        self.writable = asyncio.Event()  # clear while the backlog is over max_backlog
        self.writable.set()
        self.dropped = 0  # droppable messages dropped during the current backlog

    @classmethod
    async def open(cls, fd: int, max_backlog: int = DEFAULT_MAX_BACKLOG) -> Writer:
        writer = cls(max_backlog)
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(fd, "wb", buffering=0)
        try:
            transport, _ = await loop.connect_write_pipe(lambda: _FlowControl(writer), pipe)
        except ValueError:
            writer._file = pipe
        else:
            transport.set_write_buffer_limits(high=max_backlog, low=max_backlog // 2)
            writer._transport = transport
        return writer

    def write(self, data: bytes, *, droppable: bool = False) -> None:
        if self.closed.is_set():
            return
        if droppable and not self.writable.is_set():
            self.dropped += 1
            return
        if self._transport is not None:
            self._transport.write(data)
        elif self._file is not None:
            try:
                self._file.write(data)
            except OSError:
                self.closed.set()

    async def wait_writable(self) -> None:
        """Until the client has read enough of the backlog (or is gone)."""
        if self.writable.is_set():
            return
        waits = [
            asyncio.ensure_future(self.writable.wait()),
            asyncio.ensure_future(self.closed.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def aclose(self, timeout: float = 5.0) -> None:
        """Close once queued output has been written (a little while at most)."""
        if self._transport is not None and not self.closed.is_set():
            self._transport.close()  # writes what is queued, then connection_lost sets closed
            try:
                await asyncio.wait_for(self.closed.wait(), timeout)
            except asyncio.TimeoutError:
                self._transport.abort()
        self.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self.closed.set()


class _FlowControl(asyncio.Protocol):
    """asyncio calls these when the transport's buffer crosses its high and low marks."""

    def __init__(self, writer: Writer):
        self._writer = writer

    def pause_writing(self) -> None:
        self._writer.writable.clear()
        log.warning(
            "the client is not reading: over %d bytes wait for it; reading no requests and dropping updates until it does",
            self._writer.max_backlog,
        )

    def resume_writing(self) -> None:
        writer, dropped = self._writer, self._writer.dropped
        writer.dropped = 0
        writer.writable.set()
        # Logged once the transport is out of its callback: the log line goes to the client too.
        asyncio.get_running_loop().call_soon(
            log.warning,
            "the client reads again; %d updates and log lines were dropped meanwhile",
            dropped,
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._writer.closed.set()
        self._writer.writable.set()
