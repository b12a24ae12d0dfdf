"""The floor for claude: one warm ``claude -p`` fed stream-json on stdin, driven directly.

No caw code: this is what a minimal script of its own costs. The flags are the
ones caw's adapter uses (``--include-partial-messages`` so text streams as
deltas; permissions bypassed), so the two differ only in what caw adds.

    python bench/drivers/floor_claude.py     (then JSON lines, see _proto.py)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

from _proto import Deltas, die_with_parent, serve

FLAGS = [
    "-p", "--verbose",
    "--input-format", "stream-json",
    "--output-format", "stream-json",
    "--include-partial-messages",
    "--dangerously-skip-permissions",
]  # fmt: skip


class ClaudeFloor:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.key: str | None = None

    def op_open(self, resume: str | None = None) -> dict:
        started = time.monotonic()
        if resume:
            argv = ["claude", *FLAGS, "--resume", resume]
            self.key = resume
        else:
            self.key = str(uuid.uuid4())
            argv = ["claude", *FLAGS, "--session-id", self.key]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            preexec_fn=die_with_parent,
        )
        return {"seconds": time.monotonic() - started, "pid": self.proc.pid, "key": self.key}

    def op_turn(self, text: str) -> dict:
        assert (
            self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        )
        line = json.dumps({"type": "user", "message": {"role": "user", "content": text}}) + "\n"
        deltas = Deltas()
        started = time.monotonic()
        self.proc.stdin.write(line.encode())
        self.proc.stdin.flush()
        while True:
            raw = self.proc.stdout.readline()
            now = time.monotonic()
            if not raw:
                raise RuntimeError(f"claude ended during the turn (rc {self.proc.poll()})")
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            kind = msg.get("type")
            if kind == "stream_event":
                event = msg.get("event") or {}
                delta = event.get("delta") or {}
                if event.get("type") == "content_block_delta" and delta.get("type") == "text_delta":
                    deltas.add(delta.get("text") or "", now)
            elif kind == "result":
                if msg.get("is_error"):
                    raise RuntimeError(
                        f"claude reported an error: {msg.get('result') or msg.get('errors')}"
                    )
                return {
                    "seconds": now - started,
                    "t_send": started,
                    "text": msg.get("result") or "",
                    "deltas": deltas.points,
                }

    def op_close(self) -> dict:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # claude finishes writing its session file, then exits
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(5)
        self.proc = None
        return {}


if __name__ == "__main__":
    os.environ.pop("CLAUDECODE", None)
    serve(ClaudeFloor())
