"""A client that does not read the daemon's output must not grow the daemon's memory without bound."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading

import pytest

from caw_server.transport import Writer, frame


def _read_until(fd: int, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data


async def test_the_writer_drops_only_droppable_output_while_the_client_lags():
    read_fd, write_fd = os.pipe()
    writer = await Writer.open(write_fd, max_backlog=4096)
    try:
        writer.write(b"a" * 200_000)  # more than the pipe and the backlog hold
        assert not writer.writable.is_set()
        writer.write(b"<update>", droppable=True)
        writer.write(b"<answer>")  # answers are never dropped
        assert writer.dropped == 1
        data = await asyncio.to_thread(_read_until, read_fd, b"<answer>")
        assert (
            data.endswith(b"<answer>")
            and b"<update>" not in data
            and len(data) == 200_000 + len(b"<answer>")
        )
        await asyncio.wait_for(writer.wait_writable(), 30)
        assert writer.dropped == 0  # counted per backlog
        writer.write(b"<update>", droppable=True)
        assert await asyncio.to_thread(_read_until, read_fd, b"<update>") == b"<update>"
    finally:
        writer.close()
        os.close(read_fd)


def _frame(message: dict) -> bytes:
    return frame(json.dumps(message).encode())


def _read_message(stream) -> dict:
    length = None
    while True:
        raw = stream.readline()
        if not raw:
            raise EOFError("the daemon closed its output")
        line = raw.strip()
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        elif not line and length is not None:
            return json.loads(stream.read(length))


def _answer(stream, request_id: str, seen: list[dict]) -> dict:
    while (message := _read_message(stream)).get("id") != request_id:
        seen.append(message)
    return message


@pytest.mark.e2e
def test_a_client_that_does_not_read_misses_updates_but_not_the_answer(cli_env, scripted, tmp_path):
    words = [f"w{i}" for i in range(5000)]
    backlog = 64 * 1024  # the turn streams 5000 session/update notifications, about 0.6 MB
    proc = subprocess.Popen(
        [sys.executable, "-m", "caw_server", "--no-data-dir", "--max-backlog", str(backlog)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env("claude_code"), cwd=tmp_path,
        start_new_session=True,
    )  # fmt: skip
    assert proc.stdin and proc.stdout and proc.stderr
    stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr
    paused, ended, resumed = threading.Event(), threading.Event(), threading.Event()

    def watch_stderr() -> None:
        for line in stderr:
            if b"the client is not reading" in line:
                paused.set()
            elif re.search(rb"turn \d+ ended", line):
                ended.set()
            elif b"the client reads again" in line:
                resumed.set()

    threading.Thread(target=watch_stderr, daemon=True).start()
    try:
        seen: list[dict] = []
        stdin.write(
            _frame(
                {
                    "jsonrpc": "2.0",
                    "id": "start",
                    "method": "session/start",
                    "params": {"provider": "claude_code"},
                }
            )
        )
        stdin.flush()
        sid = _answer(stdout, "start", seen)["result"]["sessionId"]
        send = {"sessionId": sid, "message": "Repeat after me: " + " ".join(words)}
        stdin.write(
            _frame({"jsonrpc": "2.0", "id": "turn", "method": "session/send", "params": send})
        )
        stdin.flush()
        # Nothing is read while the whole turn streams.
        assert paused.wait(120), "the daemon did not notice that its client stopped reading"
        assert ended.wait(120)
        seen.clear()
        answer = _answer(stdout, "turn", seen)
        assert answer["result"]["turn"]["result"] == " ".join(words), "the answer is whole"
        streamed = [m["params"]["update"] for m in seen if m.get("method") == "session/update"]
        assert 0 < len(streamed) < len(words) / 2, "updates beyond the backlog were dropped"
        assert resumed.wait(30)
        stdin.close()
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
